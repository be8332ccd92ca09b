// The vocabulary shared by the authorizers in this folder: kube's authorizer.Attributes, decisions, rule listings
// (for SelfSubjectRulesReview) and the attributes an admission check sees.
import type { KubeObject } from '../../api/schemas/meta.js';

export interface UserInfo {
  name: string;
  uid?: string;
  groups: readonly string[];
  extra?: Readonly<Record<string, readonly string[]>>;
}

/** What is asked: a resource request (verb on group/resource[/subresource] [name] [in namespace]) or a path. */
export interface Attributes {
  user: UserInfo;
  verb: string;
  /** '' for cluster-wide requests and cluster-scoped resources. */
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  /** '' for collections; for list/watch the name a `metadata.name=` field selector pins, as kube-apiserver sets it. */
  name: string;
  /** The request path, for non-resource requests. */
  path: string;
  resourceRequest: boolean;
  /** The raw fieldSelector of a list/watch/deletecollection (the Node authorizer reads `spec.nodeName=`). */
  fieldSelector?: string;
}

export type Decision = 'allow' | 'deny' | 'noOpinion';

export interface AuthorizationResult {
  readonly decision: Decision;
  /** Why; shown in 403 messages and access reviews. May be '' when there is nothing to say. */
  readonly reason: string;
}

export const NO_OPINION: AuthorizationResult = Object.freeze({ decision: 'noOpinion', reason: '' });
export const noOpinion = (reason: string): AuthorizationResult => ({ decision: 'noOpinion', reason });
export const ALLOW: AuthorizationResult = Object.freeze({ decision: 'allow', reason: '' });

/** Synchronous: every decision here comes from memory. A chain with async authorizers awaits the result as is. */
export interface Authorizer {
  authorize(attrs: Attributes): AuthorizationResult;
}

export interface ResourceRuleInfo {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
}

export interface NonResourceRuleInfo {
  verbs: string[];
  nonResourceURLs: string[];
}

/** A user's rules in a namespace, as authorizer.RuleResolver answers (SelfSubjectRulesReview, `kubectl auth can-i --list`). */
export interface RulesResult {
  resourceRules: ResourceRuleInfo[];
  nonResourceRules: NonResourceRuleInfo[];
  /** The listing may miss rules (the Node authorizer cannot enumerate a node's). */
  incomplete: boolean;
  /** Resolution problems (a binding to a missing role); the rules found still hold. */
  errors: string[];
}

export interface RuleResolver {
  rulesFor(user: UserInfo, namespace: string): RulesResult;
}

/** What admission checks here see of a write (kube's admission.Attributes). */
export interface AdmissionRequest {
  user: UserInfo;
  operation: 'create' | 'update' | 'delete';
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  /** The object's name (from the URL, or the body's on create). */
  name: string;
  /** The new object (create, update); for subresources the body (an Eviction, a TokenRequest). */
  obj?: KubeObject;
  /** The stored object (update, delete). */
  old?: KubeObject;
}

export type AdmissionCheck = (req: AdmissionRequest) => Promise<void>;

/** kube's user.SystemPrivilegedGroup: members pass every escalation check. */
export const SYSTEM_MASTERS = 'system:masters';

/** kube's authorizerfactory.NewPrivilegedGroups: members of these groups may do anything (first in the chain). */
export function privilegedGroups(...groups: string[]): Authorizer {
  return {
    authorize: (a) => {
      for (const g of a.user.groups) if (groups.includes(g)) return ALLOW;
      return NO_OPINION;
    },
  };
}
