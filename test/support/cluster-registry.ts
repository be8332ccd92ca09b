// Test support: the built-in registry as a cluster runs it (startClusterRegistry: HTTPS with the cluster CA, reviews
// by a real API server), a --cert-dir holding the CA for skopeo, buildah and containerd, the admin token, and a
// busybox image to push.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClusterRegistry, type RunningRegistry } from '../../registry/server.js';
import { startTestApiServer, type TestApiServer } from './cluster.js';
import { buildBusyboxImage, type BuiltImage } from './runtime/oci-image.js';

export interface ClusterRegistryFixture {
  api: TestApiServer;
  /** A temp dir for the test's files (removed by close()). */
  work: string;
  reg: RunningRegistry;
  /** A cert dir with ca.crt (the cluster CA), as skopeo's and buildah's --cert-dir take it. */
  certDir: string;
  caFile: string;
  /** The admin's token (the API server's token file): a password the token endpoint accepts. */
  adminToken: string;
  image: BuiltImage;
  close(): Promise<void>;
}

export async function startClusterRegistryFixture(): Promise<ClusterRegistryFixture> {
  const api = await startTestApiServer();
  const work = await mkdtemp(join(tmpdir(), 'ketch-creg-'));
  const reg = await startClusterRegistry({ root: join(work, 'registry'), port: 0, host: '127.0.0.1', pkiDir: join(api.dataDir, 'pki'), rest: api.rest });
  const certDir = join(work, 'certs');
  await mkdir(certDir);
  const caFile = join(certDir, 'ca.crt');
  await writeFile(caFile, await readFile(join(api.dataDir, 'pki', 'ca.crt')));
  const adminToken = (await readFile(join(api.dataDir, 'token-file'), 'utf8')).split(',')[0] ?? '';
  const image = await buildBusyboxImage({ tag: 'v1' });
  return {
    api,
    work,
    reg,
    certDir,
    caFile,
    adminToken,
    image,
    async close() {
      await image.dispose();
      await reg.close();
      await api.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}
