// X.509 for the cluster's parts: ECDSA P-256 keys, certificate requests (PKCS#10) made and read, certificates signed by
// a CA (the API server's own PKI, the CSR signer) and the CA pin kubeadm joins with. No domain knowledge: callers say
// what goes into a certificate.
import { createHash, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import './reflect-polyfill.js';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as Parameters<typeof x509.cryptoProvider.set>[1]);

/** id-ce-subjectAltName. */
const SUBJECT_ALT_NAME_OID = '2.5.29.17';

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
export const DAY_MS = 24 * 3600 * 1000;

export interface CertPair {
  certPem: string;
  keyPem: string;
}

/** A new key pair: the keys for signing and requests, and the private key as PKCS#8 PEM. */
export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  keyPem: string;
}

export async function generateKeyPair(): Promise<KeyPair> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { privateKey: keys.privateKey, publicKey: keys.publicKey, keyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') };
}

/** A PKCS#8 ECDSA P-256 private key (what generateKeyPair writes). */
export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new Error('no PEM block in private key file');
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

/** A positive 128-bit serial number (the top bit clear). */
const serial = (): string => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

export interface Subject {
  commonName: string;
  organizations?: string[];
}

const nameOf = (s: Subject): x509.JsonName => [{ CN: [s.commonName] }, ...(s.organizations?.length ? [{ O: s.organizations }] : [])];

export const isIp = (s: string): boolean => /^[\d.]+$/.test(s) || s.includes(':');

function sanExtension(dns: readonly string[], ips: readonly string[]): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension([
    ...dns.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ]);
}

/** A self-signed CA certificate valid for `days` (and an hour back, for clocks a little behind). */
export async function createCa(commonName: string, days = 3650, now = new Date()): Promise<CertPair> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: keys.keyPem };
}

/** Kubernetes' KeyUsage names (certificates.k8s.io/v1) as key usage bits and extended key usage OIDs. */
const KEY_USAGE_BITS: Readonly<Record<string, number>> = {
  'signing': x509.KeyUsageFlags.digitalSignature,
  'digital signature': x509.KeyUsageFlags.digitalSignature,
  'content commitment': x509.KeyUsageFlags.nonRepudiation,
  'key encipherment': x509.KeyUsageFlags.keyEncipherment,
  'key agreement': x509.KeyUsageFlags.keyAgreement,
  'data encipherment': x509.KeyUsageFlags.dataEncipherment,
  'cert sign': x509.KeyUsageFlags.keyCertSign,
  'crl sign': x509.KeyUsageFlags.cRLSign,
  'encipher only': x509.KeyUsageFlags.encipherOnly,
  'decipher only': x509.KeyUsageFlags.decipherOnly,
};
const EXT_KEY_USAGES: Readonly<Record<string, string>> = {
  'any': '2.5.29.37.0',
  'server auth': x509.ExtendedKeyUsage.serverAuth,
  'client auth': x509.ExtendedKeyUsage.clientAuth,
  'code signing': x509.ExtendedKeyUsage.codeSigning,
  'email protection': x509.ExtendedKeyUsage.emailProtection,
  's/mime': x509.ExtendedKeyUsage.emailProtection,
  'ipsec end system': '1.3.6.1.5.5.7.3.5',
  'ipsec tunnel': '1.3.6.1.5.5.7.3.6',
  'ipsec user': '1.3.6.1.5.5.7.3.7',
  'timestamping': x509.ExtendedKeyUsage.timeStamping,
  'ocsp signing': x509.ExtendedKeyUsage.ocspSigning,
  'microsoft sgc': '1.3.6.1.4.1.311.10.3.3',
  'netscape sgc': '2.16.840.1.113730.4.1',
};

/** The usages Kubernetes knows (certificates.k8s.io/v1 KeyUsage). */
export const KNOWN_USAGES: readonly string[] = [...Object.keys(KEY_USAGE_BITS), ...Object.keys(EXT_KEY_USAGES)];

