// Test support: a Source the test fills by hand (what an informer would deliver), for kinds a test feeds directly.
import type { EventHandlers } from '../../../client/index.js';
import type { Source } from '../types.js';

interface Named {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
}

const keyOf = (o: Named): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

export class StaticSource<T extends Named> implements Source<T> {
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly items = new Map<string, T>();
  hasSynced: boolean;

  constructor(items: T[] = [], synced = true) {
    for (const o of items) this.items.set(keyOf(o), o);
    this.hasSynced = synced;
  }

  addEventHandler(h: EventHandlers<T>): void {
    this.handlers.push(h);
    for (const o of this.items.values()) h.onAdd?.(o);
  }

  /** Adds or replaces an object, as a watch event would. */
  set(obj: T): void {
    const old = this.items.get(keyOf(obj));
    this.items.set(keyOf(obj), obj);
    for (const h of this.handlers) {
      if (old) h.onUpdate?.(old, obj);
      else h.onAdd?.(obj);
    }
  }

  delete(obj: T): void {
    const old = this.items.get(keyOf(obj));
    if (!old) return;
    this.items.delete(keyOf(obj));
    for (const h of this.handlers) h.onDelete?.(old);
  }
}
