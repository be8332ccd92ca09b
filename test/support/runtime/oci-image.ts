// Test support: builds a busybox OCI image offline (from the host's busybox-static) and pushes it to a registry.
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { writeBusyboxRootfs } from '../../../agent/runtime/host-image.js';

export interface BuiltImage {
  manifestType: string;
  /** An OCI image layout directory (oci-layout, index.json, blobs/sha256). */
  layout: string;
  /** Removes the temporary files. */
  dispose(): Promise<void>;
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: { digest: string; data: Buffer }[];
}

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface ImageOptions {
  tag?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  /** Extra files written into the layer: path -> content. */
  files?: Record<string, string>;
  /** Docker schema-2 media types instead of OCI ones. */
  docker?: boolean;
  /** Applets as absolute symlinks (/bin/sh -> /bin/busybox), as alpine has them, instead of relative ones. */
  absoluteLinks?: boolean;
  /** The image config's User. */
  user?: string;
  /** Host files or directories copied into the image at the same paths, symlinks followed (a program and its libraries). */
  hostPaths?: string[];
}

const TYPES = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
};

/** Rootfs = /bin/busybox plus every applet as a relative symlink (the recipe's "1b"). */
export async function buildBusyboxImage(opts: ImageOptions = {}): Promise<BuiltImage> {
  const work = await mkdtemp(join(tmpdir(), 'ketch-img-'));
  const rootfs = join(work, 'rootfs');
  await writeBusyboxRootfs(rootfs, { absoluteLinks: opts.absoluteLinks });
  for (const [p, content] of Object.entries(opts.files ?? {})) {
    await mkdir(dirname(join(rootfs, p)), { recursive: true });
    await writeFile(join(rootfs, p), content);
  }
  for (const p of opts.hostPaths ?? []) await cp(p, join(rootfs, p), { recursive: true, dereference: true });
  const layerTar = join(work, 'layer.tar');
  await tar.c({ file: layerTar, cwd: rootfs, portable: true, noMtime: false }, ['.']);
  const layout = join(work, 'layout');
  const image = await writeLayout(layout, [await readFile(layerTar)], opts);
  await rm(rootfs, { recursive: true, force: true });
  return { ...image, dispose: () => rm(work, { recursive: true, force: true }) };
}

/** A small image without busybox: one layer per entry of `layers` (path -> content), for image-store tests. */
export async function buildTinyImage(layers: Record<string, string>[], opts: ImageOptions = {}): Promise<BuiltImage> {
  const work = await mkdtemp(join(tmpdir(), 'ketch-img-'));
  const tars: Buffer[] = [];
  for (const [i, files] of layers.entries()) {
    const dir = join(work, `l${i}`);
    await mkdir(dir, { recursive: true });
    for (const [p, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, p)), { recursive: true });
      await writeFile(join(dir, p), content);
    }
    // A fixed mtime makes equal layers byte-equal whenever they were written (shared layers share a digest).
    await tar.c({ cwd: dir, portable: true, mtime: new Date('2000-01-01T00:00:00Z'), file: `${dir}.tar` }, Object.keys(files));
    tars.push(await readFile(`${dir}.tar`));
  }
  const image = await writeLayout(join(work, 'layout'), tars, opts);
  return { ...image, dispose: () => rm(work, { recursive: true, force: true }) };
}

/** An image whose layers are the given tar streams (hostile ones included), on top of the busybox layer when `busybox`. */
export async function buildImageFromTars(tars: Buffer[], opts: ImageOptions & { busybox?: boolean } = {}): Promise<BuiltImage> {
  const work = await mkdtemp(join(tmpdir(), 'ketch-img-'));
  const base = opts.busybox ? await buildBusyboxImage(opts) : undefined;
  const below = base ? [gunzipSync(base.layers[0]?.data ?? Buffer.alloc(0))] : [];
  await base?.dispose();
  const image = await writeLayout(join(work, 'layout'), [...below, ...tars], opts);
  return { ...image, dispose: () => rm(work, { recursive: true, force: true }) };
}

/** Writes an OCI layout from uncompressed layer tars. */
export async function writeLayout(layout: string, layerTars: Buffer[], opts: ImageOptions = {}): Promise<BuiltImage> {
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Buffer): Promise<string> => {
    const d = digestOf(b);
    await writeFile(join(blobs, d.slice(7)), b);
    return d;
  };
  const layers: { digest: string; data: Buffer; diffId: string }[] = [];
  for (const t of layerTars) {
    const gz = gzipSync(t);
    layers.push({ digest: await put(gz), data: gz, diffId: digestOf(t) });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: {
        Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello'],
        ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
        Cmd: opts.cmd ?? ['/bin/sh', '-c', 'echo $GREETING from busybox'],
        WorkingDir: '/',
        ...(opts.user !== undefined ? { User: opts.user } : {}),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const configDigest = await put(config);
  const types = opts.docker ? TYPES.docker : TYPES.oci;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: { mediaType: types.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: types.layer, digest: l.digest, size: l.data.length })),
    }),
  );
  const manifestDigest = await put(manifest);
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: types.manifest,
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': opts.tag ?? 'v1' },
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    }),
  );
  return {
    manifestType: types.manifest,
    layout,
    dispose: () => rm(layout, { recursive: true, force: true }),
    manifest,
    manifestDigest,
    config,
    configDigest,
    layers: layers.map(({ digest, data }) => ({ digest, data })),
  };
}

/** Packs an image layout into a tar file (what loadImageArchive reads). */
export async function archiveLayout(image: BuiltImage, file: string): Promise<void> {
  await tar.c({ file, cwd: image.layout, portable: true }, ['oci-layout', 'index.json', 'blobs']);
}

/** Pushes an image through the v2 API: monolithic blob uploads, then the manifest under `tag`. */
export async function pushImage(registry: string, repository: string, tag: string, image: BuiltImage): Promise<void> {
  const blobs = [{ digest: image.configDigest, data: image.config }, ...image.layers];
  for (const b of blobs) {
    const start = await fetch(`${registry}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('location') ?? '', registry);
    location.searchParams.set('digest', b.digest);
    const put = await fetch(location, { method: 'PUT', body: b.data, headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`upload ${b.digest}: HTTP ${put.status} ${await put.text()}`);
  }
  await pushManifest(registry, repository, tag, image.manifest, image.manifestType);
}

export async function pushManifest(registry: string, repository: string, ref: string, body: Buffer, mediaType: string): Promise<void> {
  const res = await fetch(`${registry}/v2/${repository}/manifests/${ref}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  if (res.status !== 201) throw new Error(`manifest push: HTTP ${res.status} ${await res.text()}`);
}

/** An index (or docker manifest list) naming `image` as linux/amd64 and `other` as linux/arm64. */
export function multiArchIndex(image: BuiltImage, other: BuiltImage, docker: boolean): { body: Buffer; mediaType: string } {
  const mediaType = docker ? 'application/vnd.docker.distribution.manifest.list.v2+json' : 'application/vnd.oci.image.index.v1+json';
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: [
        { mediaType: other.manifestType, digest: other.manifestDigest, size: other.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
        { mediaType: image.manifestType, digest: image.manifestDigest, size: image.manifest.length, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    }),
  );
  return { body, mediaType };
}
