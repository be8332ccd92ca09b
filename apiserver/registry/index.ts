// The registry: one generic Store per served resource, each with its kind's strategy, and the kinds' subresource
// storage (scale, binding, eviction).
import { findByKind, OTHER_VERSIONS, RESOURCES, storedVersionOf, type ResourceInfo } from '../../api/resources.js';
import type { Obj } from './object.js';
import type { Storage } from '../storage/interface.js';
import { strategyFor } from './kinds/index.js';
import type { ServiceRanges } from './kinds/service.js';
import type { SubresourceStorage } from './rest.js';
import { Store, type StoreDeps } from './store.js';
import { ConversionStore } from '../apiextensions/conversion.js';
import { converterFor } from './versions.js';
import type { Strategy } from './strategy.js';

/** Builds a resource's store over the registry's storage and dependencies. */
export type StoreFactory = (info: ResourceInfo, strategy: Strategy, storage: Storage, deps: StoreDeps) => Store;

export class Registry {
  private readonly stores = new Map<ResourceInfo, Store>();
  private readonly subresources = new Map<ResourceInfo, ReadonlyMap<string, SubresourceStorage>>();

  constructor(
    private readonly storage: Storage,
    private readonly deps: StoreDeps & { serviceRanges?: ServiceRanges },
  ) {
    for (const info of RESOURCES) this.serve(info, strategyFor(info, deps.serviceRanges ? { serviceRanges: deps.serviceRanges } : {}));
    // Other versions of stored kinds: served through the stored version's store, converted.
    for (const info of OTHER_VERSIONS) {
      const stored = storedVersionOf(info);
      const convert = converterFor(info);
      if (!stored || !convert) throw new Error(`${info.resource} in ${info.group}/${info.version}: no stored version or no conversion`);
      this.serve(info, strategyFor(info), (i, strategy, st, d) => new ConversionStore(i, strategy, st, d, this.store(stored), convert));
    }
  }

  /**
   * Serves a resource with its strategy (the built-in ones at start, custom resources when their CRD is established);
   * `make` builds a Store of another class (a custom resource version converted by webhook).
   */
  serve(info: ResourceInfo, strategy: Strategy, make?: StoreFactory): Store {
    const store = make ? make(info, strategy, this.storage, this.deps) : new Store(info, strategy, this.storage, this.deps);
    this.stores.set(info, store);
    const peer = (other: ResourceInfo): Store => this.store(other);
    const subs = Object.entries(strategy.subresources ?? {}).map(([name, make]) => [name, make(store, { clock: this.deps.clock, peer })] as const);
    this.subresources.set(info, new Map(subs));
    return store;
  }

  /** Stops serving a resource added with serve(): its cacher (storage watch and watchers) ends. */
  unserve(info: ResourceInfo): void {
    this.stores.get(info)?.close();
    this.stores.delete(info);
    this.subresources.delete(info);
  }

  store(info: ResourceInfo): Store {
    const s = this.stores.get(info);
    if (!s) throw new Error(`no store for ${info.resource}`);
    return s;
  }

  /** The storage of a subresource with objects of its own kind (scale, binding, eviction); undefined for the others. */
  subresource(info: ResourceInfo, name: string): SubresourceStorage | undefined {
    return this.subresources.get(info)?.get(name);
  }

  /** Stops every resource type's cacher (and so its storage watch). */
  close(): void {
    for (const s of this.stores.values()) s.close();
  }

  /** The store serving apiVersion/kind (custom resources included), or undefined. */
  byKind(apiVersion: string, kind: string): Store | undefined {
    const info = findByKind(apiVersion, kind);
    return info && this.stores.get(info);
  }

  /** An object by kind from the store's cache (admission params), or undefined when the kind or object is missing. */
  async lookupByKind(apiVersion: string, kind: string, namespace: string, name: string): Promise<Obj | undefined> {
    return this.byKind(apiVersion, kind)?.lookup(namespace, name);
  }

  /** Every object of a kind in a namespace ('' = all) from the store's cache. */
  async lookupAllByKind(apiVersion: string, kind: string, namespace: string): Promise<Obj[]> {
    const all = (await this.byKind(apiVersion, kind)?.lookupAll()) ?? [];
    return namespace ? all.filter((o) => o.metadata.namespace === namespace) : all;
  }

  byResource(group: string, version: string, resource: string): Store | undefined {
    for (const [info, s] of this.stores) if (info.group === group && info.version === version && info.resource === resource) return s;
    return undefined;
  }
}

export { Store } from './store.js';
export type { CacherConfig, StoreDeps } from './store.js';
export type { Admission, Clock } from './rest.js';
