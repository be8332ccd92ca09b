// What the node-agent suites share: a real docker-registry serving the busybox test image, an in-process API server,
// and a state dir; stop() also removes the suite's pod bridge.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxImage, pushImage } from './runtime/oci-image.js';
import { startRegistry, type TestRegistry } from './runtime/registry.js';
import { startTestApiServer, type TestApiServer } from './cluster.js';

export interface AgentEnv {
  registry: TestRegistry;
  cluster: TestApiServer;
  /** The busybox test image, as a reference the runtime pulls from the registry. */
  image: string;
  root: string;
  stop(): Promise<void>;
}

export async function startAgentEnv(name: string, bridge: string): Promise<AgentEnv> {
  if (process.getuid?.() !== 0) throw new Error('these tests run containers and must run as root (CI does)');
  const [registry, built, cluster] = await Promise.all([startRegistry(), buildBusyboxImage(), startTestApiServer()]);
  await pushImage(registry.url, 'test/busybox', 'v1', built);
  await built.dispose();
  const root = await mkdtemp(join(tmpdir(), `ketch-${name}-`));
  return {
    registry,
    cluster,
    image: `${registry.host}/test/busybox:v1`,
    root,
    stop: async () => {
      await cluster.stop();
      await registry.stop();
      try {
        execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
