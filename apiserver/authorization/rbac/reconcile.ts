// Reconciliation of roles and bindings (component-helpers/auth/rbac/reconciliation, as kube-apiserver's ensure-rbac
// post-start hook and `kubectl auth reconcile` use it): missing rules, aggregation selectors and subjects are added,
// labels and annotations merged (the stored values win); extras are removed only when asked. An object annotated
// rbac.authorization.kubernetes.io/autoupdate=false is left alone. A binding whose roleRef differs is recreated.
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../../../api/errors.js';
import { deepEqual } from '../../../api/field.js';
import type { KubeObject, LabelSelector } from '../../../api/schemas/meta.js';
import type { AggregationRule, PolicyRule, Subject } from '../../../api/schemas/rbac.js';
import type { Logger } from '../../../lib/logger.js';
import { covers } from './rules.js';
import type { RbacKind } from './authorizer.js';
import { AUTOUPDATE_ANNOTATION, BOOTSTRAP_CLUSTER_ROLE_BINDINGS, BOOTSTRAP_CLUSTER_ROLES, BOOTSTRAP_ROLE_BINDINGS, BOOTSTRAP_ROLES } from './bootstrap-policy.js';

/** What reconciliation reads and writes: the four kinds through the API server's stores (or a client). */
export interface RbacClient {
  /** undefined when absent. */
  get(kind: RbacKind, namespace: string, name: string): Promise<KubeObject | undefined>;
  /** Throws AlreadyExists when it exists. */
  create(kind: RbacKind, obj: KubeObject): Promise<KubeObject>;
  /** obj carries the resourceVersion it was computed from: throws Conflict if that changed, NotFound if gone. */
  update(kind: RbacKind, obj: KubeObject): Promise<KubeObject>;
  /** Deletes only the object with this uid (Conflict otherwise). */
  delete(kind: RbacKind, namespace: string, name: string, uid: string): Promise<void>;
}

export type Operation = 'create' | 'update' | 'recreate' | 'none';

export interface ReconcileResult {
  obj: KubeObject;
  operation: Operation;
  /** autoupdate=false kept the object as it was. */
  protected: boolean;
  missingRules?: PolicyRule[];
  missingSubjects?: Subject[];
}

export interface ReconcileOptions {
  /** false: compute only (kubectl auth reconcile --dry-run). Default true. */
  confirm?: boolean;
  removeExtraPermissions?: boolean;
  removeExtraSubjects?: boolean;
}

const merge = (expected: Record<string, string> | undefined, existing: Record<string, string> | undefined): Record<string, string> | undefined =>
  expected === undefined && existing === undefined ? undefined : { ...(expected ?? {}), ...(existing ?? {}) };

/** merge the expected labels and annotations under the existing ones; reports whether that changed anything. */
function mergeMeta(result: KubeObject, expected: KubeObject, existing: KubeObject): boolean {
  const annotations = merge(expected.metadata.annotations, existing.metadata.annotations);
  const labels = merge(expected.metadata.labels, existing.metadata.labels);
  if (annotations) result.metadata.annotations = annotations;
  if (labels) result.metadata.labels = labels;
  return !deepEqual(annotations, existing.metadata.annotations) || !deepEqual(labels, existing.metadata.labels);
}

/** The new list, or undefined when nothing changes: the union case adds what is missing; removing extras stomps. */
function reconcileList<T>(have: T[], want: T[], missing: T[], extra: T[], removeExtra: boolean): T[] | undefined {
  if (!removeExtra) return missing.length ? [...have, ...missing] : undefined;
  return missing.length || extra.length ? want : undefined;
}

const selectorsOf = (o: KubeObject): LabelSelector[] | undefined => (o.aggregationRule as AggregationRule | undefined)?.clusterRoleSelectors;
const uncovered = (owner: LabelSelector[], servant: LabelSelector[]): LabelSelector[] => servant.filter((s) => !owner.some((o) => deepEqual(o, s)));

/** computeReconciledRole. */
export function reconciledRole(existing: KubeObject, expected: KubeObject, removeExtra = false): ReconcileResult {
  const result = structuredClone(existing);
  let changed = mergeMeta(result, expected, existing);
  const have = (existing.rules as PolicyRule[] | undefined) ?? [];
  const want = (expected.rules as PolicyRule[] | undefined) ?? [];
  // Aggregated on both sides: the stored rules are the controller's, not extras.
  const extra = expected.aggregationRule === undefined || existing.aggregationRule === undefined ? covers(want, have).missing : [];
  const missing = covers(have, want).missing;
  const rules = reconcileList(have, want, missing, extra, removeExtra);
  if (rules) {
    result.rules = rules;
    changed = true;
  }
  if (expected.aggregationRule === undefined) {
    // Not expected to aggregate at all: any aggregation goes.
    if (existing.aggregationRule !== undefined) {
      delete result.aggregationRule;
      changed = true;
    }
  } else {
    const have = selectorsOf(existing) ?? [];
    const want = selectorsOf(expected) ?? [];
    const selectors = reconcileList(have, want, uncovered(have, want), uncovered(want, have), removeExtra);
    if (selectors) {
      result.aggregationRule = { clusterRoleSelectors: selectors };
      changed = true;
    }
  }
  return { obj: result, operation: changed ? 'update' : 'none', protected: existing.metadata.annotations?.[AUTOUPDATE_ANNOTATION] === 'false', missingRules: missing };
}

