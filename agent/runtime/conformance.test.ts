// Runs the CRI conformance suite against the ketch shim and against Debian's containerd 1.6 (CRI plugin).
// Needs root, runc, iproute2, docker-registry, containerd and containernetworking-plugins (CI runs as root).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { run } from './exec.js';
import { connectRuntime } from '../cri/client.js';
import { startRuntimeService } from './index.js';
import { startContainerd } from '../../test/support/runtime/containerd.js';
import { runtimeConformance } from '../../test/support/runtime/conformance.js';
import { removeTestBridge } from '../../test/support/runtime/bridge.js';

runtimeConformance('ketch shim', async (env) => {
  const root = await mkdtemp(join(tmpdir(), 'ketch-conf-'));
  const listen = `unix://${join(root, 'cri.sock')}`;
  const bridge = 'ketchconf0';
  const service = await startRuntimeService({ root, listen, bridge, registryMirrors: { [env.mirrorHost]: env.registry.url } });
  const client = connectRuntime(listen, { timeoutMs: 60_000 });
  const podCidr = '10.251.9.0/24';
  await client.runtime.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr } } });
  return {
    client,
    podCidr,
    differences: {
      startFailureCode: grpc.status.INTERNAL,
      hostileLayer: () => ({ code: grpc.status.FAILED_PRECONDITION, message: /layer refused: entry .*"\.\." could leave the layer/ }),
      linkChain: 'kernel',
    },
    async stop() {
      client.close();
      await service.close();
      await removeTestBridge(bridge);
      await rm(root, { recursive: true, force: true });
    },
  };
});

runtimeConformance('containerd 1.6 (CRI plugin)', async (env) => {
  const podCidr = '10.252.9.0/24';
  const containerd = await startContainerd({
    sandboxImage: env.pauseImage,
    insecureRegistries: [env.registry.host],
    registryMirrors: { [env.mirrorHost]: env.registry.url },
    podCidr,
    bridge: 'ketchctrd0',
  });
  const client = connectRuntime(containerd.endpoint, { timeoutMs: 60_000 });
  return {
    client,
    podCidr,
    differences: {
      startFailureCode: grpc.status.UNKNOWN,
      hostileLayer: (kind) => (kind === 'hardlink' ? { code: grpc.status.UNKNOWN, message: /failed to extract layer.*link .*stolen: no such file or directory/ } : undefined),
      linkChain: 'lexical',
    },
    async stop() {
      client.close();
      await containerd.stop();
    },
  };
});
