// The registry: one generic Store per served resource, each with its kind's strategy.
import { RESOURCES, type ResourceInfo } from '../../api/resources.js';
import type { Storage } from '../storage/interface.js';
import { strategyFor } from './kinds/index.js';
import type { ServiceRanges } from './kinds/service.js';
import { Store, type Admission, type Clock, type WatchCacheConfig } from './store.js';

export class Registry {
  private readonly stores = new Map<ResourceInfo, Store>();

  constructor(storage: Storage, deps: { clock: Clock; admission: Admission[]; serviceRanges?: ServiceRanges; watchCache?: WatchCacheConfig }) {
    for (const info of RESOURCES) {
      const strategy = strategyFor(info, deps.serviceRanges ? { serviceRanges: deps.serviceRanges } : {});
      this.stores.set(info, new Store(info, strategy, storage, deps));
    }
  }

  store(info: ResourceInfo): Store {
    const s = this.stores.get(info);
    if (!s) throw new Error(`no store for ${info.resource}`);
    return s;
  }

  /** Stops every resource type's watch cache (and so its storage watch). */
  close(): void {
    for (const s of this.stores.values()) s.close();
  }

  byResource(group: string, version: string, resource: string): Store | undefined {
    for (const [info, s] of this.stores) if (info.group === group && info.version === version && info.resource === resource) return s;
    return undefined;
  }
}

export { Store } from './store.js';
export type { Admission, Clock, WatchCacheConfig } from './store.js';
