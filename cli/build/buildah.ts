// Image builds driven through buildah (Debian's package): Dockerfile semantics, multi-stage, --layers cache and
// .dockerignore are buildah's; ketch gives it its own storage (overlay, vfs where overlay cannot mount), a
// registries.conf from the same mirror and insecure-registry flags as the runtime's, the cluster's CA and
// credentials for the built-in registry, and loads the result into the node's image store (as `ketch image load`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadImageArchive } from '../../agent/runtime/index.js';
import { CliError } from '../errors.js';

export const DEFAULT_BUILD_ROOT = '/var/lib/ketch/build';

export interface RegistryAccess {
  /** PEM of the CA the registries' certificates chain to (the cluster CA). */
  caPem?: string;
  /** A client certificate and key (the kubeconfig's), presented to the registry's token endpoint. */
  certPem?: string;
  keyPem?: string;
  /** user:password for registries (a cluster token as the password for the built-in one). */
  creds?: string;
}

export interface BuildRequest {
  context: string;
  dockerfile?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  push: boolean;
  /** Load the image into the node's image store (the runtime root). */
  load: boolean;
  runtimeRoot: string;
  buildRoot: string;
  noCache?: boolean;
  insecureRegistries: string[];
  /** registry -> mirror host, as the runtime's --registry-mirror (docker.io=http://127.0.0.1:5000). */
  mirrors: Record<string, string>;
  access: RegistryAccess;
  /** Where buildah's progress goes (stderr). */
  progress: (text: string) => void;
}

export interface BuildResult {
  imageId: string;
  /** Manifest digest of each pushed tag. */
  pushed: Record<string, string>;
  /** Names loaded into the node's image store. */
  loaded: string[];
}

function hostOf(url: string): string {
  return url.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** registries.conf: short names from docker.io, mirrors and insecure (plain HTTP) registries from the flags. */
export function registriesConf(mirrors: Record<string, string>, insecure: string[]): string {
  const lines = ['unqualified-search-registries = ["docker.io"]', 'short-name-mode = "permissive"', ''];
  const insecureSet = new Set(insecure);
  for (const [registry, url] of Object.entries(mirrors)) {
    const host = hostOf(url);
    lines.push('[[registry]]', `prefix = "${registry}"`, `location = "${registry === 'docker.io' ? 'registry-1.docker.io' : registry}"`, '', '[[registry.mirror]]', `location = "${host}"`);
    if (url.startsWith('http://') || insecureSet.has(host)) lines.push('insecure = true');
    lines.push('');
    insecureSet.delete(host);
  }
  for (const host of insecureSet) lines.push('[[registry]]', `location = "${host}"`, 'insecure = true', '');
  return lines.join('\n');
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => existsSync(join(d, cmd)));
}

/** Runs buildah with ketch's storage and registries.conf; its output goes to `progress`. */
function buildah(req: BuildRequest, driver: string, args: string[]): Promise<void> {
  const full = ['--root', join(req.buildRoot, 'storage'), '--runroot', join(req.buildRoot, 'run'), '--storage-driver', driver, ...args];
  return new Promise((done, fail) => {
    const child = spawn('buildah', full, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONTAINERS_REGISTRIES_CONF: join(req.buildRoot, 'registries.conf'), BUILDAH_LAYERS: 'true' } });
    let tail = '';
    const take = (b: Buffer): void => {
      const s = b.toString();
      tail = (tail + s).slice(-4000);
      req.progress(s);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new CliError(`buildah ${args[0] ?? ''} failed (exit ${code ?? 'signal'}): ${tail.trim().split('\n').slice(-3).join(' | ')}`))));
  });
}

/** overlay where the storage's filesystem can hold it, vfs (copies, slower) where not; remembered per build root. */
async function storageDriver(req: BuildRequest): Promise<string> {
  const file = join(req.buildRoot, 'driver');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  try {
    await buildah(req, 'overlay', ['info']);
    await writeFile(file, 'overlay');
    return 'overlay';
  } catch {
    await writeFile(file, 'vfs');
    return 'vfs';
  }
}

/** A --cert-dir for buildah and skopeo (the caller removes it): ca.crt, and client.cert/client.key when a client certificate is given. */
export async function registryCertDir(access: RegistryAccess): Promise<string | undefined> {
  if (!access.caPem && !access.certPem) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'ketch-build-certs-'));
  if (access.caPem) await writeFile(join(dir, 'ca.crt'), access.caPem);
  if (access.certPem && access.keyPem) {
    await writeFile(join(dir, 'client.cert'), access.certPem);
    await writeFile(join(dir, 'client.key'), access.keyPem, { mode: 0o600 });
  }
  return dir;
}

export async function buildImage(req: BuildRequest): Promise<BuildResult> {
  if (!onPath('buildah')) throw new CliError('ketch build drives buildah, which is not installed: apt-get install -y buildah');
  if (!req.tags.length) throw new CliError('ketch build needs a name: -t REPOSITORY[:TAG]');
  const context = resolve(req.context);
  if (!existsSync(context)) throw new CliError(`build context ${context} does not exist`);
  const dockerfile = resolve(context, req.dockerfile ?? 'Dockerfile');
  if (!existsSync(dockerfile)) throw new CliError(`no Dockerfile at ${dockerfile} (-f FILE)`);
  await mkdir(req.buildRoot, { recursive: true, mode: 0o700 });
  await writeFile(join(req.buildRoot, 'registries.conf'), registriesConf(req.mirrors, req.insecureRegistries));
  const driver = await storageDriver(req);
  const certs = await registryCertDir(req.access);
  const work = await mkdtemp(join(tmpdir(), 'ketch-build-'));
  const auth = [...(certs ? ['--cert-dir', certs] : []), ...(req.access.creds ? ['--creds', req.access.creds] : [])];
  try {
    const iidfile = join(work, 'iid');
    await buildah(req, driver, [
      'build',
      '--layers',
      // Docker's image format keeps HEALTHCHECK (and SHELL) in the config; the OCI format has no field for them.
      '--format', 'docker',
      // RUN steps share the host's network: no CNI bridge or firewall rules are left on the node.
      '--network', 'host',
      '--iidfile', iidfile,
      '-f', dockerfile,
      ...req.tags.flatMap((t) => ['-t', t]),
      ...Object.entries(req.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      ...(req.target ? ['--target', req.target] : []),
      ...(req.noCache ? ['--no-cache'] : []),
      ...auth,
      context,
    ]);
    const imageId = (await readFile(iidfile, 'utf8')).trim();
    const result: BuildResult = { imageId, pushed: {}, loaded: [] };
    if (req.push) {
      for (const tag of req.tags) {
        const digestfile = join(work, 'digest');
        await buildah(req, driver, ['push', '--format', 'v2s2', '--digestfile', digestfile, ...auth, imageId, `docker://${tag}`]);
        result.pushed[tag] = (await readFile(digestfile, 'utf8')).trim();
      }
    }
    if (req.load) {
      const archive = join(work, 'image.tar');
      await buildah(req, driver, ['push', '--format', 'v2s2', imageId, `oci-archive:${archive}`]);
      for (const tag of req.tags) result.loaded.push(...(await loadImageArchive(req.runtimeRoot, archive, { name: tag })));
    }
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
    if (certs) await rm(certs, { recursive: true, force: true });
  }
}
