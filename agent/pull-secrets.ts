// Registry credentials from a pod's imagePullSecrets (kubelet's credentialprovider BasicDockerKeyring): secrets of
// type kubernetes.io/dockerconfigjson ({"auths": {...}}) and kubernetes.io/dockercfg (the map itself), each key a
// registry host, host:port or host/path prefix ("*." globs a host label); an image gets the credentials of every key
// that matches it, most specific first, and the pull tries them in turn.
import type { Secret } from '../api/index.js';
import type { AuthConfig, DeepPartial } from './cri/index.js';

const DEFAULT_REGISTRY = 'index.docker.io';

interface DockerConfigEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** host (with port) and path of a scheme-less "host[:port][/path]" string. */
function split(s: string): { host: string; port: string; path: string } {
  const rest = s.replace(/^https?:\/\//, '');
  const slash = rest.indexOf('/');
  const hostPort = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const m = /^(.*?)(?::(\d+))?$/.exec(hostPort);
  return { host: (m?.[1] ?? hostPort).toLowerCase(), port: m?.[2] ?? '', path };
}

/** The keyring key of a docker config location: host[:port] plus its path without /v1/ or /v2/. */
function keyOf(location: string): string {
  const { host, port, path } = split(location);
  let effective = path;
  if (effective.startsWith('/v2/') || effective.startsWith('/v1/')) effective = effective.slice(3);
  const h = port ? `${host}:${port}` : host;
  return effective && effective !== '/' ? `${h}${effective}` : h;
}

/** A host glob label by label ("*" matches one label), the same port, and the path as a prefix (kubelet's URLsMatch). */
export function keyMatches(key: string, image: string): boolean {
  const g = split(key);
  const t = split(image);
  if (g.port !== t.port) return false;
  const gl = g.host.split('.');
  const tl = t.host.split('.');
  if (gl.length !== tl.length) return false;
  if (!t.path.startsWith(g.path)) return false;
  return gl.every((label, i) => globLabel(label, tl[i] ?? ''));
}

function globLabel(glob: string, label: string): boolean {
  if (!glob.includes('*')) return glob === label;
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`);
  return re.test(label);
}

/** docker.io images ("busybox", "library/busybox", "docker.io/x/y") take the credentials of index.docker.io. */
function isDefaultRegistry(image: string): boolean {
  const first = image.split('/')[0] ?? '';
  if (first === 'docker.io' || first === DEFAULT_REGISTRY) return true;
  return !image.includes('/') || !(first.includes('.') || first.includes(':') || first === 'localhost');
}

function toAuth(location: string, e: DockerConfigEntry): DeepPartial<AuthConfig> {
  let { username, password } = e;
  if (e.auth) {
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  return {
    serverAddress: location,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(e.identitytoken ? { identityToken: e.identitytoken } : {}),
    ...(e.registrytoken ? { registryToken: e.registrytoken } : {}),
  };
}

/** The docker config entries of a pull secret; a secret of another type (or unreadable data) gives none. */
export function dockerConfigOf(secret: Secret): Record<string, DockerConfigEntry> {
  const data = secret.data ?? {};
  try {
    if (secret.type === 'kubernetes.io/dockerconfigjson' && data['.dockerconfigjson']) {
      const doc = JSON.parse(Buffer.from(data['.dockerconfigjson'], 'base64').toString('utf8')) as { auths?: Record<string, DockerConfigEntry> };
      return doc.auths ?? {};
    }
    if (secret.type === 'kubernetes.io/dockercfg' && data['.dockercfg']) {
      return JSON.parse(Buffer.from(data['.dockercfg'], 'base64').toString('utf8')) as Record<string, DockerConfigEntry>;
    }
  } catch (err) {
    throw new Error(`image pull secret ${secret.metadata.namespace ?? ''}/${secret.metadata.name ?? ''} is not valid ${secret.type} data: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {};
}

export class Keyring {
  private readonly entries: { key: string; auth: DeepPartial<AuthConfig> }[] = [];

  constructor(secrets: Secret[]) {
    for (const s of secrets) {
      for (const [location, entry] of Object.entries(dockerConfigOf(s))) this.entries.push({ key: keyOf(location), auth: toAuth(location, entry) });
    }
    // Most specific (longest) key first, as kubelet sorts its index; the sort is stable for equal lengths.
    this.entries.sort((a, b) => b.key.length - a.key.length);
  }

  /** The credentials to try for `image` (a reference without tag or digest is enough), best first. */
  lookup(image: string): DeepPartial<AuthConfig>[] {
    const repo = image.replace(/@.*$/, '').replace(/:[^/]*$/, '');
    const found = this.entries.filter((e) => keyMatches(e.key, repo)).map((e) => e.auth);
    if (found.length || !isDefaultRegistry(repo)) return found;
    return this.entries.filter((e) => e.key === DEFAULT_REGISTRY || e.key === 'docker.io').map((e) => e.auth);
  }
}
