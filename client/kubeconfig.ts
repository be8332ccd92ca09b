// Reads a kubeconfig (KUBECONFIG, ~/.kube/config, or a path) into what the REST client needs for one context. A
// cluster may name several API servers of one control plane: `--server a,b`, or a `ketch.dev/servers` extension of
// the cluster entry (kubectl keeps and ignores it, and uses `server`).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import YAML from 'yaml';

export interface ClientConfig {
  /** The API server; the first of `servers` when there are several. */
  server: string;
  /** Every API server of the control plane, when there are several: the REST client balances between them. */
  servers?: string[];
  /** PEM of the CA that signed the server's certificate. */
  ca?: string;
  /** PEM client certificate and key (x509 authentication). */
  cert?: string;
  key?: string;
  token?: string;
  /** A token that changes (a service account's, refreshed before it expires): read at each request, over `token`. */
  tokenSource?: () => string;
  insecureSkipTLSVerify?: boolean;
  /**
   * A Unix socket of the API server's to talk plain HTTP over instead of `server` (`ketch server`'s own components:
   * <data-dir>/local/apiserver.sock, in a directory only its owner may enter). The token goes over it too.
   */
  socketPath?: string;
  /** The namespace of the context, or "default". */
  namespace: string;
  contextName?: string;
}

interface NamedCluster {
  name: string;
  cluster: {
    server: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
    'insecure-skip-tls-verify'?: boolean;
    extensions?: { name: string; extension?: { servers?: unknown } }[];
  };
}

/** The cluster extension that lists a control plane's API servers. */
export const SERVERS_EXTENSION = 'ketch.dev/servers';

/** The servers of a cluster entry: `server`, then those of its servers extension, each once. */
function clusterServers(cluster: NamedCluster['cluster']): string[] {
  const listed = cluster.extensions?.find((e) => e.name === SERVERS_EXTENSION)?.extension?.servers;
  const more = Array.isArray(listed) ? listed.filter((s): s is string => typeof s === 'string') : [];
  return [...new Set([cluster.server, ...more].map(trimServer))];
}

const trimServer = (s: string): string => s.trim().replace(/\/+$/, '');
interface NamedUser {
  name: string;
  user: {
    token?: string;
    tokenFile?: string;
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
  };
}
interface NamedContext {
  name: string;
  context: { cluster: string; user: string; namespace?: string };
}
export interface KubeconfigFile {
  apiVersion?: string;
  kind?: string;
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  'current-context'?: string;
}

export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

/** The kubeconfig files in effect: an explicit path, else $KUBECONFIG (colon-separated), else ~/.kube/config. */
export function kubeconfigPaths(explicit?: string): string[] {
  if (explicit) return [explicit];
  const env = process.env.KUBECONFIG;
  if (env) return env.split(delimiter).filter(Boolean);
  return [join(homedir(), '.kube', 'config')];
}

/** Merges files as kubectl does: the first file that defines a name wins; current-context from the first that sets it. */
export function readKubeconfig(paths: string[]): { file: KubeconfigFile; baseDirs: Map<object, string> } {
  const merged: Required<Pick<KubeconfigFile, 'clusters' | 'users' | 'contexts'>> & KubeconfigFile = { clusters: [], users: [], contexts: [] };
  const baseDirs = new Map<object, string>();
  let read = 0;
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    read++;
    const f = (YAML.parse(text) ?? {}) as KubeconfigFile;
    for (const c of f.clusters ?? []) if (!merged.clusters.some((x) => x.name === c.name)) (merged.clusters.push(c), baseDirs.set(c, dirname(p)));
    for (const u of f.users ?? []) if (!merged.users.some((x) => x.name === u.name)) (merged.users.push(u), baseDirs.set(u, dirname(p)));
    for (const c of f.contexts ?? []) if (!merged.contexts.some((x) => x.name === c.name)) merged.contexts.push(c);
    merged['current-context'] ??= f['current-context'];
  }
  if (!read) throw new KubeconfigError(`no kubeconfig found (looked at ${paths.join(', ')}); pass --kubeconfig or set KUBECONFIG`);
  return { file: merged, baseDirs };
}

export interface LoadOptions {
  kubeconfig?: string;
  context?: string;
  /** Overrides of the context's values (flags such as --server, --token, --namespace). */
  server?: string;
  token?: string;
  namespace?: string;
}

export function loadClientConfig(opts: LoadOptions = {}): ClientConfig {
  const { file, baseDirs } = readKubeconfig(kubeconfigPaths(opts.kubeconfig));
  const ctxName = opts.context ?? file['current-context'];
  if (!ctxName) throw new KubeconfigError('no current context is set in the kubeconfig; pass --context');
  const ctx = file.contexts?.find((c) => c.name === ctxName);
  if (!ctx) throw new KubeconfigError(`context "${ctxName}" does not exist in the kubeconfig`);
  const cluster = file.clusters?.find((c) => c.name === ctx.context.cluster);
  if (!cluster) throw new KubeconfigError(`cluster "${ctx.context.cluster}" of context "${ctxName}" does not exist`);
  const user = file.users?.find((u) => u.name === ctx.context.user);
  const rel = (owner: object, p: string): string => (isAbsolute(p) ? p : join(baseDirs.get(owner) ?? '.', p));
  const dataOrFile = (owner: object, data: string | undefined, path: string | undefined): string | undefined =>
    data ? Buffer.from(data, 'base64').toString('utf8') : path ? readFileSync(rel(owner, path), 'utf8') : undefined;

  // --server a,b (the CLI's and the agent's flag) replaces the cluster's servers.
  const servers = opts.server ? [...new Set(opts.server.split(',').map(trimServer).filter(Boolean))] : clusterServers(cluster.cluster);
  const cfg: ClientConfig = {
    server: servers[0] ?? '',
    ...(servers.length > 1 ? { servers } : {}),
    namespace: opts.namespace ?? ctx.context.namespace ?? 'default',
    contextName: ctxName,
  };
  const ca = dataOrFile(cluster, cluster.cluster['certificate-authority-data'], cluster.cluster['certificate-authority']);
  if (ca) cfg.ca = ca;
  if (cluster.cluster['insecure-skip-tls-verify']) cfg.insecureSkipTLSVerify = true;
  if (user) {
    const cert = dataOrFile(user, user.user['client-certificate-data'], user.user['client-certificate']);
    const key = dataOrFile(user, user.user['client-key-data'], user.user['client-key']);
    if (cert && key) {
      cfg.cert = cert;
      cfg.key = key;
    }
    const token = user.user.token ?? (user.user.tokenFile ? readFileSync(rel(user, user.user.tokenFile), 'utf8').trim() : undefined);
    if (token) cfg.token = token;
  }
  if (opts.token) cfg.token = opts.token;
  return cfg;
}
