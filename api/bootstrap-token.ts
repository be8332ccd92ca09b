// Bootstrap tokens (kube's k8s.io/cluster-bootstrap): "<id>.<secret>" credentials kept as Secrets of type
// bootstrap.kubernetes.io/token named bootstrap-token-<id> in kube-system. Read by the API server's token
// authenticator, the token cleaner, the bootstrap signer, `ketch token` and `ketch join`.
import { createHmac, randomInt } from 'node:crypto';

export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token';
export const BOOTSTRAP_TOKEN_NAMESPACE = 'kube-system';
export const BOOTSTRAP_TOKEN_SECRET_PREFIX = 'bootstrap-token-';
/** The user a token authenticates as is this prefix and its id; its groups start with BOOTSTRAPPERS_GROUP. */
export const BOOTSTRAP_USER_PREFIX = 'system:bootstrap:';
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';
/** The group `ketch token create` puts its tokens in (kubeadm's is system:bootstrappers:kubeadm:default-node-token). */
export const DEFAULT_TOKEN_GROUP = 'system:bootstrappers:ketch:default-node-token';
/** kube-public's ConfigMap that joining nodes read anonymously, signed per token by the bootstrap signer. */
export const CLUSTER_INFO = { namespace: 'kube-public', name: 'cluster-info', kubeconfigKey: 'kubeconfig', signaturePrefix: 'jws-kubeconfig-' } as const;

const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const ID = /^[a-z0-9]{6}$/;
const EXTRA_GROUP = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
const CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface TokenParts {
  id: string;
  secret: string;
}

/** "<id>.<secret>" split, or undefined when the text is not a bootstrap token. */
export function parseBootstrapToken(text: string): TokenParts | undefined {
  const m = TOKEN.exec(text);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export const isTokenId = (id: string): boolean => ID.test(id);
export const secretNameOf = (id: string): string => `${BOOTSTRAP_TOKEN_SECRET_PREFIX}${id}`;

/** A new random token (kubeadm's GenerateBootstrapToken: 6 and 16 characters of [a-z0-9]). */
export function generateBootstrapToken(): TokenParts {
  const pick = (n: number): string => Array.from({ length: n }, () => CHARS[randomInt(CHARS.length)]).join('');
  return { id: pick(6), secret: pick(16) };
}

/** A bootstrap token as its Secret holds it. */
export interface BootstrapToken extends TokenParts {
  description?: string;
  /** RFC 3339; absent: the token does not expire. */
  expiration?: string;
  usages: { authentication: boolean; signing: boolean };
  extraGroups: string[];
}

interface SecretLike {
  type?: string;
  metadata?: { name?: string; deletionTimestamp?: string };
  data?: Record<string, string>;
}

const field = (s: SecretLike, key: string): string | undefined => {
  const v = s.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

/**
 * The token in a bootstrap-token Secret, or a reason it is not one (wrong type or name, id or secret malformed, bad
 * extra groups), as kube's bootstrap token helpers check it.
 */
export function tokenFromSecret(s: SecretLike): BootstrapToken | { invalid: string } {
  if (s.type !== BOOTSTRAP_TOKEN_SECRET_TYPE) return { invalid: `type is ${s.type ?? '""'}, not ${BOOTSTRAP_TOKEN_SECRET_TYPE}` };
  const id = field(s, 'token-id') ?? '';
  const secret = field(s, 'token-secret') ?? '';
  if (!isTokenId(id)) return { invalid: 'token-id is not 6 characters of [a-z0-9]' };
  if (s.metadata?.name !== secretNameOf(id)) return { invalid: `the Secret is not named ${secretNameOf(id)}` };
  if (!/^[a-z0-9]{16}$/.test(secret)) return { invalid: 'token-secret is not 16 characters of [a-z0-9]' };
  const groups = (field(s, 'auth-extra-groups') ?? '').split(',').map((g) => g.trim()).filter(Boolean);
  const bad = groups.find((g) => !EXTRA_GROUP.test(g));
  if (bad !== undefined) return { invalid: `auth-extra-groups: "${bad}" does not match ${EXTRA_GROUP.source}` };
  const expiration = field(s, 'expiration');
  const description = field(s, 'description');
  return {
    id,
    secret,
    ...(description ? { description } : {}),
    ...(expiration ? { expiration } : {}),
    usages: { authentication: field(s, 'usage-bootstrap-authentication') === 'true', signing: field(s, 'usage-bootstrap-signing') === 'true' },
    extraGroups: groups,
  };
}

/** Whether the token has expired at nowMs (an unparsable expiration counts as expired, as kube treats it). */
export function tokenExpired(t: Pick<BootstrapToken, 'expiration'>, nowMs: number): boolean {
  if (!t.expiration) return false;
  const at = Date.parse(t.expiration);
  return !Number.isFinite(at) || at <= nowMs;
}

/** The Secret that holds a token (stringData-free: every field base64 in data, as a Secret stores it). */
export function bootstrapTokenSecret(t: BootstrapToken): { apiVersion: 'v1'; kind: 'Secret'; metadata: { name: string; namespace: string }; type: string; data: Record<string, string> } {
  const b64 = (v: string): string => Buffer.from(v).toString('base64');
  const data: Record<string, string> = { 'token-id': b64(t.id), 'token-secret': b64(t.secret) };
  if (t.description) data.description = b64(t.description);
  if (t.expiration) data.expiration = b64(t.expiration);
  if (t.usages.authentication) data['usage-bootstrap-authentication'] = b64('true');
  if (t.usages.signing) data['usage-bootstrap-signing'] = b64('true');
  if (t.extraGroups.length) data['auth-extra-groups'] = b64(t.extraGroups.join(','));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretNameOf(t.id), namespace: BOOTSTRAP_TOKEN_NAMESPACE }, type: BOOTSTRAP_TOKEN_SECRET_TYPE, data };
}

/**
 * kube's detached JWS over content with a token (bootstrap signer, kubeadm discovery): the compact serialization of
 * an HS256 JWS with header {"alg":"HS256","kid":<id>} and the payload left out: "<header>..<signature>".
 */
export function detachedSignature(content: string, token: TokenParts): string {
  const b64url = (b: Buffer): string => b.toString('base64url');
  const header = b64url(Buffer.from(JSON.stringify({ alg: 'HS256', kid: token.id })));
  const signature = b64url(createHmac('sha256', token.secret).update(`${header}.${b64url(Buffer.from(content))}`).digest());
  return `${header}..${signature}`;
}
