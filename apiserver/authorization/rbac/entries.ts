// The RBAC cache's entries: a slot per role (its compiled rules and the bindings that reference it) and a binding
// prepared for decisions (its index keys, its role slot, and its "allowed by" reasons made once).
import { RBAC_GROUP, type ClusterRoleBinding, type PolicyRule, type RoleBinding, type Subject } from '../../../api/schemas/rbac.js';
import { compileRules, type CompiledRule } from './rules.js';
import type { AuthorizationResult, UserInfo } from '../types.js';

export type RoleKind = 'Role' | 'ClusterRole';
export type BindingKind = 'RoleBinding' | 'ClusterRoleBinding';

const SA_PREFIX = 'system:serviceaccount:';

/** kube's serviceaccount.MakeUsername. */
export const serviceAccountUser = (namespace: string, name: string): string => `${SA_PREFIX}${namespace}:${name}`;

/** serviceaccount.MatchesUsername, without building the user name. */
export function matchesServiceAccount(namespace: string, name: string, user: string): boolean {
  const p = SA_PREFIX.length;
  return (
    user.length === p + namespace.length + 1 + name.length &&
    user.startsWith(SA_PREFIX) &&
    user.startsWith(namespace, p) &&
    user.charCodeAt(p + namespace.length) === 58 &&
    user.endsWith(name)
  );
}

/**
 * One role by kind/namespace/name, present or not: bindings point at the slot, so a role change is seen by every binding
 * at once (O(1)), and `bindings` is the role → bindings reverse index. A slot lives while the role or a binding does.
 */
export class RoleSlot {
  rules: CompiledRule[] = [];
  policyRules: PolicyRule[] = [];
  exists = false;
  readonly bindings = new Set<BindingEntry>();

  constructor(
    readonly kind: RoleKind,
    readonly namespace: string,
    readonly name: string,
  ) {}

  set(rules: PolicyRule[] | undefined): void {
    this.policyRules = rules ?? [];
    this.rules = compileRules(this.policyRules);
    this.exists = true;
  }

  clear(): void {
    this.policyRules = [];
    this.rules = [];
    this.exists = false;
  }

  /** The lister's NotFound, as kube's resolver reports a binding to a missing role. */
  notFound(): string {
    return `${this.kind.toLowerCase()}.${RBAC_GROUP} "${this.name}" not found`;
  }
}

/** describeSubject: note kube's "name/namespace" order for service accounts. */
function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `ServiceAccount ${JSON.stringify(`${s.name}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind} ${JSON.stringify(s.name)}`;
}

export interface IndexKey {
  type: 'user' | 'group';
  key: string;
}

export class BindingEntry {
  readonly subjects: readonly Subject[];
  readonly roleKind: string;
  readonly roleName: string;
  /** Per subject, the decision that cites it (built once: allowing allocates nothing). */
  private readonly allows: AuthorizationResult[];
  /** The user names and groups under which the binding is indexed (deduplicated). */
  readonly keys: IndexKey[];

  constructor(
    readonly kind: BindingKind,
    readonly namespace: string,
    readonly name: string,
    obj: RoleBinding | ClusterRoleBinding,
    readonly role: RoleSlot,
  ) {
    this.subjects = Array.isArray(obj.subjects) ? obj.subjects.filter((s): s is Subject => typeof s === 'object' && s !== null) : [];
    this.roleKind = String(obj.roleRef?.kind ?? '');
    this.roleName = String(obj.roleRef?.name ?? '');
    const source =
      kind === 'ClusterRoleBinding'
        ? `ClusterRoleBinding ${JSON.stringify(name)} of ${this.roleKind} ${JSON.stringify(this.roleName)}`
        : `RoleBinding ${JSON.stringify(`${name}/${namespace}`)} of ${this.roleKind} ${JSON.stringify(this.roleName)}`;
    this.allows = this.subjects.map((s) => Object.freeze({ decision: 'allow' as const, reason: `RBAC: allowed by ${source} to ${describeSubject(s, namespace)}` }));
    const seen = new Set<string>();
    this.keys = [];
    for (const s of this.subjects) {
      const k = this.indexKey(s);
      if (k && !seen.has(`${k.type}\u0000${k.key}`)) {
        seen.add(`${k.type}\u0000${k.key}`);
        this.keys.push(k);
      }
    }
  }

  /** Where a subject is found: users by name (service accounts by their user name), groups by name. */
  private indexKey(s: Subject): IndexKey | undefined {
    switch (s.kind) {
      case 'User':
        return { type: 'user', key: s.name };
      case 'Group':
        return { type: 'group', key: s.name };
      case 'ServiceAccount': {
        // A RoleBinding's service account defaults to the binding's namespace; a ClusterRoleBinding's must name one.
        const ns = s.namespace || this.namespace;
        return ns ? { type: 'user', key: serviceAccountUser(ns, s.name) } : undefined;
      }
      default:
        return undefined;
    }
  }

  /** appliesToUser for one subject. */
  private applies(user: UserInfo, s: Subject): boolean {
    switch (s.kind) {
      case 'User':
        return user.name === s.name;
      case 'Group':
        return user.groups.includes(s.name);
      case 'ServiceAccount': {
        const ns = s.namespace || this.namespace;
        return ns !== '' && matchesServiceAccount(ns, s.name, user.name);
      }
      default:
        return false;
    }
  }

  /** The allow decision citing the first subject that applies to the user (as kube's appliesTo), if any. */
  allowFor(user: UserInfo): AuthorizationResult | undefined {
    for (let i = 0; i < this.subjects.length; i++) if (this.applies(user, this.subjects[i]!)) return this.allows[i];
    return undefined;
  }
}
