// Rules for batch/v1: Job and CronJob (pkg/apis/batch/validation), with kube's field paths and wording.
import type { CronJob, Job, JobSpec, PodFailurePolicyRule, SuccessPolicy } from '../schemas/batch.js';
import { CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL } from '../defaults.js';
import { child, GoStringMap, duplicate, forbidden, immutable, index, invalid, nonNegative, notSupported, required, tooLong, tooMany, type Cause } from '../field.js';
import { validateIndexesFormat } from '../indexes.js';
import { isDNS1123Subdomain, nameIsDNSSubdomain, validateAnnotations, validateLabels, validateQualifiedName, maskTrailingDash, type NameValidator } from '../names.js';
import { matchesLabelSelector } from '../selectors.js';
import { isKnownTimeZone, parseSchedule, scheduleHasTimeZone } from '../schedule.js';
import { validatePodTemplateSpec } from './pod.js';
import { rules } from './rules.js';
import { selectorImmutable, validateSelectorAndTemplate } from './workloads.js';

/** The most indexes an Indexed Job may run at once, or track per index (kube's maxParallelismForIndexedJob etc.). */
const MAX_INDEXED = 100_000;
const MAX_POD_FAILURE_POLICY_RULES = 20;
const MAX_ON_EXIT_CODE_VALUES = 255;
const MAX_ON_POD_CONDITIONS = 20;
const MAX_SUCCESS_POLICY_RULES = 20;
/** A CronJob's name leaves room for the "-<minutes since epoch>" suffix of its Jobs (DNS-1035 label max minus 11). */
const MAX_CRONJOB_NAME = 52;
const ACTIONS = ['Count', 'FailIndex', 'FailJob', 'Ignore'] as const;
const JOB_CONTROLLER = 'kubernetes.io/job-controller';

function validatePodFailurePolicyRule(spec: JobSpec, rule: PodFailurePolicyRule, path: string, containerNames: Set<string>): Cause[] {
  const causes: Cause[] = [];
  const actionPath = child(path, 'action');
  if (!rule.action) causes.push(required(actionPath, `valid values: ${JSON.stringify(ACTIONS)}`));
  else if (rule.action === 'FailIndex' && spec.backoffLimitPerIndex === undefined) causes.push(forbidden(actionPath, 'requires the backoffLimitPerIndex to be set'));
  else if (!(ACTIONS as readonly string[]).includes(rule.action)) causes.push(notSupported(actionPath, rule.action, ACTIONS));
  const codes = rule.onExitCodes;
  const conds = rule.onPodConditions;
  if (codes && conds) causes.push(invalid(path, '', 'specifying both OnExitCodes and OnPodConditions is not supported'));
  else if (!codes && !conds?.length) causes.push(invalid(path, '', 'specifying one of OnExitCodes and OnPodConditions is required'));
  if (codes) {
    const p = child(path, 'onExitCodes');
    if (codes.operator !== 'In' && codes.operator !== 'NotIn') causes.push(notSupported(child(p, 'operator'), codes.operator, ['In', 'NotIn']));
    if (codes.containerName !== undefined && !containerNames.has(codes.containerName)) {
      causes.push(invalid(child(p, 'containerName'), codes.containerName, 'must be one of the container or initContainer names in the pod template'));
    }
    const vp = child(p, 'values');
    if (codes.values.length === 0) causes.push(required(vp, 'at least one value is required'));
    else if (codes.values.length > MAX_ON_EXIT_CODE_VALUES) causes.push(tooMany(vp, codes.values.length, MAX_ON_EXIT_CODE_VALUES));
    const seen = new Set<number>();
    codes.values.forEach((v, i) => {
      if (codes.operator === 'In' && v === 0) causes.push(invalid(index(vp, i), v, 'must not be 0 for the In operator'));
      if (seen.has(v)) causes.push(duplicate(index(vp, i), v));
      else if (i > 0 && codes.values[i - 1]! > v) causes.push(invalid(index(vp, i), v, 'must be ordered'));
      seen.add(v);
    });
  }
  if (conds) {
    const p = child(path, 'onPodConditions');
    if (conds.length > MAX_ON_POD_CONDITIONS) causes.push(tooMany(p, conds.length, MAX_ON_POD_CONDITIONS));
    conds.forEach((c, i) => {
      const status = c.status ?? 'True';
      if (!['True', 'False', 'Unknown'].includes(status)) causes.push(notSupported(child(index(p, i), 'status'), status, ['True', 'False', 'Unknown']));
      causes.push(...validateQualifiedName(c.type, child(index(p, i), 'type')));
    });
  }
  return causes;
}

