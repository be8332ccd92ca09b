// certificates.k8s.io/v1 CertificateSigningRequest: a PKCS#10 request for a signer, who asked (set by the server),
// the approval conditions and the issued certificate.
import { Type, type Static } from '@sinclair/typebox';
import { Arr, Int32, MapOf, named, Opt, Str, StrArr, Time } from './kit.js';
import { ConditionStatus, kindSchema } from './meta.js';

export const CERTIFICATES_GROUP = 'certificates.k8s.io';
const def = (name: string): string => `io.k8s.api.certificates.v1.${name}`;
const Bytes = (description: string) => Str({ format: 'byte', description });

export const CertificateSigningRequestSpec = named(
  def('CertificateSigningRequestSpec'),
  Type.Object(
    {
      request: Bytes('A PEM-encoded PKCS#10 certificate request ("CERTIFICATE REQUEST" block); immutable.'),
      signerName: Str({ description: 'Who is asked to sign: kubernetes.io/kube-apiserver-client, kubernetes.io/kube-apiserver-client-kubelet, kubernetes.io/kubelet-serving, or a custom <domain>/<path>.' }),
      expirationSeconds: Opt(Int32({ description: 'Requested validity of the certificate (at least 600); the signer may issue a shorter one.' })),
      usages: Opt(StrArr({ 'x-kubernetes-list-type': 'atomic', description: "Key usages asked for: 'digital signature', 'key encipherment', 'client auth', 'server auth', ..." })),
      username: Opt(Str({ description: 'Who created the request; set by the server.' })),
      uid: Opt(Str({ description: 'The uid of who created the request; set by the server.' })),
      groups: Opt(StrArr({ 'x-kubernetes-list-type': 'atomic', description: 'The groups of who created the request; set by the server.' })),
      extra: Opt(MapOf(StrArr(), { description: 'Extra attributes of who created the request; set by the server.' })),
    },
    { description: 'What is asked for, and by whom.' },
  ),
);
export type CertificateSigningRequestSpec = Static<typeof CertificateSigningRequestSpec>;

export const CertificateSigningRequestCondition = named(
  def('CertificateSigningRequestCondition'),
  Type.Object({
    type: Str({ description: 'Approved, Denied or Failed (or another type).' }),
    status: ConditionStatus,
    reason: Opt(Str()),
    message: Opt(Str()),
    lastUpdateTime: Opt(Time),
    lastTransitionTime: Opt(Time),
  }),
);
export type CertificateSigningRequestCondition = Static<typeof CertificateSigningRequestCondition>;

export const CertificateSigningRequestStatus = named(
  def('CertificateSigningRequestStatus'),
  Type.Object({
    conditions: Opt(Arr(CertificateSigningRequestCondition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })),
    certificate: Opt(Bytes('The issued certificate (PEM "CERTIFICATE" blocks), set by the signer once the request is approved.')),
  }),
);
export type CertificateSigningRequestStatus = Static<typeof CertificateSigningRequestStatus>;

export const CertificateSigningRequest = kindSchema(
  def('CertificateSigningRequest'),
  `${CERTIFICATES_GROUP}/v1`,
  'CertificateSigningRequest',
  { spec: CertificateSigningRequestSpec, status: Opt(CertificateSigningRequestStatus) },
  'A request for a certificate from a signer, approved or denied, then signed.',
);
export type CertificateSigningRequest = Static<typeof CertificateSigningRequest>;

/** The signers Kubernetes defines (certificates.k8s.io/v1). */
export const SIGNERS = {
  apiserverClient: 'kubernetes.io/kube-apiserver-client',
  kubeletClient: 'kubernetes.io/kube-apiserver-client-kubelet',
  kubeletServing: 'kubernetes.io/kubelet-serving',
  legacyUnknown: 'kubernetes.io/legacy-unknown',
} as const;
