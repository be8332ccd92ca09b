// The cluster's certificates: a CA, the serving certificate and the admin client certificate, kept under DIR/pki.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { createCa, DAY_MS, generateKeyPair, isIp, signCertificate, subjectAltNames, validity, type CertPair } from '../../lib/x509.js';
import { fileExists } from './files.js';

export type { CertPair } from '../../lib/x509.js';

export interface ClusterPki {
  ca: CertPair;
  serving: CertPair;
  admin: CertPair;
  /** The API server's client certificate towards node agents (logs, exec, attach, port-forward). */
  kubeletClient: CertPair;
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
  // Renew leaf certificates a week before they expire; the CA lasts ten years.
  if (validity(pair.certPem).notAfter.getTime() - Date.now() < 7 * DAY_MS) return undefined;
  return pair;
}

async function savePair(dir: string, name: string, pair: CertPair): Promise<void> {
  await writeFile(join(dir, `${name}.crt`), pair.certPem, { mode: 0o644 });
  await writeFile(join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
}

/** Loads DIR/pki or creates what is missing. A new CA invalidates every leaf signed by an older one. */
export async function ensurePki(dataDir: string, extraNames: string[] = []): Promise<ClusterPki> {
  const dir = join(dataDir, 'pki');
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
  let admin = freshCa ? undefined : await loadPair(dir, 'admin');
  if (!admin) {
    admin = await issueCert(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
    await savePair(dir, 'admin', admin);
  }
  let kubeletClient = freshCa ? undefined : await loadPair(dir, 'kubelet-client');
  if (!kubeletClient) {
    kubeletClient = await issueCert(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' });
    await savePair(dir, 'kubelet-client', kubeletClient);
  }
  return { ca, serving, admin, kubeletClient };
}

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
