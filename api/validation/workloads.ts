// Rules for the workload kinds: apps/v1 Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision; core/v1
// ReplicationController (batch/v1 in batch.ts).
import type { LabelSelector } from '../schemas/meta.js';
import type { PodTemplateSpec, ReplicationController } from '../schemas/core.js';
import type { Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision } from '../schemas/apps.js';
import type { IntOrString } from '../schemas/kit.js';
import { GoStringMap, child, deepEqual, forbidden, immutable, invalid, nonNegative, notSupported, required, type Cause } from '../field.js';
import { isValidPercent, nameIsDNSSubdomain, validateLabels } from '../names.js';
import { isEmptySelector, matchesLabelSelector } from '../selectors.js';
import { validateLabelSelector } from './meta.js';
import { validatePodTemplateSpec } from './pod.js';
import { rules } from './rules.js';

/** Selector present, non-empty, valid, and matching the template's labels. */
export function validateSelectorAndTemplate(selector: LabelSelector | undefined, template: PodTemplateSpec | undefined, kind: string): Cause[] {
  const causes: Cause[] = [];
  if (!selector) causes.push(required('spec.selector'));
  else {
    causes.push(...validateLabelSelector(selector, 'spec.selector'));
    if (isEmptySelector(selector)) causes.push(invalid('spec.selector', selector, `empty selector is invalid for ${kind}`));
  }
  if (template) {
    const labels = template.metadata?.labels ?? {};
    if (selector && !isEmptySelector(selector) && !matchesLabelSelector(selector, labels)) {
      causes.push(invalid('spec.template.metadata.labels', new GoStringMap(labels), '`selector` does not match template `labels`'));
    }
  }
  return causes;
}

