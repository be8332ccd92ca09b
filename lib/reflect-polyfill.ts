// The three Reflect metadata functions @peculiar/x509's dependency tsyringe needs (reflect-metadata is not installed).
// Import this before @peculiar/x509. It does nothing when a full polyfill is already loaded.
type Key = unknown;
type Target = object;
const store = new WeakMap<Target, Map<string | symbol | undefined, Map<Key, unknown>>>();

function table(target: Target, prop: string | symbol | undefined, create: boolean): Map<Key, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    store.set(target, (byProp = new Map()));
  }
  let t = byProp.get(prop);
  if (!t && create) byProp.set(prop, (t = new Map()));
  return t;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  R.defineMetadata = (key: Key, value: unknown, target: Target, prop?: string | symbol): void => {
    table(target, prop, true)?.set(key, value);
  };
  R.getOwnMetadata = (key: Key, target: Target, prop?: string | symbol): unknown => table(target, prop, false)?.get(key);
  R.getMetadata = (key: Key, target: Target, prop?: string | symbol): unknown => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      const m = table(t, prop, false);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
}
export {};
