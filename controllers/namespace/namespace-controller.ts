// The namespace controller (pkg/controller/namespace): when a namespace is deleted, delete everything in it, report
// what remains in its conditions, and once it is empty remove the 'kubernetes' finalizer through /finalize so that
// the API server can remove the namespace.
import { ApiError, isNotFound } from '../../api/errors.js';
import { RESOURCES, type ResourceInfo } from '../../api/resources.js';
import type { Informer } from '../../client/informer.js';
import type { ObjectLike, ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { metaOf } from '../framework/owners.js';
import { rfc3339 } from '../framework/pods.js';
import { NAMESPACES, type Namespace } from '../framework/types.js';
import { CRDS, customResourceInfos, type CrdLike } from '../framework/custom-resources.js';


export const KUBERNETES_FINALIZER = 'kubernetes';

export interface NamespaceControllerOptions {
  workers?: number;
  /** How soon to look again while content remains (default 1 s). */
  recheckMs?: number;
}

type NamespaceCondition = NonNullable<NonNullable<Namespace['status']>['conditions']>[number];

/** What deleting a namespace's content left behind. */
export interface ContentReport {
  /** resource -> objects left */
  remaining: Map<string, number>;
  /** finalizer -> objects that carry it */
  finalizers: Map<string, number>;
  errors: string[];
}

/** The namespace deletion conditions kube-controller-manager reports. */
export function deletionConditions(r: ContentReport, now: number): NamespaceCondition[] {
  const t = rfc3339(now);
  const c = (type: string, status: 'True' | 'False', reason: string, message: string): NamespaceCondition => ({ type, status, reason, message, lastTransitionTime: t });
  const remaining = [...r.remaining].map(([res, n]) => `${res} has ${n} resource instances`);
  const finalizers = [...r.finalizers].map(([f, n]) => `${f} in ${n} resource instances`);
  return [
    c('NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered', 'All resources successfully discovered'),
    c('NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'),
    r.errors.length
      ? c('NamespaceDeletionContentFailure', 'True', 'ContentDeletionFailed', `Failed to delete all resource types, ${r.errors.length} remaining: ${r.errors.join(', ')}`)
      : c('NamespaceDeletionContentFailure', 'False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'),
    remaining.length
      ? c('NamespaceContentRemaining', 'True', 'SomeResourcesRemain', `Some resources are remaining: ${remaining.join(', ')}`)
      : c('NamespaceContentRemaining', 'False', 'ContentRemoved', 'All content successfully removed'),
    finalizers.length
      ? c('NamespaceFinalizersRemaining', 'True', 'SomeFinalizersRemain', `Some content in the namespace has finalizers remaining: ${finalizers.join(', ')}`)
      : c('NamespaceFinalizersRemaining', 'False', 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'),
  ];
}

export class NamespaceController extends Controller {
  private readonly nsInformer: Informer<Namespace>;
  private readonly namespaces: ResourceClient<Namespace>;
  private readonly content: Array<{ info: ResourceInfo; client: ResourceClient<ObjectLike> }>;
  private readonly rest: ControllerContext['rest'];
  private readonly recheckMs: number;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: NamespaceControllerOptions = {}) {
    super({ name: 'namespace-controller', clock: ctx.clock, workers: opts.workers ?? 10 });
    this.recheckMs = opts.recheckMs ?? 1000;
    this.nsInformer = ctx.informers.for<Namespace>(NAMESPACES);
    this.informers = [this.nsInformer];
    this.namespaces = ctx.rest.resource<Namespace>(NAMESPACES);
    this.content = RESOURCES.filter((r) => r.namespaced).map((info) => ({ info, client: ctx.rest.resource<ObjectLike>(info) }));
    this.rest = ctx.rest;
    const onChange = (ns: Namespace): void => {
      if (ns.metadata.deletionTimestamp) this.enqueue(ns);
    };
    this.nsInformer.addEventHandler({ onAdd: onChange, onUpdate: (_o, ns) => onChange(ns) });
  }

  protected async sync(name: string, { log }: SyncContext): Promise<SyncResult | void> {
    const cached = this.nsInformer.indexer.get(name);
    if (!cached?.metadata.deletionTimestamp) return;
    let ns: Namespace;
    try {
      ns = await this.namespaces.get(undefined, name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (ns.metadata.uid !== cached.metadata.uid || !ns.metadata.deletionTimestamp) return;
    if (!(ns.spec?.finalizers ?? []).includes(KUBERNETES_FINALIZER)) return;

    const report = await this.deleteContent(name);
    await this.updateConditions(ns, deletionConditions(report, this.clock.now()));
    if (report.errors.length) throw new Error(`deleting content of namespace ${name}: ${report.errors.join('; ')}`);
    if (report.remaining.size) {
      log.info('namespace content remains', { namespace: name, remaining: Object.fromEntries(report.remaining) });
      return { requeueAfterMs: this.recheckMs };
    }
    log.info('namespace empty, finalizing', { namespace: name });
    await this.namespaces.rest.request('PUT', this.namespaces.path(undefined, name, 'finalize'), {
      body: { ...ns, spec: { ...(ns.spec ?? {}), finalizers: (ns.spec?.finalizers ?? []).filter((f) => f !== KUBERNETES_FINALIZER) } },
    });
  }

  /** Namespaced custom resources, one client per CRD (at its storage version: every version reads the same objects). */
  private async customContent(): Promise<Array<{ info: ResourceInfo; client: ResourceClient<ObjectLike> }>> {
    const crds = await this.rest.resource<CrdLike>(CRDS).list(undefined);
    return crds.items.flatMap((c) => customResourceInfos(c).slice(0, 1)).filter((info) => info.namespaced).map((info) => ({ info, client: this.rest.resource<ObjectLike>(info) }));
  }

  /** Deletes every object of every namespaced kind (Background propagation) and reports what is left. */
  private async deleteContent(namespace: string): Promise<ContentReport> {
    const report: ContentReport = { remaining: new Map(), finalizers: new Map(), errors: [] };
    for (const { info, client } of [...this.content, ...(await this.customContent())]) {
      const what = info.group ? `${info.resource}.${info.group}` : info.resource;
      try {
        const list = await client.list(namespace);
        for (const obj of list.items) {
          const m = metaOf(obj);
          if (!m.deletionTimestamp) {
            try {
              await client.delete(namespace, m.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: m.uid ?? '' } });
            } catch (err) {
              if (!isNotFound(err) && !(err instanceof ApiError && err.code === 409)) throw err;
            }
          }
        }
        const left = list.items.length ? (await client.list(namespace)).items : [];
        if (left.length) report.remaining.set(what, left.length);
        for (const obj of left) for (const f of metaOf(obj).finalizers ?? []) report.finalizers.set(f, (report.finalizers.get(f) ?? 0) + 1);
      } catch (err) {
        report.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return report;
  }

  /** Writes the deletion conditions when their status, reason or message changed. */
  private async updateConditions(ns: Namespace, conditions: NamespaceCondition[]): Promise<void> {
    const old = new Map((ns.status?.conditions ?? []).map((c) => [c.type, c]));
    const merged = conditions.map((c) => {
      const o = old.get(c.type);
      return o && o.status === c.status && o.reason === c.reason && o.message === c.message ? o : c;
    });
    const others = (ns.status?.conditions ?? []).filter((c) => !conditions.some((x) => x.type === c.type));
    const next = [...others, ...merged];
    if (JSON.stringify(next) === JSON.stringify(ns.status?.conditions ?? [])) return;
    try {
      await this.namespaces.updateStatus({ ...ns, status: { ...(ns.status ?? {}), phase: 'Terminating', conditions: next } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
