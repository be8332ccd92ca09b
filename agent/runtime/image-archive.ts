// `ketch image save`: images of the store written as one OCI image-layout tar (oci-layout, index.json, blobs/sha256),
// what `ketch image load`, `skopeo copy oci-archive:` and `docker load` read. Each manifest is listed once per tag,
// annotated with the tag (org.opencontainers.image.ref.name) and the full name (io.containerd.image.name), as
// containerd's exporter does.
import { link, mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import * as tar from 'tar';
import { logger } from '../../lib/logger.js';
import type { ImageStore } from './image-store.js';
import { parseReference, repoName } from './reference.js';

const log = logger('runtime');

/** The media type a stored manifest declares (an OCI manifest when it declares none). */
function mediaTypeOf(manifest: Buffer): string {
  const doc = JSON.parse(manifest.toString('utf8')) as { mediaType?: unknown };
  return typeof doc.mediaType === 'string' ? doc.mediaType : 'application/vnd.oci.image.manifest.v1+json';
}

/** The full tag a name asks for (docker.io/library/busybox:1.36 for busybox:1.36); undefined for an id or a digest. */
function askedTag(name: string): string | undefined {
  if (/^(sha256:)?[0-9a-f]{12,64}$/.test(name) || name.includes('@')) return undefined;
  const ref = parseReference(name);
  return `${repoName(ref)}:${ref.tag ?? 'latest'}`;
}

/** Writes the images `names` (tags, digests or ids) to `file`; returns the names written. */
export async function saveImageArchive(store: ImageStore, names: string[], file: string): Promise<string[]> {
  const out = resolve(file);
  const dir = await mkdtemp(join(dirname(out), '.ketch-save-'));
  try {
    const blobs = join(dir, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const manifests: object[] = [];
    const written: string[] = [];
    for (const name of names) {
      const r = await store.get(name);
      for (const digest of [r.manifestDigest, r.id, ...r.layers.map((l) => l.digest)]) {
        const to = join(blobs, digest.slice('sha256:'.length));
        // A hard link when the store is on the same filesystem; a copy when not. Either way a blob already there is the same bytes.
        await link(store.content.path(digest), to).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code === 'EEXIST') return;
          await copyFile(store.content.path(digest), to);
        });
      }
      const manifest = await store.content.read(r.manifestDigest);
      const entry = { mediaType: mediaTypeOf(manifest), digest: r.manifestDigest, size: manifest.length };
      // The image as asked for by a tag, else every tag it has, else no name (loaded under the archive's name).
      const asked = askedTag(name);
      const tags = asked && r.repoTags.includes(asked) ? [asked] : r.repoTags;
      if (!tags.length) manifests.push(entry);
      for (const t of tags) {
        manifests.push({ ...entry, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': parseReference(t).tag ?? 'latest' } });
        written.push(t);
      }
      if (!tags.length) written.push(r.id);
    }
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    await tar.c({ file: out, cwd: dir, portable: true }, ['oci-layout', 'index.json', 'blobs']);
    log.info('image archive saved', { file: out, images: written });
    return written;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
