// The node's own certificates, as the kubelet gets and keeps them: the TLS bootstrap (a bootstrap-token kubeconfig
// asks for the first client certificate, then a kubeconfig that uses it is written), and the certificate managers
// that renew the client certificate (handed to the REST client) and the serving certificate (handed to the agent's
// HTTPS server) while the agent runs.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { SIGNERS } from '../../api/schemas/certificates.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { realClock, type Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { CertificateManager } from './manager.js';
import { requestCertificate, type CertificateRequest } from './request.js';
import { CertificateStore, usable, type CertKey } from './store.js';

export { CertificateManager, rotationDeadline } from './manager.js';
export { CertificateRefused, requestCertificate } from './request.js';
export { CertificateStore, type CertKey } from './store.js';

const nodeSubject = (nodeName: string): CertificateRequest['subject'] => ({ commonName: `system:node:${nodeName}`, organizations: ['system:nodes'] });

/** What the kubelet asks for as its client certificate (ECDSA key: no key encipherment). */
export const clientRequest = (nodeName: string): CertificateRequest => ({ signerName: SIGNERS.kubeletClient, usages: ['digital signature', 'client auth'], subject: nodeSubject(nodeName) });

/** What the kubelet asks for as its serving certificate: its name, host name and address. */
export const servingRequest = (nodeName: string, hostIP: string): CertificateRequest => ({
  signerName: SIGNERS.kubeletServing,
  usages: ['digital signature', 'server auth'],
  subject: nodeSubject(nodeName),
  dns: [...new Set([nodeName, hostname()])],
  ips: [hostIP],
});

/** A kubeconfig with the server and CA of `from` and the node's client certificate file (kubelet's layout). */
function nodeKubeconfig(server: string, caPem: string, certFile: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: default-cluster',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'contexts:',
    '- name: default-context',
    '  context: {cluster: default-cluster, user: default-auth, namespace: default}',
    'current-context: default-context',
    'users:',
    '- name: default-auth',
    '  user:',
    `    client-certificate: ${certFile}`,
    `    client-key: ${certFile}`,
    '',
  ].join('\n');
}

export interface BootstrapOptions {
  /** The kubeconfig with the bootstrap token. */
  bootstrapKubeconfig: string;
  /** Where the node's own kubeconfig is (written when missing or when its certificate is no longer usable). */
  kubeconfig: string;
  /** The node's certificate directory (ROOT/pki). */
  certDir: string;
  nodeName: string;
  signal: AbortSignal;
  clock?: Clock;
  log: Logger;
}

/**
 * kubelet's LoadClientCert: nothing to do while the kubeconfig's certificate is usable; else a client certificate for
 * system:node:NAME is asked for with the bootstrap token, stored under certDir, and the kubeconfig written to use it.
 */
export async function bootstrapClientCertificate(o: BootstrapOptions): Promise<void> {
  const clock = o.clock ?? realClock;
  const store = new CertificateStore(o.certDir, 'kubelet-client');
  if (existsSync(o.kubeconfig) && usable(await store.current(), clock.now())) return;
  const boot = loadClientConfig({ kubeconfig: o.bootstrapKubeconfig });
  if (!boot.ca) throw new Error(`the bootstrap kubeconfig ${o.bootstrapKubeconfig} names no certificate authority`);
  o.log.info('requesting a client certificate with the bootstrap token', { node: o.nodeName, server: boot.server });
  const pair = await requestCertificate(new RestClient(boot, 'ketch-agent-bootstrap'), clientRequest(o.nodeName), o.signal);
  await store.update(pair, clock.now());
  await mkdir(dirname(o.kubeconfig), { recursive: true, mode: 0o700 });
  await writeFile(o.kubeconfig, nodeKubeconfig(boot.server, boot.ca, store.currentPath), { mode: 0o600 });
  o.log.info('client certificate issued', { node: o.nodeName, csr: pair.csrName, kubeconfig: o.kubeconfig });
}

export interface NodeCertificatesOptions {
  rest: RestClient;
  rootDir: string;
  nodeName: string;
  hostIP: string;
  /** Renew the client certificate (the REST client's must be the one in ROOT/pki: a bootstrapped node). */
  rotateClient: boolean;
  /** Get and renew a serving certificate from the cluster CA (kubelet's serverTLSBootstrap). */
  rotateServing: boolean;
  /** Hands a serving certificate to the agent's HTTPS server. */
  setServing(pair: CertKey): void;
  /** Told each renewed client certificate after the REST client took it (the runtime's copy for registries). */
  onClientRotate?(pair: CertKey): Promise<void>;
  clock?: Clock;
  log: Logger;
}

/**
 * Starts the managers asked for: the client certificate is renewed in place; the serving certificate is asked for in
 * the background (the agent serves its self-signed one until it comes), then renewed.
 */
export async function startNodeCertificates(o: NodeCertificatesOptions): Promise<{ stop(): void }> {
  const certDir = join(o.rootDir, 'pki');
  const managers: CertificateManager[] = [];
  const common = { ...(o.clock ? { clock: o.clock } : {}), log: o.log };
  if (o.rotateClient) {
    const client = new CertificateManager({
      store: new CertificateStore(certDir, 'kubelet-client'),
      request: (signal) => requestCertificate(o.rest, clientRequest(o.nodeName), signal),
      onRotate: (pair) => {
        o.rest.setClientCertificate(pair.cert, pair.key);
        o.onClientRotate?.(pair).catch((err: unknown) => o.log.warn('client certificate copy for registries not written', { error: String(err) }));
      },
      ...common,
    });
    managers.push(client);
    await client.start();
  }
  if (o.rotateServing) {
    const serving = new CertificateManager({
      store: new CertificateStore(certDir, 'kubelet-server'),
      request: (signal) => requestCertificate(o.rest, servingRequest(o.nodeName, o.hostIP), signal),
      onRotate: (pair) => o.setServing(pair),
      ...common,
    });
    managers.push(serving);
    serving.start().then(
      (pair) => o.setServing(pair),
      (err: unknown) => o.log.error('no serving certificate from the cluster CA; serving the self-signed one', { error: err instanceof Error ? err.message : String(err) }),
    );
  }
  return { stop: () => managers.forEach((m) => m.stop()) };
}
