// A fake informer: objects held in memory and handed to handlers as an informer would (adds, updates, deletes). For
// driving the service proxy without an API server where that is the point: 1,000 services in a test or a benchmark.
import type { EventHandlers } from '../../client/informer.js';
import type { ObjectLike } from '../../client/rest.js';

const keyOf = (o: ObjectLike): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class MemoryInformer<T extends ObjectLike> {
  private readonly items = new Map<string, T>();
  private readonly handlers: EventHandlers<T>[] = [];

  addEventHandler(h: EventHandlers<T>): void {
    this.handlers.push(h);
    for (const o of this.items.values()) h.onAdd?.(o);
  }

  waitForSync(): Promise<void> {
    return Promise.resolve();
  }

  set(obj: T): void {
    const old = this.items.get(keyOf(obj));
    this.items.set(keyOf(obj), obj);
    for (const h of this.handlers) {
      if (old) h.onUpdate?.(old, obj);
      else h.onAdd?.(obj);
    }
  }

  delete(obj: T): void {
    if (!this.items.delete(keyOf(obj))) return;
    for (const h of this.handlers) h.onDelete?.(obj);
  }
}