/** Templates of controllers that keep pods running: restartPolicy Always, no activeDeadlineSeconds. */
function validateRunningTemplate(template: PodTemplateSpec | undefined, kind: string): Cause[] {
  if (!template) return [required('spec.template')];
  const causes = validatePodTemplateSpec(template, 'spec.template');
  const policy = template.spec?.restartPolicy;
  if (policy !== undefined && policy !== 'Always') causes.push(notSupported('spec.template.spec.restartPolicy', policy, ['Always']));
  if (template.spec?.activeDeadlineSeconds !== undefined) {
    causes.push(forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return causes;
}

/** An int >= 0 or a percentage; returns the causes and the value as a number (percent of 100) or undefined. */
export function validateIntOrPercent(v: IntOrString | undefined, path: string): Cause[] {
  if (v === undefined) return [];
  if (typeof v === 'number') return nonNegative(v, path);
  const msgs = isValidPercent(v);
  if (msgs.length) return msgs.map((m) => invalid(path, v, m));
  return Number(v.slice(0, -1)) > 100 ? [invalid(path, v, 'must not be greater than 100%')] : [];
}

const isZero = (v: IntOrString | undefined): boolean => v === undefined || v === 0 || v === '0%';

function validateRollingUpdate(ru: { maxUnavailable?: IntOrString; maxSurge?: IntOrString } | undefined, path: string): Cause[] {
  if (!ru) return [];
  const causes = [...validateIntOrPercent(ru.maxUnavailable, child(path, 'maxUnavailable')), ...validateIntOrPercent(ru.maxSurge, child(path, 'maxSurge'))];
  if (!causes.length && ru.maxUnavailable !== undefined && isZero(ru.maxUnavailable) && isZero(ru.maxSurge)) {
    causes.push(invalid(child(path, 'maxUnavailable'), ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
  }
  return causes;
}

export const selectorImmutable = (next: LabelSelector | undefined, old: LabelSelector | undefined): Cause[] =>
  immutable(next, old, 'spec.selector');

export const deployment = rules<Deployment>({
  name: nameIsDNSSubdomain,
  validate: (d) => {
    const spec = d.spec;
    if (!spec) return [required('spec')];
    const causes = [
      ...nonNegative(spec.replicas, 'spec.replicas'),
      ...validateSelectorAndTemplate(spec.selector, spec.template, 'deployment'),
      ...validateRunningTemplate(spec.template, 'Deployment'),
      ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
      ...nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
      ...nonNegative(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds'),
    ];
    const strategy = spec.strategy;
    if (strategy?.type === 'Recreate' && strategy.rollingUpdate) {
      causes.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
    }
    causes.push(...validateRollingUpdate(strategy?.rollingUpdate, 'spec.strategy.rollingUpdate'));
    if (spec.progressDeadlineSeconds !== undefined && spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      causes.push(invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
    return causes;
  },
  validateUpdate: (d, old) => selectorImmutable(d.spec?.selector, old.spec?.selector),
});

/** status.*Replicas of a ReplicaSet or ReplicationController: non-negative, none above replicas, available <= ready. */
function validateReplicaCounts(st: ReplicaSet['status'] | ReplicationController['status']): Cause[] {
  if (!st) return [];
  const causes = [
    ...nonNegative(st.replicas, 'status.replicas'),
    ...nonNegative(st.fullyLabeledReplicas, 'status.fullyLabeledReplicas'),
    ...nonNegative(st.readyReplicas, 'status.readyReplicas'),
    ...nonNegative(st.availableReplicas, 'status.availableReplicas'),
    ...nonNegative(st.observedGeneration, 'status.observedGeneration'),
  ];
  const notAbove = (v: number | undefined, field: string, than: number, thanField: string): void => {
    if (v !== undefined && v > than) causes.push(invalid(field, v, `cannot be greater than ${thanField}`));
  };
  notAbove(st.fullyLabeledReplicas, 'status.fullyLabeledReplicas', st.replicas, 'status.replicas');
  notAbove(st.readyReplicas, 'status.readyReplicas', st.replicas, 'status.replicas');
  notAbove(st.availableReplicas, 'status.availableReplicas', st.replicas, 'status.replicas');
  notAbove(st.availableReplicas, 'status.availableReplicas', st.readyReplicas ?? 0, 'readyReplicas');
  return causes;
}

export const replicaSet = rules<ReplicaSet>({
  name: nameIsDNSSubdomain,
  validate: (rs) => {
    const spec = rs.spec;
    if (!spec) return [required('spec')];
    return [
      ...nonNegative(spec.replicas, 'spec.replicas'),
      ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
      ...validateSelectorAndTemplate(spec.selector, spec.template, 'deployment'),
      ...validateRunningTemplate(spec.template, 'ReplicaSet'),
    ];
  },
  validateUpdate: (rs, old) => selectorImmutable(rs.spec?.selector, old.spec?.selector),
  validateStatus: (rs) => validateReplicaCounts(rs.status),
});

/** ValidateReplicationController: an equality selector that is required and matches the template (mutable, unlike a ReplicaSet's). */
export const replicationController = rules<ReplicationController>({
  name: nameIsDNSSubdomain,
  validate: (rc) => {
    const spec = rc.spec ?? {};
    const selector = spec.selector ?? {};
    const causes = [...nonNegative(spec.replicas, 'spec.replicas'), ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds')];
    if (!Object.keys(selector).length) causes.push(required('spec.selector'));
    else causes.push(...validateLabels(selector, 'spec.selector'));
    const labels = spec.template?.metadata?.labels ?? {};
    if (spec.template && Object.entries(selector).some(([k, v]) => labels[k] !== v)) {
      causes.push(invalid('spec.template.metadata.labels', new GoStringMap(labels), '`selector` does not match template `labels`'));
    }
    causes.push(...validateRunningTemplate(spec.template, 'ReplicationController'));
    return causes;
  },
  validateStatus: (rc) => validateReplicaCounts(rc.status),
});

/** ValidateControllerRevision: a non-negative revision; the data is immutable (ValidateControllerRevisionUpdate). */
export const controllerRevision = rules<ControllerRevision>({
  name: nameIsDNSSubdomain,
  validate: (cr) => nonNegative(cr.revision, 'revision'),
  validateUpdate: (cr, old) => immutable(cr.data, old.data, 'data'),
});

export const daemonSet = rules<DaemonSet>({
  name: nameIsDNSSubdomain,
  validate: (ds) => {
    const spec = ds.spec;
    if (!spec) return [required('spec')];
    const causes = [
      ...validateSelectorAndTemplate(spec.selector, spec.template, 'daemonset'),
      ...validateRunningTemplate(spec.template, 'DaemonSet'),
      ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
      ...nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
    ];
    const us = spec.updateStrategy;
    if (us?.type === 'OnDelete' && us.rollingUpdate) {
      causes.push(forbidden('spec.updateStrategy.rollingUpdate', "may not be specified when strategy `type` is 'OnDelete'"));
    }
    causes.push(...validateRollingUpdate(us?.rollingUpdate, 'spec.updateStrategy.rollingUpdate'));
    return causes;
  },
  validateUpdate: (ds, old) => selectorImmutable(ds.spec?.selector, old.spec?.selector),
});

const STS_MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'] as const;

/**
 * The template as its pods get it: each volumeClaimTemplate the template has no volume for becomes a claim volume, so
 * that volumeMounts may name claim templates (kube skips the template's volume checks for StatefulSets altogether).
 */
function withClaimVolumes(spec: NonNullable<StatefulSet['spec']>): PodTemplateSpec | undefined {
  const t = spec.template;
  if (!t?.spec || !spec.volumeClaimTemplates?.length) return t;
  const have = new Set((t.spec.volumes ?? []).map((v) => v.name));
  const extra = spec.volumeClaimTemplates.map((c) => c.metadata?.name ?? '').filter((n) => n && !have.has(n));
  return { ...t, spec: { ...t.spec, volumes: [...(t.spec.volumes ?? []), ...extra.map((name) => ({ name, persistentVolumeClaim: { claimName: name } }))] } };
}

export const statefulSet = rules<StatefulSet>({
  name: nameIsDNSSubdomain,
  validate: (ss) => {
    const spec = ss.spec;
    if (!spec) return [required('spec')];
    const causes = [
      ...nonNegative(spec.replicas, 'spec.replicas'),
      ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
      ...nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
      ...validateSelectorAndTemplate(spec.selector, spec.template, 'statefulset'),
      ...validateRunningTemplate(withClaimVolumes(spec), 'StatefulSet'),
      ...nonNegative(spec.ordinals?.start, 'spec.ordinals.start'),
    ];
    const us = spec.updateStrategy;
    if (us?.type === 'OnDelete' && us.rollingUpdate) {
      causes.push(forbidden('spec.updateStrategy.rollingUpdate', "only allowed for updateStrategy 'RollingUpdate'"));
    }
    causes.push(...nonNegative(us?.rollingUpdate?.partition, 'spec.updateStrategy.rollingUpdate.partition'));
    const mu = us?.rollingUpdate?.maxUnavailable;
    if (mu !== undefined) {
      causes.push(...validateIntOrPercent(mu, 'spec.updateStrategy.rollingUpdate.maxUnavailable'));
      if (isZero(mu)) causes.push(invalid('spec.updateStrategy.rollingUpdate.maxUnavailable', mu, 'must be greater than 0'));
    }
    return causes;
  },
  validateUpdate: (ss, old) => {
    const strip = (spec: StatefulSet['spec']) => {
      const s = { ...spec } as Record<string, unknown>;
      for (const k of STS_MUTABLE) delete s[k];
      return s;
    };
    if (deepEqual(strip(ss.spec), strip(old.spec))) return [];
    return [
      forbidden(
        'spec',
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', " +
          "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      ),
    ];
  },
});
