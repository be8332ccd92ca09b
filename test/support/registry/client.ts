// Test support: a small distribution-spec client (fetch) for the registry's tests and benchmark.
import { createHash } from 'node:crypto';

export const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export class TestClient {
  constructor(
    readonly base: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  withHeaders(h: Record<string, string>): TestClient {
    return new TestClient(this.base, { ...this.headers, ...h });
  }

  fetch(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    const url = /^https?:/.test(path) ? path : `${this.base}${path}`;
    return fetch(url, { ...init, headers: { ...this.headers, ...(init.headers ?? {}) }, redirect: 'manual' });
  }

  /** POST then PUT ?digest= (two requests), as most clients push a blob. */
  async pushBlob(repo: string, data: Buffer, digest = sha(data)): Promise<Response> {
    const start = await this.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
    const loc = new URL(start.headers.get('location') ?? '', this.base);
    loc.searchParams.set('digest', digest);
    return this.fetch(loc.toString(), { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
  }

  async pushManifest(repo: string, ref: string, body: Buffer | string, mediaType: string): Promise<Response> {
    return this.fetch(`/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  }

  /** Pushes config + layers and a manifest; returns the manifest digest. */
  async pushImage(repo: string, tag: string, image: { config: Buffer; layers: Buffer[]; mediaType?: string; extra?: Record<string, unknown> }): Promise<{ digest: string; body: Buffer }> {
    const mediaType = image.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
    const docker = mediaType.includes('docker');
    for (const b of [image.config, ...image.layers]) {
      const r = await this.pushBlob(repo, b);
      if (r.status !== 201) throw new Error(`blob push: ${r.status} ${await r.text()}`);
    }
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: sha(image.config), size: image.config.length },
        layers: image.layers.map((l) => ({ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(l), size: l.length })),
        ...(image.extra ?? {}),
      }),
    );
    const r = await this.pushManifest(repo, tag, body, mediaType);
    if (r.status !== 201) throw new Error(`manifest push: ${r.status} ${await r.text()}`);
    return { digest: sha(body), body };
  }

  async errorCode(res: Response): Promise<string | undefined> {
    const doc = (await res.json()) as { errors?: { code?: string }[] };
    return doc.errors?.[0]?.code;
  }
}

/** A config blob naming `layers` uncompressed diff ids (contents do not matter to the registry). */
export function fakeConfig(tag: string): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { tag } }, rootfs: { type: 'layers', diff_ids: [] } }));
}
