// What SelfSubjectRulesReview answers (`kubectl auth can-i --list`): the union of every authorizer's rules for a user in
// a namespace (kube's unionAuthzRulesHandler), incomplete if any says so, the errors joined as evaluationError.
import { aggregate } from './rbac/authorizer.js';
import type { RuleResolver, RulesResult, UserInfo } from './types.js';

export function unionRules(resolvers: readonly RuleResolver[], user: UserInfo, namespace: string): RulesResult {
  const out: RulesResult = { resourceRules: [], nonResourceRules: [], incomplete: false, errors: [] };
  for (const r of resolvers) {
    const got = r.rulesFor(user, namespace);
    out.resourceRules.push(...got.resourceRules);
    out.nonResourceRules.push(...got.nonResourceRules);
    out.incomplete ||= got.incomplete;
    out.errors.push(...got.errors);
  }
  return out;
}

/** The review's status object (authorization.k8s.io/v1 SubjectRulesReviewStatus). */
export function rulesReviewStatus(r: RulesResult): Record<string, unknown> {
  return {
    resourceRules: r.resourceRules,
    nonResourceRules: r.nonResourceRules,
    incomplete: r.incomplete,
    ...(r.errors.length ? { evaluationError: aggregate(r.errors) } : {}),
  };
}
