// Rules for certificates.k8s.io/v1 CertificateSigningRequest (pkg/apis/certificates/validation). The request's PEM
// is parsed by the API server's strategy (it needs an X.509 reader); the rest is here.
import { SIGNERS, type CertificateSigningRequest, type CertificateSigningRequestCondition } from '../schemas/certificates.js';
import { child, duplicate, forbidden, index, invalid, notSupported, required, type Cause } from '../field.js';
import { isValidPathSegmentName, nameIsDNSSubdomain } from '../names.js';
import { rules } from './rules.js';

/** certificates.k8s.io/v1 KeyUsage values. */
export const KEY_USAGES = [
  'signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign',
  'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system',
  'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc',
] as const;

const APPROVAL_TYPES = ['Approved', 'Denied'];

function validateSignerName(name: string | undefined): Cause[] {
  const path = 'spec.signerName';
  if (!name) return [required(path)];
  if (name === SIGNERS.legacyUnknown) return [invalid(path, name, `${SIGNERS.legacyUnknown} is not an allowed signerName via certificates.k8s.io/v1`)];
  const slash = name.indexOf('/');
  if (slash < 0) return [invalid(path, name, 'must be a fully qualified domain and path of the form \'example.com/signer-name\'')];
  const domain = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  const causes: Cause[] = [];
  if (!rest) causes.push(invalid(path, name, 'validating path: path must not be empty'));
  else if (name.length > 571) causes.push(invalid(path, name, 'must be no more than 571 characters'));
  for (const m of nameIsDNSSubdomain(domain, false)) causes.push(invalid(path, name, `validating domain component: ${m}`));
  for (const m of isValidPathSegmentName(rest.replace(/\//g, ''))) causes.push(invalid(path, name, `validating path component: ${m}`));
  return causes;
}

function validateUsages(usages: readonly string[] | undefined): Cause[] {
  if (!usages?.length) return [required('spec.usages')];
  const seen = new Set<string>();
  return usages.flatMap((u, i) => {
    const path = index('spec.usages', i);
    if (!(KEY_USAGES as readonly string[]).includes(u)) return [notSupported(path, u, KEY_USAGES)];
    if (seen.has(u)) return [duplicate(path, u)];
    seen.add(u);
    return [];
  });
}

/** Conditions: typed, status True/False/Unknown (Approved and Denied only True), each type once, not both approval types. */
function validateConditions(conditions: readonly CertificateSigningRequestCondition[] | undefined): Cause[] {
  const causes: Cause[] = [];
  const seen = new Set<string>();
  (conditions ?? []).forEach((c, i) => {
    const path = index('status.conditions', i);
    if (!c.type) causes.push(required(child(path, 'type')));
    if (APPROVAL_TYPES.includes(c.type) && c.status !== 'True') causes.push(notSupported(child(path, 'status'), c.status, ['True']));
    if (seen.has(c.type)) causes.push(duplicate(child(path, 'type'), c.type));
    seen.add(c.type);
  });
  if (seen.has('Approved') && seen.has('Denied')) causes.push(invalid('status.conditions', 'Approved,Denied', 'Approved and Denied conditions are mutually exclusive'));
  return causes;
}

function validateCertificate(csr: CertificateSigningRequest, old: CertificateSigningRequest | undefined): Cause[] {
  const cert = csr.status?.certificate;
  if (!cert) {
    return old?.status?.certificate ? [forbidden('status.certificate', 'updates may not remove a certificate once issued')] : [];
  }
  if (old?.status?.certificate && old.status.certificate !== cert) return [forbidden('status.certificate', 'updates may not modify existing certificate content')];
  const causes: Cause[] = [];
  if (!(csr.status?.conditions ?? []).some((c) => c.type === 'Approved')) causes.push(forbidden('status.certificate', 'certificate may only be set if the Approved condition is present'));
  if ((csr.status?.conditions ?? []).some((c) => c.type === 'Failed')) causes.push(forbidden('status.certificate', 'certificate may not be set if the Failed condition is present'));
  const text = Buffer.from(cert, 'base64').toString('utf8');
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  if (!blocks.length) causes.push(invalid('status.certificate', '<certificate data>', 'must contain at least one CERTIFICATE PEM block'));
  else if (blocks.some((b) => b !== 'CERTIFICATE')) causes.push(invalid('status.certificate', '<certificate data>', 'only CERTIFICATE PEM blocks are allowed'));
  return causes;
}

/** Approval conditions once set stay: neither removed nor turned into the other. */
export function validateApprovalUpdate(csr: CertificateSigningRequest, old: CertificateSigningRequest): Cause[] {
  const has = (o: CertificateSigningRequest, t: string): boolean => (o.status?.conditions ?? []).some((c) => c.type === t);
  const causes = validateConditions(csr.status?.conditions);
  for (const t of APPROVAL_TYPES) if (has(old, t) && !has(csr, t)) causes.push(forbidden('status.conditions', `updates may not remove a condition of type "${t}"`));
  return causes;
}

export const certificateSigningRequest = rules<CertificateSigningRequest>({
  name: (name) => isValidPathSegmentName(name),
  validate(csr) {
    const causes: Cause[] = [];
    if (!csr.spec?.request) causes.push(required('spec.request'));
    causes.push(...validateSignerName(csr.spec?.signerName), ...validateUsages(csr.spec?.usages));
    const secs = csr.spec?.expirationSeconds;
    if (secs !== undefined && secs < 600) causes.push(invalid('spec.expirationSeconds', secs, 'may not specify a duration less than 600 seconds (10 minutes)'));
    causes.push(...validateConditions(csr.status?.conditions), ...validateCertificate(csr, undefined));
    return causes;
  },
  validateStatus(csr, old) {
    return [...validateConditions(csr.status?.conditions), ...validateCertificate(csr, old)];
  },
});
