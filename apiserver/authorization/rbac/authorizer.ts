// The RBAC authorizer (plugin/pkg/auth/authorizer/rbac) over an indexed in-memory cache of the four RBAC kinds.
//
// kube's resolver lists every ClusterRoleBinding (and the namespace's RoleBindings) per request and checks each one's
// subjects. Here bindings are indexed by subject when they change (user name, service-account user name, group;
// cluster-wide or per namespace), so a decision looks only at the bindings of the caller's name and groups: O(those
// bindings' rules), whatever the number of bindings in the cluster, and allocation-free when it allows. Roles live in
// slots that bindings point at, so a role change is one assignment, seen by all its bindings (slot.bindings is the
// role → bindings reverse index).
//
// The cache is fed by events (onEvent / replace), never by lists per request: see ../README.md for the wiring.
import { errors } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
import { RBAC_GROUP, type ClusterRoleBinding, type PolicyRule, type RoleBinding, type RoleRef } from '../../../api/schemas/rbac.js';
import { compiledRulesAllow } from './rules.js';
import { BindingEntry, RoleSlot, type BindingKind, type RoleKind } from './entries.js';
import type { EventSink, EventType } from '../feed.js';
import { NO_OPINION, type Attributes, type AuthorizationResult, type Authorizer, type RuleResolver, type RulesResult, type UserInfo } from '../types.js';

export type RbacKind = RoleKind | BindingKind;
export const RBAC_KINDS: readonly RbacKind[] = ['ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'];

interface SubjectIndex {
  users: Map<string, BindingEntry[]>;
  groups: Map<string, BindingEntry[]>;
}
const newIndex = (): SubjectIndex => ({ users: new Map(), groups: new Map() });

/** utilerrors.NewAggregate(...).Error(): one message as is, several as "[a, b]", duplicates once. */
export function aggregate(messages: readonly string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}

export class RbacAuthorizer implements Authorizer, RuleResolver {
  private readonly clusterRoles = new Map<string, RoleSlot>();
  /** namespace → name → slot */
  private readonly roles = new Map<string, Map<string, RoleSlot>>();
  private readonly clusterIndex = newIndex();
  /** namespace → its RoleBindings by subject */
  private readonly namespaceIndex = new Map<string, SubjectIndex>();
  /** `${kind}/${namespace}/${name}` → binding */
  private readonly bindings = new Map<string, BindingEntry>();
  /** Set during a scan when a binding that applies points at a missing role (decisions are synchronous). */
  private sawMissingRole = false;

  // ---- events ----

  /** One watch event of one of the four kinds (for DELETED, obj is the last state). */
  onEvent(kind: RbacKind, type: EventType, obj: KubeObject): void {
    const namespace = kind === 'Role' || kind === 'RoleBinding' ? (obj.metadata.namespace ?? '') : '';
    const name = obj.metadata.name ?? '';
    if (kind === 'Role' || kind === 'ClusterRole') {
      const slot = this.slot(kind, namespace, name, type !== 'DELETED');
      if (!slot) return;
      if (type === 'DELETED') {
        slot.clear();
        this.release(slot);
      } else slot.set((obj as { rules?: PolicyRule[] }).rules);
      return;
    }
    this.removeBinding(`${kind}/${namespace}/${name}`);
    if (type !== 'DELETED') this.addBinding(kind, namespace, name, obj as unknown as RoleBinding | ClusterRoleBinding);
  }

  onRoleEvent = (type: EventType, obj: KubeObject): void => this.onEvent('Role', type, obj);
  onClusterRoleEvent = (type: EventType, obj: KubeObject): void => this.onEvent('ClusterRole', type, obj);
  onRoleBindingEvent = (type: EventType, obj: KubeObject): void => this.onEvent('RoleBinding', type, obj);
  onClusterRoleBindingEvent = (type: EventType, obj: KubeObject): void => this.onEvent('ClusterRoleBinding', type, obj);

  /** The events of one kind as a feed's sink (../feed.ts). */
  sink(kind: RbacKind): EventSink {
    return { replace: (objs) => this.replace(kind, objs), onEvent: (type, obj) => this.onEvent(kind, type, obj) };
  }