function validateSuccessPolicy(spec: JobSpec, policy: SuccessPolicy, path: string): Cause[] {
  if (spec.completionMode !== 'Indexed') return [invalid(path, policy, 'requires indexed completion mode')];
  const rp = child(path, 'rules');
  if (policy.rules.length === 0) return [required(rp, 'at least one rules must be specified when the successPolicy is specified')];
  if (policy.rules.length > MAX_SUCCESS_POLICY_RULES) return [tooMany(rp, policy.rules.length, MAX_SUCCESS_POLICY_RULES)];
  const completions = spec.completions ?? 0;
  const causes: Cause[] = [];
  policy.rules.forEach((rule, i) => {
    const p = index(rp, i);
    if (rule.succeededIndexes === undefined && rule.succeededCount === undefined) {
      causes.push(required(p, 'at least one of succeededCount or succeededIndexes must be specified'));
    }
    let total: number | undefined;
    if (rule.succeededIndexes !== undefined) {
      const r = validateIndexesFormat(rule.succeededIndexes, completions);
      if ('error' in r) causes.push(invalid(child(p, 'succeededIndexes'), rule.succeededIndexes, `error parsing succeededIndexes: ${r.error}`));
      else total = r.total;
    }
    const count = rule.succeededCount;
    if (count === undefined) return;
    const cp = child(p, 'succeededCount');
    if (count < 0) causes.push(invalid(cp, count, 'must be greater than or equal to 0'));
    else if (count > completions) causes.push(invalid(cp, count, `must be less than or equal to ${completions} (the number of specified completions)`));
    else if (total !== undefined && count > total) causes.push(invalid(cp, count, `must be less than or equal to ${total} (the number of indexes in the specified succeededIndexes field)`));
  });
  return causes;
}

/** The indexed-mode limits and per-index backoff fields (validateJobSpec). */
function validateCompletionMode(spec: JobSpec, path: string): Cause[] {
  const causes: Cause[] = [];
  const indexed = spec.completionMode === 'Indexed';
  if (spec.backoffLimitPerIndex !== undefined) {
    causes.push(...nonNegative(spec.backoffLimitPerIndex, child(path, 'backoffLimitPerIndex')));
    if (!indexed) causes.push(forbidden(child(path, 'backoffLimitPerIndex'), 'requires indexed completion mode'));
  }
  const mfi = spec.maxFailedIndexes;
  if (mfi !== undefined) {
    const p = child(path, 'maxFailedIndexes');
    causes.push(...nonNegative(mfi, p));
    if (spec.backoffLimitPerIndex === undefined) causes.push(required(child(path, 'backoffLimitPerIndex'), 'when maxFailedIndexes is specified'));
    if (indexed && spec.completions !== undefined && mfi > spec.completions) causes.push(invalid(p, mfi, 'must be less than or equal to completions'));
    if (mfi > MAX_INDEXED) causes.push(invalid(p, mfi, `must be less than or equal to ${MAX_INDEXED}`));
  }
  if (!indexed) return causes;
  if (spec.completions === undefined) causes.push(required(child(path, 'completions'), 'when completion mode is Indexed'));
  if ((spec.parallelism ?? 0) > MAX_INDEXED) {
    causes.push(invalid(child(path, 'parallelism'), spec.parallelism, `must be less than or equal to ${MAX_INDEXED} when completion mode is Indexed`));
  }
  if (spec.backoffLimitPerIndex !== undefined && (spec.completions ?? 0) > MAX_INDEXED) {
    causes.push(invalid(child(path, 'completions'), spec.completions, `must be less than or equal to ${MAX_INDEXED} when backoffLimitPerIndex is specified`));
  }
  return causes;
}

/** A controller name: a domain-prefixed path of at most 63 characters, e.g. "acme.io/foo". */
function validateManagedBy(v: string, path: string): Cause[] {
  if (v.length > 63) return [tooLong(path, 63)];
  const slash = v.indexOf('/');
  const ok = slash > 0 && slash < v.length - 1 && isDNS1123Subdomain(v.slice(0, slash)).length === 0 && /^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(v.slice(slash + 1));
  return ok ? [] : [invalid(path, v, 'must be a domain-prefixed path (such as "acme.io/foo")')];
}

