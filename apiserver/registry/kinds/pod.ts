// Pods: status starts Pending with the QoS class; deletion is graceful once a node runs the pod.
import { podQOSClass, type Pod, type ResourceInfo } from '../../../api/index.js';
import { isObject } from '../object.js';
import { defaultStrategy, type Strategy } from '../strategy.js';
import { bindingStorage } from '../subresources/binding.js';
import { evictionStorage } from '../subresources/eviction.js';

export function podStrategy(info: ResourceInfo): Strategy {
  const base = defaultStrategy(info);
  return defaultStrategy(info, {
    returnDeletedObject: true,
    tracksGeneration: false,
    subresources: { binding: bindingStorage, eviction: evictionStorage },
    selectableFields: [
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
    fields(obj) {
      const spec = isObject(obj.spec) ? obj.spec : {};
      const status = isObject(obj.status) ? obj.status : {};
      const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
      return {
        'spec.nodeName': s(spec.nodeName),
        'spec.restartPolicy': s(spec.restartPolicy),
        'spec.schedulerName': s(spec.schedulerName),
        'spec.serviceAccountName': s(spec.serviceAccountName),
        'spec.hostNetwork': String(spec.hostNetwork === true),
        'status.phase': s(status.phase),
        'status.podIP': s(status.podIP),
        'status.nominatedNodeName': s(status.nominatedNodeName),
      };
    },
    prepareForCreate(obj) {
      obj.status = { phase: 'Pending', qosClass: podQOSClass(obj as unknown as Pod) };
    },
    prepareForUpdate(obj, old) {
      base.prepareForUpdate(obj, old);
      // Priority admission set these on create; an update that leaves them out keeps them (as its Update branch does).
      if (isObject(obj.spec) && isObject(old.spec)) {
        for (const k of ['priority', 'preemptionPolicy'] as const) if (obj.spec[k] === undefined && old.spec[k] !== undefined) obj.spec[k] = old.spec[k];
      }
    },
    gracePeriod(obj, opts) {
      const spec = isObject(obj.spec) ? obj.spec : {};
      const phase = isObject(obj.status) ? obj.status.phase : undefined;
      // An unscheduled or finished pod has nothing running: no node agent would ever finish its deletion.
      if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
      if (opts.gracePeriodSeconds !== undefined) return Math.max(0, opts.gracePeriodSeconds);
      const t = spec.terminationGracePeriodSeconds;
      return typeof t === 'number' && t >= 0 ? t : 30;
    },
  });
}
