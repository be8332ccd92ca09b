// Matching a failed pod against a Job's podFailurePolicy and the succeeded indexes against its successPolicy
// (kube's pod_failure_policy.go and success_policy.go).
import { parseIndexes, totalIndexes, type Intervals } from '../../api/indexes.js';
import type { ContainerStatus, Pod } from '../../api/index.js';
import type { PodFailurePolicy, SuccessPolicy } from './types.js';

export type FailureAction = 'FailJob' | 'FailIndex' | 'Ignore' | 'Count';

export interface PolicyMatch {
  /** Set when a FailJob rule matched: the reason the Job fails. */
  failJobMessage?: string;
  /** Whether the failure counts towards backoffLimit (and backoffLimitPerIndex): false for Ignore. */
  countFailed: boolean;
  /** The action of the rule that matched, if any. */
  action?: FailureAction;
}

type ExitCodes = NonNullable<PodFailurePolicy['rules'][number]['onExitCodes']>;

/** The first terminated container (app containers, then init) whose non-zero exit code meets the requirement. */
function matchExitCodes(pod: Pod, req: ExitCodes): ContainerStatus | undefined {
  const matches = (cs: ContainerStatus): boolean => {
    const code = cs.state?.terminated?.exitCode;
    if (code === undefined || code === 0) return false;
    if (req.containerName !== undefined && req.containerName !== cs.name) return false;
    if (req.operator === 'In') return req.values.includes(code);
    if (req.operator === 'NotIn') return !req.values.includes(code);
    return false;
  };
  return pod.status?.containerStatuses?.find(matches) ?? pod.status?.initContainerStatuses?.find(matches);
}

/** The rules in order; the first that matches decides. A pod matching none counts as a failure. */
export function matchPodFailurePolicy(policy: PodFailurePolicy | undefined, pod: Pod): PolicyMatch {
  if (!policy) return { countFailed: true };
  const ns = pod.metadata.namespace ?? '';
  const name = pod.metadata.name ?? '';
  for (const [i, rule] of policy.rules.entries()) {
    let what: string | undefined;
    if (rule.onExitCodes) {
      const cs = matchExitCodes(pod, rule.onExitCodes);
      if (cs) what = `Container ${cs.name} for pod ${ns}/${name} failed with exit code ${cs.state?.terminated?.exitCode ?? 0} matching ${rule.action} rule at index ${i}`;
    } else if (rule.onPodConditions) {
      const cond = pod.status?.conditions?.find((c) => rule.onPodConditions!.some((p) => p.type === c.type && (p.status ?? 'True') === c.status));
      if (cond) what = `Pod ${ns}/${name} has condition ${cond.type} matching ${rule.action} rule at index ${i}`;
    }
    if (what === undefined) continue;
    switch (rule.action) {
      case 'Ignore':
        return { countFailed: false, action: 'Ignore' };
      case 'FailIndex':
        return { countFailed: true, action: 'FailIndex' };
      case 'Count':
        return { countFailed: true, action: 'Count' };
      case 'FailJob':
        return { failJobMessage: what, countFailed: true, action: 'FailJob' };
      default:
        continue; // an action this version does not know: as kube, the next rule decides
    }
  }
  return { countFailed: true };
}

/** Whether the rule's indexes are all succeeded, or at least succeededCount of them. */
function matchSucceededIndexesRule(rule: Intervals, succeeded: Intervals, succeededCount: number | undefined): boolean {
  let contains = 0;
  let r = 0;
  let s = 0;
  while (r < rule.length && s < succeeded.length) {
    const overlap = Math.min(rule[r]!.last, succeeded[s]!.last) - Math.max(rule[r]!.first, succeeded[s]!.first) + 1;
    if (overlap > 0) contains += overlap;
    if (succeeded[s]!.last < rule[r]!.last) s++;
    else if (succeeded[s]!.last > rule[r]!.last) r++;
    else {
      s++;
      r++;
    }
  }
  return contains === totalIndexes(rule) || (succeededCount !== undefined && contains >= succeededCount);
}

/** The SuccessCriteriaMet message ("Matched rules at index N") when a rule is met, else undefined. */
export function matchSuccessPolicy(policy: SuccessPolicy | undefined, completions: number, succeeded: Intervals): string | undefined {
  if (!policy || succeeded.length === 0) return undefined;
  for (const [i, rule] of policy.rules.entries()) {
    if (rule.succeededIndexes !== undefined) {
      const required = parseIndexes(rule.succeededIndexes, completions);
      if (required.length === 0) continue;
      if (matchSucceededIndexesRule(required, succeeded, rule.succeededCount)) return `Matched rules at index ${i}`;
    } else if (rule.succeededCount !== undefined && totalIndexes(succeeded) >= rule.succeededCount) return `Matched rules at index ${i}`;
  }
  return undefined;
}
