// What each Kubernetes signer accepts (k8s.io/kubernetes/pkg/apis/certificates/v1 helpers: ValidateKubeletClientCSR,
// ValidateKubeletServingCSR, and the kube-apiserver-client usages), shared by the approving and signing controllers.
import { SIGNERS, type CertificateSigningRequest, type CertificateSigningRequestCondition } from '../../api/schemas/certificates.js';
import type { ParsedCsr } from '../../lib/x509.js';

export const NODE_USER_PREFIX = 'system:node:';
export const NODES_GROUP = 'system:nodes';

/** Why usages break the rule (all of `required`, nothing outside `allowed`), or undefined. */
function usagesProblem(usages: readonly string[], required: string, allowed: readonly string[]): string | undefined {
  if (!usages.includes(required)) return `usages did not contain required usage "${required}"`;
  const extra = usages.filter((u) => !allowed.includes(u));
  return extra.length ? `usages did not match ${JSON.stringify(allowed)}: ${JSON.stringify(extra)} not allowed` : undefined;
}

const NODE_SUBJECT = (req: ParsedCsr): string | undefined => {
  if (req.organizations.length !== 1 || req.organizations[0] !== NODES_GROUP) return `subject organization is not ${NODES_GROUP}`;
  if (!req.commonName.startsWith(NODE_USER_PREFIX)) return `subject common name does not begin with ${NODE_USER_PREFIX}`;
  return undefined;
};

/** kubernetes.io/kube-apiserver-client-kubelet: a node's client certificate, no SANs. */
export function kubeletClientProblem(req: ParsedCsr, usages: readonly string[]): string | undefined {
  const subject = NODE_SUBJECT(req);
  if (subject) return subject;
  if (req.dns.length || req.emails.length || req.ips.length || req.uris.length) return 'DNS, email, IP and URI subjectAltNames are not allowed';
  return usagesProblem(usages, 'client auth', ['digital signature', 'key encipherment', 'client auth']);
}

/** kubernetes.io/kubelet-serving: a node's serving certificate with DNS or IP SANs only. */
export function kubeletServingProblem(req: ParsedCsr, usages: readonly string[]): string | undefined {
  const subject = NODE_SUBJECT(req);
  if (subject) return subject;
  if (req.emails.length || req.uris.length) return 'email and URI subjectAltNames are not allowed';
  if (!req.dns.length && !req.ips.length) return 'DNS or IP subjectAltName is required';
  return usagesProblem(usages, 'server auth', ['digital signature', 'key encipherment', 'server auth']);
}

/** kubernetes.io/kube-apiserver-client: any subject, client usages. */
export function apiserverClientProblem(_req: ParsedCsr, usages: readonly string[]): string | undefined {
  return usagesProblem(usages, 'client auth', ['digital signature', 'key encipherment', 'client auth']);
}

/** The signers this cluster signs for, with what each accepts. */
export const SIGNER_RULES: Readonly<Record<string, (req: ParsedCsr, usages: readonly string[]) => string | undefined>> = {
  [SIGNERS.apiserverClient]: apiserverClientProblem,
  [SIGNERS.kubeletClient]: kubeletClientProblem,
  [SIGNERS.kubeletServing]: kubeletServingProblem,
};

export const hasCondition = (csr: CertificateSigningRequest, type: string): boolean => (csr.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
export const isApproved = (csr: CertificateSigningRequest): boolean => hasCondition(csr, 'Approved');
export const isDecided = (csr: CertificateSigningRequest): boolean => hasCondition(csr, 'Approved') || hasCondition(csr, 'Denied');

export function condition(type: string, reason: string, message: string, nowMs: number): CertificateSigningRequestCondition {
  const t = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { type, status: 'True', reason, message, lastUpdateTime: t, lastTransitionTime: t };
}

/** The PEM text of a request's spec.request. */
export const requestPem = (csr: CertificateSigningRequest): string => Buffer.from(csr.spec.request, 'base64').toString('utf8');
