// The cluster's certificates: a CA, the serving certificate and the admin client certificate, kept under DIR/pki.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { createCa, DAY_MS, generateKeyPair, isIp, signCertificate, signedBy, subjectAltNames, validity, type CertPair } from '../../lib/x509.js';
import { fileExists } from './files.js';

export type { CertPair } from '../../lib/x509.js';
/** A new self-signed CA (the cluster CA; tests and the front proxy make their own). */
export { createCa } from '../../lib/x509.js';

export interface ClusterPki {
  ca: CertPair;
  serving: CertPair;
  admin: CertPair;
  /** The API server's client certificate towards node agents (logs, exec, attach, port-forward). */
  kubeletClient: CertPair;
  /** The scheduler's and the controller manager's own client certificates (CN system:kube-scheduler, system:kube-controller-manager). */
  scheduler: CertPair;
  controllerManager: CertPair;
}

/** The host's names and addresses, for the serving certificate's SANs. */
export function servingNames(extra: string[] = []): { dns: string[]; ips: string[] } {
  const dns = new Set(['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local']);
  const ips = new Set(['127.0.0.1', '::1']);
  const host = hostname();
  if (host) dns.add(host);
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) ips.add(a.address.replace(/%.*$/, ''));
  for (const e of extra) {
    if (!e || e === '0.0.0.0' || e === '::') continue;
    if (isIp(e)) ips.add(e);
    else dns.add(e);
  }
  return { dns: [...dns], ips: [...ips] };
}

/** Issues a leaf certificate signed by the CA: serving (SANs) or client (CN=user, O=groups). */
export async function issueCert(
  ca: CertPair,
  params: { commonName: string; organizations?: string[]; dns?: string[]; ips?: string[]; usage: 'server' | 'client'; days?: number },
): Promise<CertPair> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const certPem = await signCertificate(ca, {
    subject: { commonName: params.commonName, ...(params.organizations ? { organizations: params.organizations } : {}) },
    publicKey: keys.publicKey,
    usages: ['digital signature', 'key encipherment', params.usage === 'server' ? 'server auth' : 'client auth'],
    ...(params.usage === 'server' ? { dns: params.dns ?? [], ips: params.ips ?? [] } : {}),
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + (params.days ?? 365) * DAY_MS),
  });
  return { certPem, keyPem: keys.keyPem };
}

async function loadPair(dir: string, name: string): Promise<CertPair | undefined> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  if (!(await fileExists(crt)) || !(await fileExists(key))) return undefined;
  const pair = { certPem: await readFile(crt, 'utf8'), keyPem: await readFile(key, 'utf8') };
  // Renew leaf certificates a week before they expire; the CA lasts ten years. A pair whose key is not the
  // certificate's (two writers renewing at once, each file replaced whole) is issued again.
  if (validity(pair.certPem).notAfter.getTime() - Date.now() < 7 * DAY_MS || !keyMatches(pair)) return undefined;
  return pair;
}

