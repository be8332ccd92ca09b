// The API server's registry over in-memory embedded storage, without HTTP: for tests of what sits on the stores.
import { Registry } from '../../apiserver/registry/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';

export interface MemoryRegistry {
  registry: Registry;
  close(): Promise<void>;
}

export function memoryRegistry(): MemoryRegistry {
  const storage = new EmbeddedStorage({ path: ':memory:' });
  const registry = new Registry(storage, { clock: { now: () => new Date() }, admission: [] });
  return {
    registry,
    async close() {
      registry.close();
      await storage.close();
    },
  };
}