export interface SignParams {
  subject: Subject;
  /** The public key to certify: a key of ours, or a certificate request's (any algorithm it names). */
  publicKey: CryptoKey | x509.PublicKey;
  /** Kubernetes KeyUsage names ('digital signature', 'client auth', ...). */
  usages: readonly string[];
  dns?: readonly string[];
  ips?: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

/** A certificate for params, signed by ca: key usages, extended key usages and SANs as given, never a CA. */
export async function signCertificate(ca: CertPair, params: SignParams): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const bits = params.usages.reduce((acc, u) => acc | (KEY_USAGE_BITS[u] ?? 0), 0);
  const ext = [...new Set(params.usages.map((u) => EXT_KEY_USAGES[u]).filter((o): o is string => o !== undefined))];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (bits) extensions.push(new x509.KeyUsagesExtension(bits, true));
  if (ext.length) extensions.push(new x509.ExtendedKeyUsageExtension(ext));
  if (params.dns?.length || params.ips?.length) extensions.push(sanExtension(params.dns ?? [], params.ips ?? []));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: nameOf(params.subject),
    issuer: caCert.subject,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    publicKey: params.publicKey,
    signingKey: await importPrivateKey(ca.keyPem),
    signingAlgorithm: ALG,
    extensions,
  });
  return cert.toString('pem');
}

/** A PKCS#10 certificate request for subject, with DNS and IP SANs, signed with keys. */
export async function createCsr(keys: KeyPair, subject: Subject, names: { dns?: readonly string[]; ips?: readonly string[] } = {}): Promise<string> {
  const dns = names.dns ?? [];
  const ips = names.ips ?? [];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: nameOf(subject),
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    signingAlgorithm: ALG,
    extensions: dns.length || ips.length ? [sanExtension(dns, ips)] : [],
  });
  return csr.toString('pem');
}

/** What a certificate request asks for. */
export interface ParsedCsr {
  commonName: string;
  organizations: string[];
  dns: string[];
  ips: string[];
  emails: string[];
  uris: string[];
  publicKey: x509.PublicKey;
  /** The request's own signature checks out against its public key. */
  signatureValid: boolean;
}

/** The one "CERTIFICATE REQUEST" block of pem, parsed; throws on anything else (several blocks, another type, bad DER). */
function readCsr(pem: string): x509.Pkcs10CertificateRequest {
  const blocks = x509.PemConverter.decodeWithHeaders(pem);
  if (blocks.length !== 1 || blocks[0]!.type !== 'CERTIFICATE REQUEST') {
    throw new Error(`expected one PEM block of type "CERTIFICATE REQUEST", found ${blocks.map((b) => `"${b.type}"`).join(', ') || 'none'}`);
  }
  return new x509.Pkcs10CertificateRequest(blocks[0]!.rawData);
}

/** Why pem is not one well-formed certificate request (its signature is not checked: the signer does that), or undefined. */
export function csrPemProblem(pem: string): string | undefined {
  try {
    readCsr(pem);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Reads a PEM "CERTIFICATE REQUEST"; throws on anything else (several blocks, another type, bad DER). */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  const csr = readCsr(pem);
  const ext = csr.getExtension(SUBJECT_ALT_NAME_OID);
  const names = ext ? new x509.SubjectAlternativeNameExtension(ext.rawData).names.items : [];
  const of = (type: string): string[] => names.filter((n) => n.type === type).map((n) => n.value);
  return {
    commonName: csr.subjectName.getField('CN')[0] ?? '',
    organizations: csr.subjectName.getField('O'),
    dns: of('dns'),
    ips: of('ip'),
    emails: of('email'),
    uris: of('url'),
    publicKey: csr.publicKey,
    signatureValid: await csr.verify(),
  };
}

/** The validity window of a PEM certificate (the first one of a chain). */
export function validity(certPem: string): { notBefore: Date; notAfter: Date } {
  const c = new NodeX509(certPem);
  return { notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo) };
}

/** kubeadm's CA pin: "sha256:" and the hex SHA-256 of the certificate's DER SubjectPublicKeyInfo. */
export function publicKeyPin(certPem: string): string {
  const spki = new NodeX509(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** Whether certPem was signed by caPem's key (and names it as issuer). */
export function signedBy(certPem: string, caPem: string): boolean {
  const cert = new NodeX509(certPem);
  const ca = new NodeX509(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** The SANs of a certificate (DNS names and IP addresses). */
export function subjectAltNames(certPem: string): { dns: string[]; ips: string[] } {
  const san = new x509.X509Certificate(certPem).getExtension(x509.SubjectAlternativeNameExtension);
  const items = san?.names.items ?? [];
  return { dns: items.filter((n) => n.type === 'dns').map((n) => n.value), ips: items.filter((n) => n.type === 'ip').map((n) => n.value) };
}


