// The authorizer chain of --authorization-mode (kube's union authorizer): system:masters first (authorizerfactory's
// privileged groups), then each mode in the order given; the first `allow` or `deny` decides, and when all have no
// opinion the answer is noOpinion with their reasons joined by "\n" (the end of a 403's message).
import { unionRules } from './rules-review.js';
import { ALLOW, privilegedGroups, SYSTEM_MASTERS, type Attributes, type AuthorizationResult, type Authorizer, type RuleResolver, type RulesResult, type UserInfo } from './types.js';

export const AUTHORIZATION_MODES = ['AlwaysAllow', 'AlwaysDeny', 'Node', 'RBAC'] as const;
export type AuthorizationMode = (typeof AUTHORIZATION_MODES)[number];

/** Parses --authorization-mode (comma-separated, each once, as kube-apiserver validates it). */
export function parseAuthorizationModes(values: readonly string[]): AuthorizationMode[] {
  const modes = values.flatMap((v) => v.split(',')).map((m) => m.trim()).filter(Boolean);
  if (modes.length === 0) throw new Error('--authorization-mode: at least one authorization mode must be passed');
  const seen = new Set<string>();
  for (const m of modes) {
    if (!(AUTHORIZATION_MODES as readonly string[]).includes(m)) throw new Error(`--authorization-mode: authorization-mode ${JSON.stringify(m)} is not a valid mode (${AUTHORIZATION_MODES.join(', ')})`);
    if (seen.has(m)) throw new Error(`--authorization-mode: authorization-mode ${JSON.stringify(m)} has mode specified more than once`);
    seen.add(m);
  }
  return modes as AuthorizationMode[];
}

const DENY: AuthorizationResult = Object.freeze({ decision: 'deny', reason: '' });

/** kube's AlwaysDeny. */
export const alwaysDeny: Authorizer & RuleResolver = {
  authorize: () => DENY,
  rulesFor: () => ({ resourceRules: [], nonResourceRules: [], incomplete: false, errors: [] }),
};

/** kube's AlwaysAllow (as a member of a union; alone, filters/authorization.ts's alwaysAllow skips the chain). */
export const allowAll: Authorizer & RuleResolver = {
  authorize: () => ALLOW,
  rulesFor: () => ({
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
    incomplete: false,
    errors: [],
  }),
};

/** The union of authorizers, in order. */
export class UnionAuthorizer implements Authorizer, RuleResolver {
  private readonly all: readonly Authorizer[];

  constructor(
    authorizers: readonly Authorizer[],
    private readonly resolvers: readonly RuleResolver[],
  ) {
    this.all = [privilegedGroups(SYSTEM_MASTERS), ...authorizers];
  }

  authorize(a: Attributes): AuthorizationResult {
    let reasons: string[] | undefined;
    for (let i = 0; i < this.all.length; i++) {
      const r = this.all[i]!.authorize(a);
      if (r.decision !== 'noOpinion') return r;
      if (r.reason) (reasons ??= []).push(r.reason);
    }
    return { decision: 'noOpinion', reason: reasons ? reasons.join('\n') : '' };
  }

  /** SelfSubjectRulesReview's answer: the union of the modes' rules (system:masters has its rules through RBAC's cluster-admin binding). */
  rulesFor(user: UserInfo, namespace: string): RulesResult {
    return unionRules(this.resolvers, user, namespace);
  }
}
