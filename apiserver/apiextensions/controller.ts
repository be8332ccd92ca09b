// The CRD controller (kube's naming, establishing and finalizing controllers in one): watches CustomResourceDefinitions,
// accepts their names unless another resource holds them, serves each served version at once (store, REST paths,
// discovery, OpenAPI), reports NamesAccepted and Established, and on deletion removes every object before the CRD.
import { ApiError } from '../../api/errors.js';
import { findByResource, isRegistered, registerResource, servedResources, unregisterResource, type ResourceInfo } from '../../api/resources.js';
import type { CustomResourceDefinition, CustomResourceDefinitionNames } from '../../api/schemas/extensions.js';
import type { Logger } from '../../lib/logger.js';
import type { Registry, Store } from '../registry/index.js';
import { rfc3339, type Obj } from '../registry/object.js';
import type { Clock } from '../registry/rest.js';
import { CLEANUP_FINALIZER } from './crd-strategy.js';
import { compileVersion, customResourceStrategy } from './custom-resource.js';
import { compareVersions } from './versions.js';
import { ConversionStore, noneConverter, webhookConverter, type Converter } from './conversion.js';
import type { ServiceResolver } from '../admission/webhook/client.js';
import type { StoreFactory } from '../registry/index.js';

const conversionStoreOf = (stored: Store, convert: Converter): StoreFactory => (info, strategy, storage, deps) => new ConversionStore(info, strategy, storage, deps, stored, convert);

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface Served {
  /** The spec the stores were built from (JSON): a status-only change rebuilds nothing. */
  spec: string;
  infos: ResourceInfo[];
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

/** Called when the served custom resources change (OpenAPI documents are rebuilt). */
export type ServedListener = (crds: readonly CustomResourceDefinition[]) => void;

export class CrdController {
  private readonly served = new Map<string, Served>();
  private readonly current = new Map<string, CustomResourceDefinition>();
  private watch: { close(): void } | undefined;
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly registry: Registry,
    private readonly crds: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly resolver: ServiceResolver,
    private readonly onChange: ServedListener = () => undefined,
  ) {}

  /** Serves the CRDs that exist, then follows changes. Resolves once the existing ones are served. */
  async start(): Promise<void> {
    const w = this.crds.watch('', {});
    this.watch = w;
    let resolveReady: () => void = () => undefined;
    const ready = new Promise<void>((r) => (resolveReady = r));
    const existing = (await this.crds.list('')).items.length;
    let seen = 0;
    if (existing === 0) resolveReady();
    // A CRD deleted between the list and the watch never comes: serve what came after a while regardless.
    setTimeout(resolveReady, 5000).unref();
    void (async () => {
      for await (const ev of w) {
        if (this.stopped) break;
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED') await this.syncSafely(ev.object as Obj);
        else if (ev.type === 'DELETED') this.forget((ev.object as Obj).metadata.name ?? '');
        if (ev.type === 'ADDED' && ++seen === existing) resolveReady();
      }
    })().catch((err: unknown) => this.log.error('crd watch ended', { error: String(err) }));
    await ready;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
    for (const t of this.retries.values()) clearTimeout(t);
    for (const name of [...this.served.keys()]) this.unserve(name);
  }

  private async syncSafely(obj: Obj): Promise<void> {
    const name = obj.metadata.name ?? '';
    try {
      await this.sync(obj as unknown as CustomResourceDefinition);
    } catch (err) {
      this.log.warn('crd sync failed', { crd: name, error: err instanceof ApiError ? err.message : String(err) });
      this.retry(name, 1000);
    }
  }

  /** Syncs the CRD again later (objects left behind on deletion, a failed status write). */
  private retry(name: string, ms: number): void {
    if (this.stopped || this.retries.has(name)) return;
    this.retries.set(
      name,
      setTimeout(() => {
        this.retries.delete(name);
        void this.crds
          .lookup('', name)
          .then((o) => (o ? this.syncSafely(o) : undefined))
          .catch((err: unknown) => this.log.warn('crd resync failed', { crd: name, error: String(err) }));
      }, ms).unref(),
    );
  }

  private async sync(crd: CustomResourceDefinition): Promise<void> {
    const name = crd.metadata.name ?? '';
    this.current.set(name, crd);
    if (crd.metadata.deletionTimestamp) return this.finalize(crd);
    const conflict = this.nameConflict(crd);
    if (!conflict) this.serve(crd);
    await this.writeStatus(crd, conflict);
  }

  /** Why the CRD's names cannot be accepted (another CRD or a built-in resource holds them), or undefined. */
  private nameConflict(crd: CustomResourceDefinition): { reason: string; message: string } | undefined {
    const { group, names } = crd.spec;
    const builtIn = servedResources().filter((r) => r.group === group && !isRegistered(r));
    for (const r of builtIn) {
      if (r.resource === names.plural) return { reason: 'PluralConflict', message: `"${names.plural}" is already in use` };
      if (r.kind === names.kind) return { reason: 'KindConflict', message: `"${names.kind}" is already in use` };
    }
    for (const other of this.current.values()) {
      if (other.metadata.name === crd.metadata.name || other.spec.group !== group || !this.served.has(other.metadata.name ?? '')) continue;
      const accepted = other.status?.acceptedNames ?? other.spec.names;
      if (accepted.plural === names.plural) return { reason: 'PluralConflict', message: `"${names.plural}" is already in use` };
      if (accepted.kind === names.kind) return { reason: 'KindConflict', message: `"${names.kind}" is already in use` };
      const short = new Set(accepted.shortNames ?? []);
      const taken = (names.shortNames ?? []).find((s) => short.has(s));
      if (taken) return { reason: 'ShortNamesConflict', message: `"${taken}" is already in use` };
    }
    return undefined;
  }

  /** Builds a store per served version (once per spec change) and registers the resources. */
  private serve(crd: CustomResourceDefinition): void {
    const name = crd.metadata.name ?? '';
    const spec = JSON.stringify(crd.spec);
    if (this.served.get(name)?.spec === spec) return;
    this.unserve(name);
    const { group, names, scope } = crd.spec;
    const versions = crd.spec.versions.filter((v) => v.served).sort((a, b) => compareVersions(a.name, b.name));
    const infos: ResourceInfo[] = [];
    const webhook = crd.spec.conversion?.strategy === 'Webhook' ? crd.spec.conversion : undefined;
    // The storage version's store reads and writes the objects; the other versions convert through it.
    let storageStore: Store | undefined;
    // The storage version first: the other versions are served through its store.
    const storageFirst = [...versions].sort((a, b) => Number(b.storage) - Number(a.storage));
    for (const v of storageFirst) {
      const subresources = [...(v.subresources?.status ? ['status'] : []), ...(v.subresources?.scale ? ['scale'] : [])];
      const info: ResourceInfo = {
        group,
        version: v.name,
        kind: names.kind,
        resource: names.plural,
        singular: names.singular || names.kind.toLowerCase(),
        namespaced: scope === 'Namespaced',
        shortNames: names.shortNames ?? [],
        categories: names.categories ?? [],
        subresources,
        verbs: ALL_VERBS,
      };
      if (findByResource(group, v.name, names.plural) && !isRegistered(info)) continue;
      const strategy = customResourceStrategy(compileVersion(crd, v, info));
      const converted = storageStore && !v.storage ? conversionStoreOf(storageStore, webhook ? webhookConverter(webhook, info, this.resolver) : noneConverter) : undefined;
      const store = this.registry.serve(info, strategy, converted);
      if (v.storage) storageStore = store;
      infos.push(info);
    }
    // Registered in version priority order: discovery lists a group's versions in the order they come.
    for (const v of versions) {
      const info = infos.find((i) => i.version === v.name);
      if (info) registerResource(info);
    }
    this.served.set(name, { spec, infos });
    this.log.info('custom resource served', { crd: name, versions: infos.map((i) => i.version) });
    this.changed();
  }

  private unserve(name: string): void {
    const s = this.served.get(name);
    if (!s) return;
    for (const info of s.infos) {
      unregisterResource(info);
      this.registry.unserve(info);
    }
    this.served.delete(name);
    this.changed();
  }

  private forget(name: string): void {
    this.current.delete(name);
    this.unserve(name);
  }

  private changed(): void {
    this.onChange([...this.current.values()].filter((c) => this.served.has(c.metadata.name ?? '')));
  }

  private async writeStatus(crd: CustomResourceDefinition, conflict: { reason: string; message: string } | undefined): Promise<void> {
    const now = rfc3339(this.clock.now());
    const accepted: CustomResourceDefinitionNames = { ...crd.spec.names, singular: crd.spec.names.singular || crd.spec.names.kind.toLowerCase(), listKind: crd.spec.names.listKind || `${crd.spec.names.kind}List` };
    const want: Condition[] = conflict
      ? [
          { type: 'NamesAccepted', status: 'False', ...conflict },
          { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' },
        ]
      : [
          { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' },
          { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
        ];
    const storage = crd.spec.versions.find((v) => v.storage)?.name;
    await this.updateStatus(crd.metadata.name ?? '', (status) => {
      const old = (status.conditions ?? []) as Condition[];
      const conditions = want.map((c) => {
        const prev = old.find((o) => o.type === c.type);
        return { ...c, lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
      });
      const stored = new Set((status.storedVersions ?? []) as string[]);
      if (storage && !conflict) stored.add(storage);
      return { ...status, conditions, ...(conflict ? {} : { acceptedNames: accepted }), storedVersions: [...stored] };
    });
  }

  private async updateStatus(name: string, change: (status: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    await this.crds.update(
      '',
      name,
      (cur) => {
        if (!cur) throw new Error('gone');
        const status = typeof cur.status === 'object' && cur.status !== null ? (cur.status as Record<string, unknown>) : {};
        return { ...cur, status: change(status) };
      },
      { subresource: 'status', fieldManager: 'ketch-apiextensions-controller' },
    );
  }

  /** Deletion: stop serving, delete every object of the resource, then drop the cleanup finalizer. */
  private async finalize(crd: CustomResourceDefinition): Promise<void> {
    const name = crd.metadata.name ?? '';
    if (!(crd.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER)) return;
    const info = this.served.get(name)?.infos[0];
    if (info) {
      const store = this.registry.store(info);
      await store.deleteCollection('', {}, {});
      const left = (await store.list('')).items.length;
      if (left > 0) {
        this.log.info('custom resources still being deleted', { crd: name, left });
        this.retry(name, 1000);
        return;
      }
    }
    this.unserve(name);
    await this.crds.update('', name, (cur) => {
      if (!cur) throw new Error('gone');
      return { ...cur, metadata: { ...cur.metadata, finalizers: (cur.metadata.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER) } };
    });
  }
}