function keyMatches(pair: CertPair): boolean {
  const fromKey = createPublicKey(createPrivateKey(pair.keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = new X509Certificate(pair.certPem).publicKey.export({ type: 'spki', format: 'der' });
  return fromKey.equals(fromCert);
}

/** Each file replaced whole (written aside, then renamed): a reader never sees half a PEM block. */
async function savePair(dir: string, name: string, pair: CertPair): Promise<void> {
  for (const [ext, pem, mode] of [['key', pair.keyPem, 0o600], ['crt', pair.certPem, 0o644]] as const) {
    const file = join(dir, `${name}.${ext}`);
    await writeFile(`${file}.${process.pid}.tmp`, pem, { mode });
    await rename(`${file}.${process.pid}.tmp`, file);
  }
}

/** ensurePki calls of this process, one at a time per directory (the serving-certificate reloader calls it too). */
const pkiQueue = new Map<string, Promise<unknown>>();

/** Loads DIR/pki or creates what is missing. A new CA invalidates every leaf signed by an older one. */
export function ensurePki(dataDir: string, extraNames: string[] = []): Promise<ClusterPki> {
  const dir = join(dataDir, 'pki');
  const next = (pkiQueue.get(dir) ?? Promise.resolve()).catch(() => undefined).then(() => loadOrCreatePki(dir, extraNames));
  pkiQueue.set(dir, next);
  void next.finally(() => pkiQueue.get(dir) === next && pkiQueue.delete(dir)).catch(() => undefined);
  return next;
}

async function loadOrCreatePki(dir: string, extraNames: string[]): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let ca = await loadPair(dir, 'ca');
  const freshCa = !ca;
  if (!ca) {
    ca = await createCa('ketch-ca');
    await savePair(dir, 'ca', ca);
  }
  const names = servingNames(extraNames);
  let serving = freshCa ? undefined : await loadPair(dir, 'serving');
  if (serving && !coversNames(serving.certPem, names)) serving = undefined;
  if (!serving) {
    serving = await issueCert(ca, { commonName: 'ketch-apiserver', usage: 'server', ...names });
    await savePair(dir, 'serving', serving);
  }
  const client = async (file: string, commonName: string, organizations: string[] = []): Promise<CertPair> => {
    const have = freshCa ? undefined : await loadPair(dir, file);
    // A certificate of an older issue with other groups (the kubelet client was once in system:masters) is issued again.
    if (have && sameStrings(organizationsOf(have.certPem), organizations)) return have;
    const pair = await issueCert(ca, { commonName, organizations, usage: 'client' });
    await savePair(dir, file, pair);
    return pair;
  };
  return {
    ca,
    serving,
    // kubeadm's admin.conf before 1.29: system:masters, which the authorizer chain allows before asking anyone.
    admin: await client('admin', 'admin', ['system:masters']),
    // kubeadm's apiserver-kubelet-client, but in no group: the bootstrap policy binds it to system:kubelet-api-admin
    // (nodes/proxy, nodes/log, nodes/stats, ...), what the agents' SubjectAccessReview asks; a leaked copy is no admin.
    kubeletClient: await client('kubelet-client', KUBELET_CLIENT_USER),
    scheduler: await client('scheduler', 'system:kube-scheduler'),
    controllerManager: await client('controller-manager', 'system:kube-controller-manager'),
  };
}

/** The user the API server is towards the agents (its kubelet-client certificate's CN). */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

function organizationsOf(certPem: string): string[] {
  return new X509Certificate(certPem).subject.split('\n').filter((l) => l.startsWith('O=')).map((l) => l.slice(2));
}

const sameStrings = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

function coversNames(certPem: string, names: { dns: string[]; ips: string[] }): boolean {
  const san = subjectAltNames(certPem);
  return names.dns.every((d) => san.dns.includes(d)) && names.ips.every((ip) => san.ips.includes(ip));
}

/** A kubeconfig that kubectl and @kubernetes/client-node use as it is. */
export function kubeconfigYaml(opts: { server: string; caPem: string; user: string; client?: CertPair; token?: string }): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const userLines = [
    ...(opts.client ? [`    client-certificate-data: ${b64(opts.client.certPem)}`, `    client-key-data: ${b64(opts.client.keyPem)}`] : []),
    ...(opts.token ? [`    token: ${opts.token}`] : []),
  ];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: ketch',
    '  cluster:',
    `    server: ${opts.server}`,
    `    certificate-authority-data: ${b64(opts.caPem)}`,
    'contexts:',
    '- name: ketch',
    '  context:',
    '    cluster: ketch',
    `    user: ${opts.user}`,
    '    namespace: default',
    'current-context: ketch',
    'users:',
    `- name: ${opts.user}`,
    '  user:',
    ...userLines,
    'preferences: {}',
    '',
  ].join('\n');
}

export interface NodeCredentials {
  /** Client certificate CN system:node:NAME, O system:nodes: the node's identity (Node authorizer, NodeRestriction). */
  client: CertPair;
  /** Serving certificate of the node's agent, signed by the cluster CA, for the host's names and addresses. */
  servingCertFile: string;
  servingKeyFile: string;
}

/**
 * A node's credentials issued directly by the cluster CA under DATA_DIR/pki (for an agent that runs beside the API
 * server, as `ketch up`'s does; other nodes join through the CSR API). Renewed a week before they expire.
 */
export async function ensureNodeCredentials(dataDir: string, nodeName: string, extraNames: string[] = []): Promise<NodeCredentials> {
  const dir = join(dataDir, 'pki');
  const ca = await loadPair(dir, 'ca');
  if (!ca) throw new Error(`no cluster CA under ${dir}: start the API server first`);
  const user = `system:node:${nodeName}`;
  const base = `node-${nodeName.replace(/[^a-zA-Z0-9.-]/g, '_')}`;
  const signedByCa = (pair: CertPair | undefined): boolean => !!pair && signedBy(pair.certPem, ca.certPem);
  let client = await loadPair(dir, base);
  if (!client || !signedByCa(client)) {
    client = await issueCert(ca, { commonName: user, organizations: ['system:nodes'], usage: 'client' });
    await savePair(dir, base, client);
  }
  const names = servingNames([nodeName, ...extraNames]);
  let serving = await loadPair(dir, `${base}-serving`);
  if (!serving || !signedByCa(serving) || !coversNames(serving.certPem, names)) {
    serving = await issueCert(ca, { commonName: user, organizations: ['system:nodes'], usage: 'server', ...names });
    await savePair(dir, `${base}-serving`, serving);
  }
  return { client, servingCertFile: join(dir, `${base}-serving.crt`), servingKeyFile: join(dir, `${base}-serving.key`) };
}