/** validateJobSpec: everything but the selector (a CronJob's template has none). */
function validateJobSpec(spec: JobSpec, path: string): Cause[] {
  const causes = [
    ...nonNegative(spec.parallelism, child(path, 'parallelism')),
    ...nonNegative(spec.completions, child(path, 'completions')),
    ...nonNegative(spec.activeDeadlineSeconds, child(path, 'activeDeadlineSeconds')),
    ...nonNegative(spec.backoffLimit, child(path, 'backoffLimit')),
    ...nonNegative(spec.ttlSecondsAfterFinished, child(path, 'ttlSecondsAfterFinished')),
    ...validateCompletionMode(spec, path),
  ];
  if (spec.managedBy !== undefined && spec.managedBy !== JOB_CONTROLLER) causes.push(...validateManagedBy(spec.managedBy, child(path, 'managedBy')));
  const tp = child(path, 'template');
  if (!spec.template) causes.push(required(tp));
  else {
    causes.push(...validatePodTemplateSpec(spec.template, tp));
    const policy = spec.template.spec?.restartPolicy;
    if (policy !== 'OnFailure' && policy !== 'Never') causes.push(notSupported(child(tp, 'spec', 'restartPolicy'), policy ?? '', ['OnFailure', 'Never']));
  }
  const pfp = spec.podFailurePolicy;
  if (pfp) {
    const p = child(path, 'podFailurePolicy');
    if (spec.template?.spec?.restartPolicy !== 'Never') {
      causes.push(invalid(child(tp, 'spec', 'restartPolicy'), spec.template?.spec?.restartPolicy ?? '', 'only "Never" is supported when podFailurePolicy is specified'));
    }
    if (pfp.rules.length > MAX_POD_FAILURE_POLICY_RULES) causes.push(tooMany(child(p, 'rules'), pfp.rules.length, MAX_POD_FAILURE_POLICY_RULES));
    const names = new Set([...(spec.template?.spec?.initContainers ?? []), ...(spec.template?.spec?.containers ?? [])].map((c) => c.name));
    pfp.rules.forEach((r, i) => causes.push(...validatePodFailurePolicyRule(spec, r, index(child(p, 'rules'), i), names)));
  }
  if (spec.successPolicy) causes.push(...validateSuccessPolicy(spec, spec.successPolicy, child(path, 'successPolicy')));
  const prp = spec.podReplacementPolicy;
  if (prp !== undefined && pfp && prp !== 'Failed') causes.push(notSupported(child(path, 'podReplacementPolicy'), prp, ['Failed']));
  return causes;
}

/** ValidateJobSpecUpdate: what may not change once a Job exists. */
function validateJobSpecUpdate(j: JobSpec, old: JobSpec, oldStarted: boolean): Cause[] {
  const causes = [
    ...selectorImmutable(j.selector, old.selector),
    ...immutable(j.completionMode, old.completionMode, 'spec.completionMode'),
    ...immutable(j.podFailurePolicy, old.podFailurePolicy, 'spec.podFailurePolicy'),
    ...immutable(j.backoffLimitPerIndex, old.backoffLimitPerIndex, 'spec.backoffLimitPerIndex'),
    ...immutable(j.successPolicy, old.successPolicy, 'spec.successPolicy'),
    ...immutable(j.managedBy, old.managedBy, 'spec.managedBy'),
  ];
  if (j.completions !== old.completions) {
    // Elastic Indexed Jobs: completions may change together with parallelism, kept equal.
    if (j.completionMode !== 'Indexed') causes.push(invalid('spec.completions', j.completions, 'field is immutable'));
    else if (j.completions !== j.parallelism || old.completions !== old.parallelism) {
      causes.push(invalid('spec.completions', j.completions, 'can only be modified in tandem with spec.parallelism'));
    }
  }
  // A suspended Job that never started may change its template (kube allows the scheduling directives).
  if (!(old.suspend === true && !oldStarted)) causes.push(...immutable(j.template, old.template, 'spec.template'));
  return causes;
}

