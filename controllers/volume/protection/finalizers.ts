// Adding and removing one finalizer with an update that carries the object's resourceVersion (a conflict means the
// cache was stale: the sync is retried on the next state).
import { isNotFound } from '../../../api/index.js';
import type { ObjectLike, ResourceClient } from '../../../client/index.js';

export async function addFinalizer<T extends ObjectLike>(client: ResourceClient<T>, obj: T, finalizer: string): Promise<void> {
  const next = structuredClone(obj);
  const meta = (next.metadata ??= {});
  const f = Array.isArray(meta.finalizers) ? (meta.finalizers as string[]) : [];
  if (f.includes(finalizer)) return;
  meta.finalizers = [...f, finalizer];
  await update(client, next);
}

export async function removeFinalizer<T extends ObjectLike>(client: ResourceClient<T>, obj: T, finalizer: string): Promise<void> {
  const next = structuredClone(obj);
  const meta = (next.metadata ??= {});
  const f = Array.isArray(meta.finalizers) ? (meta.finalizers as string[]) : [];
  if (!f.includes(finalizer)) return;
  meta.finalizers = f.filter((x) => x !== finalizer);
  await update(client, next);
}

async function update<T extends ObjectLike>(client: ResourceClient<T>, obj: T): Promise<void> {
  try {
    await client.update(obj);
  } catch (err) {
    if (!isNotFound(err)) throw err; // gone already: nothing left to protect
  }
}
