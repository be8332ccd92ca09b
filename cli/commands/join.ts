// `ketch join URL --token ID.SECRET --discovery-token-ca-cert-hash sha256:HEX`: a worker joins as with kubeadm. The
// CA comes from kube-public/cluster-info, read without credentials and trusted only when the bootstrap signer's
// signature of it with this token checks out and the CA's public key matches a pinned hash (kubeadm's token
// discovery); then the agent runs its TLS bootstrap with the token and keeps its own certificates renewed.
import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { CLUSTER_INFO, detachedSignature, parseBootstrapToken, type TokenParts } from '../../api/bootstrap-token.js';
import { adjustFlags, readFlags, type FlagTable } from '../../lib/flags.js';
import { publicKeyPin } from '../../lib/x509.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { CliError } from '../errors.js';
import { AGENT_FLAGS, runAgentWith } from './components.js';

export const JOIN_FLAGS: FlagTable = [
  { name: '--token', kind: 'string', arg: 'id.secret', description: 'the bootstrap token (ketch token create on the server)' },
  { name: '--discovery-token-ca-cert-hash', kind: 'repeated', arg: 'sha256:hex', description: "the cluster CA's public key hash (printed by ketch token create --print-join-command)" },
  { name: '--discovery-token-unsafe-skip-ca-verification', kind: 'bool', description: 'trust the CA of cluster-info without a pinned hash (the token signature is still checked)' },
  { name: '--discovery-timeout', kind: 'duration', default: '5m0s', description: 'how long to wait for cluster-info signed with the token' },
  ...adjustFlags(AGENT_FLAGS, {}, ['--kubeconfig', '--bootstrap-kubeconfig', '--server', '--rotate-certificates', '--rotate-server-certificates', '--hollow', '--count', '--prefix']),
];

/** GET path on server with TLS as given; resolves to the status and body. */
function get(server: string, path: string, tls: { ca?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(new URL(path, server), { ...(tls.ca ? { ca: tls.ca } : { rejectUnauthorized: false }), timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${server} within 10s`)));
    req.on('error', reject);
    req.end();
  });
}

const CLUSTER_INFO_PATH = `/api/v1/namespaces/${CLUSTER_INFO.namespace}/configmaps/${CLUSTER_INFO.name}`;

interface ClusterInfo {
  kubeconfig: string;
  signature?: string;
  ca: string;
}

async function readClusterInfo(server: string, token: TokenParts, tls: { ca?: string }): Promise<ClusterInfo> {
  const res = await get(server, CLUSTER_INFO_PATH, tls);
  if (res.status !== 200) throw new CliError(`cannot read ${CLUSTER_INFO.namespace}/${CLUSTER_INFO.name} from ${server}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  const data = (JSON.parse(res.body) as { data?: Record<string, string> }).data ?? {};
  const kubeconfig = data[CLUSTER_INFO.kubeconfigKey];
  if (!kubeconfig) throw new CliError(`there is no ${CLUSTER_INFO.kubeconfigKey} key in the ${CLUSTER_INFO.name} ConfigMap`);
  const caData = (YAML.parse(kubeconfig) as { clusters?: { cluster?: { 'certificate-authority-data'?: string } }[] } | null)?.clusters?.[0]?.cluster?.['certificate-authority-data'];
  if (!caData) throw new CliError(`the kubeconfig in ${CLUSTER_INFO.name} names no certificate authority`);
  const signature = data[`${CLUSTER_INFO.signaturePrefix}${token.id}`];
  return { kubeconfig, ca: Buffer.from(caData, 'base64').toString('utf8'), ...(signature ? { signature } : {}) };
}

/**
 * kubeadm's token discovery: cluster-info signed with the token (polled until the signer has signed it), its CA
 * pinned by hash, then read again over TLS verified by that CA (the server holds the CA's key). Returns the CA.
 */
export async function discoverCa(server: string, token: TokenParts, pins: string[], skipPin: boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let info: ClusterInfo;
  for (;;) {
    info = await readClusterInfo(server, token, {});
    if (info.signature) break;
    if (Date.now() > deadline) {
      throw new CliError(`there is no JWS signed token in the ${CLUSTER_INFO.name} ConfigMap: this token id "${token.id}" is invalid for this cluster, or it has expired`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (info.signature !== detachedSignature(info.kubeconfig, token)) throw new CliError(`failed to verify JWS signature of received cluster info object, can't trust this API Server`);
  const pin = publicKeyPin(info.ca);
  if (!skipPin && !pins.includes(pin)) throw new CliError(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${pin}" are pinned`);
  const again = await readClusterInfo(server, token, { ca: info.ca });
  if (again.kubeconfig !== info.kubeconfig) throw new CliError('cluster-info changed between the unverified and the verified read: can\'t trust this API Server');
  return info.ca;
}

/** The bootstrap kubeconfig: the server as given on the command line, the discovered CA, the token. */
function bootstrapKubeconfig(server: string, ca: string, token: TokenParts): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default-cluster', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'tls-bootstrap-token-user', user: { token: `${token.id}.${token.secret}` } }],
    contexts: [{ name: 'tls-bootstrap-token-user@kubernetes', context: { cluster: 'default-cluster', user: 'tls-bootstrap-token-user' } }],
    'current-context': 'tls-bootstrap-token-user@kubernetes',
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('join')
    .description('join this machine to a cluster as a worker, with a bootstrap token (as kubeadm join), and run its agent')
    .argument('<server>', 'the API server, e.g. https://10.0.0.1:6443');
  addFlags(cmd, JOIN_FLAGS).action(async (server: string, _opts: unknown, c: Command) => {
    const input = givenFlags(c);
    const f = readFlags(JOIN_FLAGS, input);
    const token = parseBootstrapToken(f.optional('--token') ?? '');
    if (!token) throw new CliError('--token wants a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}');
    const pins = f.repeated('--discovery-token-ca-cert-hash');
    const skip = f.bool('--discovery-token-unsafe-skip-ca-verification');
    if (!pins.length && !skip) throw new CliError('--discovery-token-ca-cert-hash is required (or --discovery-token-unsafe-skip-ca-verification)');
    const url = server.replace(/\/+$/, '');
    const ca = await discoverCa(url, token, pins, skip, f.durationMs('--discovery-timeout'));
    const root = resolve(f.string('--root-dir'));
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const bootstrapPath = join(root, 'bootstrap-kubeconfig');
    writeFileSync(bootstrapPath, bootstrapKubeconfig(url, ca, token), { mode: 0o600 });
    console.error(`ketch join: the cluster CA at ${url} is trusted (${publicKeyPin(ca)}); starting the TLS bootstrap`);
    await runAgentWith(
      readFlags(AGENT_FLAGS, {
        ...Object.fromEntries(Object.entries(input).filter(([k]) => AGENT_FLAGS.some((a) => a.name === k))),
        '--bootstrap-kubeconfig': bootstrapPath,
        '--kubeconfig': join(root, 'kubeconfig'),
        '--rotate-certificates': 'true',
        '--rotate-server-certificates': 'true',
      }),
    );
  });
}
