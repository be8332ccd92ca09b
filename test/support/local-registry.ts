// Serves the busybox test image from a real docker-registry on loopback, as docker.io/library/busybox:1.36 through a
// mirror: `npx tsx test/support/local-registry.ts` prints the mirror URL and keeps running (for trying `ketch up` by hand).
import { buildBusyboxImage, pushImage } from './runtime/oci-image.js';
import { startRegistry } from './runtime/registry.js';

export async function startBusyboxMirror(address?: string): Promise<{ url: string; host: string; stop(): Promise<void> }> {
  const registry = await startRegistry(address ? { address } : {});
  const image = await buildBusyboxImage();
  try {
    await pushImage(registry.url, 'library/busybox', '1.36', image);
    await pushImage(registry.url, 'library/busybox', 'latest', image);
  } finally {
    await image.dispose();
  }
  return { url: registry.url, host: registry.host, stop: () => registry.stop() };
}

if (process.argv[1]?.endsWith('local-registry.ts')) {
  const m = await startBusyboxMirror();
  console.log(`mirror: --registry-mirror docker.io=${m.url}`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await m.stop();
}
