// The newest known version of each object: the informer's, or the one this controller last wrote when the watch has not
// brought that back yet. Binding writes four objects in a row (volume, volume status, claim, claim status); reading the
// informer alone, the next sync would see the old halves and "fix" them into conflicts (the PV controller's own caches
// in Kubernetes exist for this).
import { isNewerResourceVersion } from '../../../api/keys.js';
import { keyOf, type Informer } from '../../../client/informer.js';
import type { ObjectLike } from '../../../client/rest.js';

/** a is newer than b by resourceVersion. */
const newer = (a: ObjectLike, b: ObjectLike): boolean => isNewerResourceVersion(a.metadata?.resourceVersion, b.metadata?.resourceVersion);

export class NewestCache<T extends ObjectLike> {
  private readonly written = new Map<string, T>();

  constructor(private readonly informer: Informer<T>) {
    const catchUp = (obj: T): void => {
      const w = this.written.get(keyOf(obj));
      if (w && !newer(w, obj)) this.written.delete(keyOf(obj));
    };
    informer.addEventHandler({ onAdd: catchUp, onUpdate: (_o, n) => catchUp(n), onDelete: (o) => this.written.delete(keyOf(o)) });
  }

  get(key: string): T | undefined {
    const seen = this.informer.indexer.get(key);
    const w = this.written.get(key);
    if (!seen) return undefined; // deleted (or not seen yet): the watch is the judge of existence
    return w && newer(w, seen) ? w : seen;
  }

  list(): T[] {
    return this.informer.indexer.list().map((o) => this.get(keyOf(o)) ?? o);
  }

  /** The versions this controller wrote that the informer has not brought back yet. */
  unseen(): T[] {
    return [...this.written.values()];
  }

  /** Records what a write returned. */
  wrote(obj: T): T {
    this.written.set(keyOf(obj), obj);
    return obj;
  }
}
