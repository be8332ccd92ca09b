// Images made on this machine, for a node without internet (issue 23): busybox from the host's busybox-static, a
// one-layer OCI image layout (the binary plus every applet as a relative symlink, /etc/passwd and /etc/group).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { sha256 } from './content-store.js';
import { MEDIA, hostPlatform } from './oci.js';

/** Debian's busybox-static (a static binary: it runs in an image with nothing else). */
export const HOST_BUSYBOX = '/bin/busybox';

/** The names `ketch up` gives the host's busybox: the quick start's and the default tag. */
export const HOST_BUSYBOX_TAGS = ['docker.io/library/busybox:1.36', 'docker.io/library/busybox:latest'];

/**
 * Writes busybox's root filesystem into rootfs: the binary, each applet a symlink to it (relative, or absolute with
 * absoluteLinks), and root/nobody.
 */
export async function writeBusyboxRootfs(rootfs: string, opts: { busybox?: string; absoluteLinks?: boolean | undefined } = {}): Promise<void> {
  const busybox = opts.busybox ?? HOST_BUSYBOX;
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile(busybox, join(rootfs, 'bin/busybox'));
  const { stdout } = await promisify(execFile)(busybox, ['--list-full'], { encoding: 'utf8' });
  for (const p of stdout.split('\n').filter(Boolean)) {
    if (p === 'bin/busybox' || p.includes('..')) continue;
    await mkdir(dirname(join(rootfs, p)), { recursive: true });
    const target = opts.absoluteLinks ? '/bin/busybox' : relative(dirname(join(rootfs, p)), join(rootfs, 'bin/busybox'));
    await symlink(target, join(rootfs, p)).catch((err: NodeJS.ErrnoException) => {
      // An applet listed twice (or under a name that is a directory here) keeps its first entry.
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/**
 * Writes an OCI image-layout tar of the host's busybox to file, its manifests named by refs (full references, as
 * ImageStore.loadArchive reads them). Throws when the host has no busybox-static.
 */
export async function writeHostBusyboxArchive(file: string, refs: string[], busybox = HOST_BUSYBOX): Promise<void> {
  if (!existsSync(busybox)) throw new Error(`${busybox} is missing: apt-get install -y busybox-static`);
  const work = await mkdtemp(join(tmpdir(), 'ketch-host-image-'));
  try {
    const rootfs = join(work, 'rootfs');
    await writeBusyboxRootfs(rootfs, { busybox });
    await tar.c({ file: join(work, 'layer.tar'), cwd: rootfs, portable: true }, ['.']);
    const layer = await readFile(join(work, 'layer.tar'));
    const layout = join(work, 'layout');
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    const put = async (b: Buffer): Promise<string> => {
      const d = sha256(b);
      await writeFile(join(layout, 'blobs', 'sha256', d.slice(7)), b);
      return d;
    };
    const gz = gzipSync(layer);
    const config = Buffer.from(
      JSON.stringify({
        ...hostPlatform(),
        created: '1970-01-01T00:00:00Z',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
        history: [{ created: '1970-01-01T00:00:00Z', created_by: `ketch: ${busybox} of this host` }],
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await put(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await put(gz), size: gz.length }],
      }),
    );
    const digest = await put(manifest);
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const manifests = refs.map((ref) => ({ mediaType: MEDIA.ociManifest, digest, size: manifest.length, annotations: { 'io.containerd.image.name': ref } }));
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
    await tar.c({ file, cwd: layout, portable: true }, ['oci-layout', 'index.json', 'blobs']);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Whether this network namespace has a default route (IPv4, or IPv6 other than the kernel's reject route on lo): without
 * one no registry on the internet can answer, so `ketch up` makes busybox here instead.
 */
export function hasDefaultRoute(route: string, ipv6Route: string): boolean {
  const v4 = route.split('\n').slice(1).some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === '00000000' && f[7] === '00000000' && (parseInt(f[3] ?? '0', 16) & 1) === 1; // RTF_UP
  });
  const v6 = ipv6Route.split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return /^0{32}$/.test(f[0] ?? '') && f[1] === '00' && f[9] !== 'lo' && (parseInt(f[8] ?? '0', 16) & 0x200) === 0; // RTF_REJECT
  });
  return v4 || v6;
}
