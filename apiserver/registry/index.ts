// The registry: one generic Store per served resource, each with its kind's strategy, and the kinds' subresource
// storage (scale, binding, eviction).
import { OTHER_VERSIONS, RESOURCES, storedVersionOf, type ResourceInfo } from '../../api/resources.js';
import type { Storage } from '../storage/interface.js';
import { strategyFor } from './kinds/index.js';
import type { ServiceRanges } from './kinds/service.js';
import type { SubresourceStorage } from './rest.js';
import { Store, type StoreDeps } from './store.js';
import { converterFor, VersionedStore } from './versions.js';

export class Registry {
  private readonly stores = new Map<ResourceInfo, Store>();
  private readonly subresources = new Map<ResourceInfo, ReadonlyMap<string, SubresourceStorage>>();

  constructor(storage: Storage, deps: StoreDeps & { serviceRanges?: ServiceRanges }) {
    const peer = (info: ResourceInfo): Store => this.store(info);
    const serve = (info: ResourceInfo, strategy: ReturnType<typeof strategyFor>, store: Store): void => {
      this.stores.set(info, store);
      const subs = Object.entries(strategy.subresources ?? {}).map(([name, make]) => [name, make(store, { clock: deps.clock, peer })] as const);
      this.subresources.set(info, new Map(subs));
    };
    for (const info of RESOURCES) {
      const strategy = strategyFor(info, deps.serviceRanges ? { serviceRanges: deps.serviceRanges } : {});
      serve(info, strategy, new Store(info, strategy, storage, deps));
    }
    // Other versions of stored kinds: served through the stored version's store, converted.
    for (const info of OTHER_VERSIONS) {
      const stored = storedVersionOf(info);
      const convert = converterFor(info);
      if (!stored || !convert) throw new Error(`${info.resource} in ${info.group}/${info.version}: no stored version or no conversion`);
      const strategy = strategyFor(info);
      serve(info, strategy, new VersionedStore(info, strategy, storage, deps, this.store(stored), convert));
    }
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

  byResource(group: string, version: string, resource: string): Store | undefined {
    for (const [info, s] of this.stores) if (info.group === group && info.version === version && info.resource === resource) return s;
    return undefined;
  }
}

export { Store } from './store.js';
export type { CacherConfig, StoreDeps } from './store.js';
export type { Admission, Clock } from './rest.js';
