// One certificate asked for through a CertificateSigningRequest, as the kubelet's TLS bootstrap and its certificate
// manager do: a new key, a request for a signer, then the issued certificate read from the request's status (or the
// refusal: Denied or Failed).
import type { CertificateSigningRequest } from '../../api/schemas/certificates.js';
import { refFor } from '../../client/resources.js';
import type { RestClient } from '../../client/rest.js';
import { createCsr, generateKeyPair, type Subject } from '../../lib/x509.js';
import type { CertKey } from './store.js';

const CSRS = refFor('certificates.k8s.io/v1', 'CertificateSigningRequest');

export interface CertificateRequest {
  signerName: string;
  usages: string[];
  subject: Subject;
  dns?: string[];
  ips?: string[];
  /** Asked-for validity; the signer may give less. */
  expirationSeconds?: number;
}

export class CertificateRefused extends Error {
  override name = 'CertificateRefused';
}

/** Creates the request and waits for its certificate (or its refusal) until the signal aborts. */
export async function requestCertificate(rest: RestClient, req: CertificateRequest, signal: AbortSignal): Promise<CertKey & { csrName: string }> {
  const keys = await generateKeyPair();
  const pem = await createCsr(keys, req.subject, { ...(req.dns ? { dns: req.dns } : {}), ...(req.ips ? { ips: req.ips } : {}) });
  const csrs = rest.resource<CertificateSigningRequest>(CSRS);
  const created = await csrs.create(undefined, {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: 'csr-' },
    spec: {
      request: Buffer.from(pem).toString('base64'),
      signerName: req.signerName,
      usages: req.usages,
      ...(req.expirationSeconds ? { expirationSeconds: req.expirationSeconds } : {}),
    },
  });
  const name = created.metadata.name ?? '';
  const cert = await waitForCertificate(csrs, name, created, signal);
  return { cert, key: keys.keyPem, csrName: name };
}

/** The certificate of csr `name` once issued: from the object at hand, else from a watch of it from its resourceVersion. */
async function waitForCertificate(csrs: ReturnType<RestClient['resource']>, name: string, first: CertificateSigningRequest, signal: AbortSignal): Promise<string> {
  const verdict = (csr: CertificateSigningRequest): string | undefined => {
    const refusal = (csr.status?.conditions ?? []).find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True');
    if (refusal) throw new CertificateRefused(`certificate signing request ${name} is ${refusal.type.toLowerCase()}: ${refusal.reason ?? ''} ${refusal.message ?? ''}`.trim());
    return csr.status?.certificate ? Buffer.from(csr.status.certificate, 'base64').toString('utf8') : undefined;
  };
  const now = verdict(first);
  if (now) return now;
  for await (const ev of csrs.watch(undefined, { fieldSelector: `metadata.name=${name}`, resourceVersion: first.metadata.resourceVersion ?? '0', signal })) {
    if (ev.type === 'DELETED') throw new CertificateRefused(`certificate signing request ${name} was deleted`);
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') continue;
    const cert = verdict(ev.object as CertificateSigningRequest);
    if (cert) return cert;
  }
  throw signal.reason instanceof Error ? signal.reason : new Error(`stopped waiting for certificate signing request ${name}`);
}