const sameSubject = (a: Subject, b: Subject): boolean =>
  a.kind === b.kind && a.name === b.name && (a.apiGroup ?? '') === (b.apiGroup ?? '') && (a.namespace ?? '') === (b.namespace ?? '');
const only = (a: Subject[], b: Subject[]): Subject[] =>
  a.filter((s, i) => !b.some((t) => sameSubject(s, t)) && a.findIndex((t) => sameSubject(s, t)) === i);

/** computeReconciledRoleBinding. */
export function reconciledBinding(existing: KubeObject, expected: KubeObject, removeExtra = false): ReconcileResult {
  const isProtected = existing.metadata.annotations?.[AUTOUPDATE_ANNOTATION] === 'false';
  if (!deepEqual(existing.roleRef, expected.roleRef)) return { obj: expected, operation: 'recreate', protected: isProtected };
  const result = structuredClone(existing);
  let changed = mergeMeta(result, expected, existing);
  const have = (existing.subjects as Subject[] | undefined) ?? [];
  const want = (expected.subjects as Subject[] | undefined) ?? [];
  const missing = only(want, have);
  const extra = only(have, want);
  const subjects = reconcileList(have, want, missing, extra, removeExtra);
  if (subjects) {
    result.subjects = subjects;
    changed = true;
  }
  return { obj: result, operation: changed ? 'update' : 'none', protected: isProtected, missingSubjects: missing };
}

const isBinding = (kind: RbacKind): boolean => kind === 'RoleBinding' || kind === 'ClusterRoleBinding';

/** ReconcileRoleOptions.Run / ReconcileRoleBindingOptions.Run for one expected object, with kube's retries. */
export async function reconcile(client: RbacClient, kind: RbacKind, expected: KubeObject, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  const ns = expected.metadata.namespace ?? '';
  const name = expected.metadata.name ?? '';
  for (let attempt = 0; attempt < 4; attempt++) {
    const existing = await client.get(kind, ns, name);
    const result: ReconcileResult = !existing
      ? { obj: expected, operation: 'create', protected: false }
      : isBinding(kind)
        ? reconciledBinding(existing, expected, opts.removeExtraSubjects)
        : reconciledRole(existing, expected, opts.removeExtraPermissions);
    if (result.protected || opts.confirm === false) return result;
    try {
      switch (result.operation) {
        case 'recreate':
          try {
            await client.delete(kind, ns, name, existing?.metadata.uid ?? '');
          } catch (err) {
            if (isConflict(err)) continue; // another object took the name meanwhile: look again
            if (!isNotFound(err)) throw err;
          }
          return { ...result, obj: await client.create(kind, structuredClone(expected)) };
        case 'create':
          return { ...result, obj: await client.create(kind, structuredClone(expected)) };
        case 'update':
          return { ...result, obj: await client.update(kind, result.obj) };
        case 'none':
          return result;
      }
    } catch (err) {
      // Created or deleted since we looked, or changed under us: look again.
      if (isAlreadyExists(err) || isNotFound(err) || isConflict(err)) continue;
      throw err;
    }
  }
  throw new ApiError(409, 'Conflict', `${kind} ${ns ? `${ns}/` : ''}${name}: exceeded maximum attempts to reconcile`);
}

/**
 * ensure-rbac: reconciles the bootstrap ClusterRoles, ClusterRoleBindings and the kube-system/kube-public Roles and
 * RoleBindings (the namespaces must exist). Adds, never removes; autoupdate=false objects are skipped with a warning.
 */
export async function reconcileBootstrapPolicy(client: RbacClient, log: Logger): Promise<{ created: number; updated: number; protected: number }> {
  const counts = { created: 0, updated: 0, protected: 0 };
  const all: [RbacKind, readonly KubeObject[]][] = [
    ['ClusterRole', BOOTSTRAP_CLUSTER_ROLES as unknown as KubeObject[]],
    ['ClusterRoleBinding', BOOTSTRAP_CLUSTER_ROLE_BINDINGS as unknown as KubeObject[]],
    ['Role', BOOTSTRAP_ROLES as unknown as KubeObject[]],
    ['RoleBinding', BOOTSTRAP_ROLE_BINDINGS as unknown as KubeObject[]],
  ];
  for (const [kind, objs] of all) {
    for (const expected of objs) {
      const r = await reconcile(client, kind, expected);
      const fields = { kind, namespace: expected.metadata.namespace, name: expected.metadata.name };
      if (r.protected && r.operation !== 'none') {
        counts.protected++;
        log.warn('skipped reconcile-protected object', { ...fields, missingRules: r.missingRules?.length, missingSubjects: r.missingSubjects?.length });
      } else if (r.operation === 'create') {
        counts.created++;
        log.debug('bootstrap rbac object created', fields);
      } else if (r.operation !== 'none') {
        counts.updated++;
        log.info('bootstrap rbac object reconciled', { ...fields, operation: r.operation });
      }
    }
  }
  log.info('bootstrap rbac policy reconciled', counts);
  return counts;
}