/** Without manualSelector, the pods carry the Job's uid and name and the selector picks the uid (validateGeneratedSelector). */
function validateGeneratedSelector(j: Job): Cause[] {
  const uid = j.metadata.uid;
  const labels = j.spec.template?.metadata?.labels;
  if (j.spec.manualSelector === true || !uid || !labels) return [];
  const causes: Cause[] = [];
  const want: Array<[string, string]> = [[LEGACY_CONTROLLER_UID_LABEL, uid], [LEGACY_JOB_NAME_LABEL, j.metadata.name ?? ''], [CONTROLLER_UID_LABEL, uid], [JOB_NAME_LABEL, j.metadata.name ?? '']];
  for (const [k, v] of want) {
    const path = `spec.template.metadata.labels[${k}]`;
    if (labels[k] === undefined) causes.push(required(path, `must be '${v}'`));
    else if (labels[k] !== v) causes.push(invalid(path, new GoStringMap(labels), `must be '${v}'`));
  }
  if (j.spec.selector && !matchesLabelSelector(j.spec.selector, { [CONTROLLER_UID_LABEL]: uid })) causes.push(invalid('spec.selector', j.spec.selector, '`selector` not auto-generated'));
  return causes;
}

export const job = rules<Job>({
  name: nameIsDNSSubdomain,
  validate: (j) => {
    if (!j.spec) return [required('spec')];
    return [...validateJobSpec(j.spec, 'spec'), ...validateSelectorAndTemplate(j.spec.selector, j.spec.template, 'job'), ...validateGeneratedSelector(j)];
  },
  validateUpdate: (j, old) => validateJobSpecUpdate(j.spec, old.spec, !!old.status?.startTime),
  validateStatus: (j) => {
    const st = j.status;
    if (!st) return [];
    const causes: Cause[] = [];
    for (const f of ['active', 'succeeded', 'failed', 'ready', 'terminating'] as const) causes.push(...nonNegative(st[f], `status.${f}`));
    return causes;
  },
});

const cronJobName: NameValidator = (name, prefix) => {
  const msgs = isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
  if (name.length > MAX_CRONJOB_NAME) msgs.push(`must be no more than ${MAX_CRONJOB_NAME} characters`);
  return msgs;
};

function validateSchedule(schedule: string, timeZone: string | undefined): Cause[] {
  const p = 'spec.schedule';
  if (schedule === '') return [required(p)];
  const causes: Cause[] = [];
  try {
    parseSchedule(schedule);
  } catch (err) {
    causes.push(invalid(p, schedule, err instanceof Error ? err.message : String(err)));
  }
  // kube lets only CronJobs stored before spec.timeZone existed keep a TZ prefix; none here are that old.
  if (timeZone !== undefined && scheduleHasTimeZone(schedule)) causes.push(invalid(p, schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'));
  else if (scheduleHasTimeZone(schedule)) causes.push(invalid(p, schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
  return causes;
}

function validateTimeZone(tz: string | undefined): Cause[] {
  const p = 'spec.timeZone';
  if (tz === undefined) return [];
  if (tz === '') return [invalid(p, tz, 'timeZone must be nil or non-empty string')];
  if (tz.toLowerCase() === 'local') return [invalid(p, tz, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones')];
  if (!/^[A-Za-z.\-_0-9+/]+$/.test(tz) || !isKnownTimeZone(tz)) return [invalid(p, tz, `unknown time zone ${tz}`)];
  return [];
}

function validateCronJob(cj: CronJob): Cause[] {
  const spec = cj.spec;
  if (!spec) return [required('spec')];
  const causes = [
    ...validateSchedule(spec.schedule ?? '', spec.timeZone),
    ...validateTimeZone(spec.timeZone),
    ...nonNegative(spec.startingDeadlineSeconds, 'spec.startingDeadlineSeconds'),
    ...nonNegative(spec.successfulJobsHistoryLimit, 'spec.successfulJobsHistoryLimit'),
    ...nonNegative(spec.failedJobsHistoryLimit, 'spec.failedJobsHistoryLimit'),
  ];
  if (!spec.concurrencyPolicy) causes.push(required('spec.concurrencyPolicy'));
  const jt = spec.jobTemplate;
  causes.push(...validateLabels(jt?.metadata?.labels, 'spec.jobTemplate.metadata.labels'));
  causes.push(...validateAnnotations(jt?.metadata?.annotations, 'spec.jobTemplate.metadata.annotations'));
  if (!jt?.spec) causes.push(required('spec.jobTemplate.spec'));
  else {
    causes.push(...validateJobSpec(jt.spec, 'spec.jobTemplate.spec'));
    if (jt.spec.manualSelector === true) causes.push(notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
  }
  return causes;
}

export const cronJob = rules<CronJob>({
  name: cronJobName,
  validate: validateCronJob,
});