  /** A full snapshot of one kind (the initial list, or a relist after a lost watch): what is absent is deleted. */
  replace(kind: RbacKind, objs: readonly KubeObject[]): void {
    const key = (o: KubeObject): string => `${kind === 'Role' || kind === 'RoleBinding' ? (o.metadata.namespace ?? '') : ''}/${o.metadata.name ?? ''}`;
    const keep = new Set(objs.map(key));
    if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') {
      for (const [k, b] of [...this.bindings]) if (b.kind === kind && !keep.has(`${b.namespace}/${b.name}`)) this.removeBinding(k);
    } else {
      const slots = kind === 'ClusterRole' ? [...this.clusterRoles.values()] : [...this.roles.values()].flatMap((m) => [...m.values()]);
      for (const s of slots) {
        if (s.exists && !keep.has(`${s.namespace}/${s.name}`)) {
          s.clear();
          this.release(s);
        }
      }
    }
    for (const o of objs) this.onEvent(kind, 'MODIFIED', o);
  }

  private slot(kind: RoleKind, namespace: string, name: string, create: boolean): RoleSlot | undefined {
    let byName = kind === 'ClusterRole' ? this.clusterRoles : this.roles.get(namespace);
    if (!byName) {
      if (!create) return undefined;
      this.roles.set(namespace, (byName = new Map()));
    }
    let s = byName.get(name);
    if (!s && create) byName.set(name, (s = new RoleSlot(kind, kind === 'ClusterRole' ? '' : namespace, name)));
    return s;
  }

  /** Drops a slot that neither a role nor a binding needs any more. */
  private release(s: RoleSlot): void {
    if (s.exists || s.bindings.size > 0) return;
    if (s.kind === 'ClusterRole') this.clusterRoles.delete(s.name);
    else {
      const byName = this.roles.get(s.namespace);
      byName?.delete(s.name);
      if (byName?.size === 0) this.roles.delete(s.namespace);
    }
  }

  private addBinding(kind: BindingKind, namespace: string, name: string, obj: RoleBinding | ClusterRoleBinding): void {
    const refKind = obj.roleRef?.kind;
    // Validation admits only these; anything else grants nothing (kube: "unsupported role reference kind").
    if (refKind !== 'ClusterRole' && !(refKind === 'Role' && kind === 'RoleBinding')) return;
    const role = this.slot(refKind, namespace, obj.roleRef.name ?? '', true)!;
    const b = new BindingEntry(kind, namespace, name, obj, role);
    role.bindings.add(b);
    this.bindings.set(`${kind}/${namespace}/${name}`, b);
    const idx = this.indexFor(b, true)!;
    for (const k of b.keys) {
      const map = k.type === 'user' ? idx.users : idx.groups;
      const list = map.get(k.key);
      if (list) list.push(b);
      else map.set(k.key, [b]);
    }
  }

  private removeBinding(key: string): void {
    const b = this.bindings.get(key);
    if (!b) return;
    this.bindings.delete(key);
    b.role.bindings.delete(b);
    this.release(b.role);
    const idx = this.indexFor(b, false);
    if (!idx) return;
    for (const k of b.keys) {
      const map = k.type === 'user' ? idx.users : idx.groups;
      const list = map.get(k.key);
      const i = list ? list.indexOf(b) : -1;
      if (i >= 0) list!.splice(i, 1);
      if (list?.length === 0) map.delete(k.key);
    }
    if (b.kind === 'RoleBinding' && idx.users.size === 0 && idx.groups.size === 0) this.namespaceIndex.delete(b.namespace);
  }

  private indexFor(b: BindingEntry, create: boolean): SubjectIndex | undefined {
    if (b.kind === 'ClusterRoleBinding') return this.clusterIndex;
    let idx = this.namespaceIndex.get(b.namespace);
    if (!idx && create) this.namespaceIndex.set(b.namespace, (idx = newIndex()));
    return idx;
  }

  // ---- decisions ----

  authorize(a: Attributes): AuthorizationResult {
    this.sawMissingRole = false;
    const found = this.scan(this.clusterIndex, a) ?? (a.namespace !== '' ? this.scanNamespace(a) : undefined);
    if (found) return found;
    if (!this.sawMissingRole) return NO_OPINION;
    return { decision: 'noOpinion', reason: `RBAC: ${aggregate(this.policyRulesFor(a.user, a.namespace).errors)}` };
  }

  private scanNamespace(a: Attributes): AuthorizationResult | undefined {
    const idx = this.namespaceIndex.get(a.namespace);
    return idx ? this.scan(idx, a) : undefined;
  }

  private scan(idx: SubjectIndex, a: Attributes): AuthorizationResult | undefined {
    const found = this.scanList(idx.users.get(a.user.name), a);
    if (found) return found;
    const groups = a.user.groups;
    for (let i = 0; i < groups.length; i++) {
      const g = this.scanList(idx.groups.get(groups[i]!), a);
      if (g) return g;
    }
    return undefined;
  }

  private scanList(list: readonly BindingEntry[] | undefined, a: Attributes): AuthorizationResult | undefined {
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (!b.role.exists) {
        this.sawMissingRole = true;
        continue;
      }
      if (compiledRulesAllow(a, b.role.rules)) {
        const allowed = b.allowFor(a.user);
        if (allowed) return allowed;
      }
    }
    return undefined;
  }

  /** The bindings that apply to a user in a namespace ('' : cluster-wide only), cluster-wide ones first, each once. */
  private bindingsFor(user: UserInfo, namespace: string): BindingEntry[] {
    const out = new Set<BindingEntry>();
    const collect = (idx: SubjectIndex | undefined): void => {
      if (!idx) return;
      for (const b of idx.users.get(user.name) ?? []) out.add(b);
      for (const g of user.groups) for (const b of idx.groups.get(g) ?? []) out.add(b);
    };
    collect(this.clusterIndex);
    if (namespace) collect(this.namespaceIndex.get(namespace));
    return [...out];
  }

  /** RulesFor as the rule resolver answers it: every rule that applies, and the bindings whose role is missing. */
  policyRulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errs: string[] = [];
    for (const b of this.bindingsFor(user, namespace)) {
      if (b.role.exists) rules.push(...b.role.policyRules);
      else errs.push(b.role.notFound());
    }
    return { rules, errors: errs };
  }

  /** The authorizer.RuleResolver view: resource and non-resource rules (for SelfSubjectRulesReview). */
  rulesFor(user: UserInfo, namespace: string): RulesResult {
    const { rules, errors: errs } = this.policyRulesFor(user, namespace);
    const out: RulesResult = { resourceRules: [], nonResourceRules: [], incomplete: false, errors: errs.length ? [aggregate(errs)] : [] };
    for (const r of rules) {
      if (r.resources?.length) {
        out.resourceRules.push({ verbs: [...r.verbs], apiGroups: [...(r.apiGroups ?? [])], resources: [...r.resources], ...(r.resourceNames?.length ? { resourceNames: [...r.resourceNames] } : {}) });
      }
      if (r.nonResourceURLs?.length) out.nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs] });
    }
    return out;
  }

  /** GetRoleReferenceRules: the rules a binding in `namespace` ('' for cluster-wide) would grant; NotFound if absent. */
  roleReferenceRules(ref: Pick<RoleRef, 'kind' | 'name'>, namespace: string): PolicyRule[] {
    if (ref.kind !== 'Role' && ref.kind !== 'ClusterRole') throw errors.badRequest(`unsupported role reference kind: ${JSON.stringify(ref.kind)}`);
    const s = this.slot(ref.kind, namespace, ref.name, false);
    if (!s?.exists) throw errors.notFound({ group: RBAC_GROUP, resource: ref.kind.toLowerCase(), name: ref.name });
    return s.policyRules;
  }

  /** The bindings that reference a role (the reverse index), as "Kind/namespace/name". */
  bindingsOf(kind: RoleKind, namespace: string, name: string): string[] {
    const s = this.slot(kind, kind === 'ClusterRole' ? '' : namespace, name, false);
    return s ? [...s.bindings].map((b) => `${b.kind}/${b.namespace}/${b.name}`).sort() : [];
  }

  /** Sizes, for logs and tests. */
  stats(): { clusterRoles: number; roles: number; bindings: number; namespaces: number } {
    let roles = 0;
    for (const m of this.roles.values()) for (const s of m.values()) if (s.exists) roles++;
    return { clusterRoles: [...this.clusterRoles.values()].filter((s) => s.exists).length, roles, bindings: this.bindings.size, namespaces: this.namespaceIndex.size };
  }
}
