// Test support: the offline busybox image (agent/runtime/testing) with a history entry per layer, as registries'
// images have (buildah refuses a base image whose history does not account for its layers), pushed to a registry.
import { createHash } from 'node:crypto';
import { buildBusyboxImage } from '../runtime/oci-image.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function putBlob(base: string, repo: string, data: Buffer): Promise<void> {
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
  const loc = new URL(start.headers.get('location') ?? '', base);
  loc.searchParams.set('digest', sha(data));
  const put = await fetch(loc, { method: 'PUT', body: data });
  if (put.status !== 201) throw new Error(`upload: ${put.status} ${await put.text()}`);
}

/** Pushes busybox as REPO:TAG to the registry at `base` (http://host:port, no auth); returns the manifest digest. */
export async function pushBusyboxBase(base: string, repo: string, tag: string): Promise<string> {
  const img = await buildBusyboxImage();
  try {
    const cfg = JSON.parse(img.config.toString()) as Record<string, unknown>;
    cfg.history = img.layers.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'busybox-static (ketch test image)' }));
    const config = Buffer.from(JSON.stringify(cfg));
    const manifest = JSON.parse(img.manifest.toString()) as { config: { digest: string; size: number }; mediaType: string };
    manifest.config = { ...manifest.config, digest: sha(config), size: config.length };
    const body = Buffer.from(JSON.stringify(manifest));
    for (const b of [config, ...img.layers.map((l) => l.data)]) await putBlob(base, repo, b);
    const r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': manifest.mediaType } });
    if (r.status !== 201) throw new Error(`manifest: ${r.status} ${await r.text()}`);
    return sha(body);
  } finally {
    await img.dispose();
  }
}
