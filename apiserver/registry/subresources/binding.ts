// pods/binding (kube's BindingREST): a Binding assigns a pod to a node, once, and marks it PodScheduled; what the
// scheduler writes to bind.
import { errors } from '../../../api/errors.js';
import { isObject, rfc3339 } from '../object.js';
import type { SubresourceFactory } from '../rest.js';

export const bindingStorage: SubresourceFactory = (parent, { clock }) => ({
  bodies: 'json',
  async create(namespace, name, binding, opts) {
    const target = isObject(binding) && isObject(binding.target) ? binding.target : undefined;
    const node = target && typeof target.name === 'string' ? target.name : '';
    if (!node) throw errors.invalid('Binding', '', name, [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]);
    const { info } = parent;
    const ref = { group: info.group, resource: info.resource, name };
    await parent.update(
      namespace,
      name,
      (cur) => {
        if (!cur) throw errors.notFound(ref);
        const spec = isObject(cur.spec) ? cur.spec : {};
        if (cur.metadata.deletionTimestamp) throw errors.conflict(ref, `pod ${name} is being deleted, cannot be assigned to a host`);
        if (spec.nodeName) throw errors.conflict(ref, `pod ${name} is already assigned to node "${String(spec.nodeName)}"`);
        const status = isObject(cur.status) ? cur.status : {};
        const conditions = (Array.isArray(status.conditions) ? status.conditions.filter(isObject) : []).filter((c) => c.type !== 'PodScheduled');
        conditions.push({ type: 'PodScheduled', status: 'True', lastTransitionTime: rfc3339(clock.now()) });
        return { ...cur, spec: { ...spec, nodeName: node }, status: { ...status, conditions } };
      },
      // Not being deleted and not bound only ever become false: a stale state passes them no more than the current one.
      { dryRun: opts.dryRun, subresource: 'binding', currentReadOnly: true, seenAt: 0, scope: opts.scope },
    );
  },
});
