// A real API server for tests: embedded in-memory store (or a given one), random loopback port, temp data dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import type { Storage } from '../../apiserver/storage/interface.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';

export interface TestApiServer {
  api: ApiServer;
  storage: Storage;
  rest: RestClient;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestApiServer(opts: { storage?: Storage } = {}): Promise<TestApiServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-api-'));
  const storage = opts.storage ?? new EmbeddedStorage({ path: ':memory:' });
  const api = await startApiServer({ dataDir, securePort: 0, bindAddress: '127.0.0.1', storage });
  const rest = new RestClient(loadClientConfig({ kubeconfig: api.adminKubeconfigPath }));
  return {
    api,
    storage,
    rest,
    dataDir,
    stop: async () => {
      await api.close();
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
