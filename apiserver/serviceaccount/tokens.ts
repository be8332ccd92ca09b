// Service-account tokens: the ES256 signing key under DIR/pki (sa.key, sa.pub) and bound JWTs in kube-apiserver's shape.
import { createHash, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileExists } from '../pki/files.js';
import { exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, importSPKI, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

const ALG = 'ES256';
/** kube-apiserver's default issuer (and audience) with kubeadm. */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ServiceAccountKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The JWT `kid`: base64url sha256 of the public key's DER, as kube-apiserver computes it. */
  keyId: string;
}

function keyIdOf(spkiPem: string): string {
  const der = Buffer.from(spkiPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('base64url');
}

/** Loads DIR/pki/sa.key and sa.pub, creating the pair on first start. */
export async function ensureServiceAccountKey(dataDir: string): Promise<ServiceAccountKey> {
  const keyPath = join(dataDir, 'pki', 'sa.key');
  const pubPath = join(dataDir, 'pki', 'sa.pub');
  if (!(await fileExists(keyPath)) || !(await fileExists(pubPath))) {
    const pair = await generateKeyPair(ALG, { extractable: true });
    await writeFile(keyPath, await exportPKCS8(pair.privateKey), { mode: 0o600 });
    await writeFile(pubPath, await exportSPKI(pair.publicKey), { mode: 0o644 });
  }
  const pub = await readFile(pubPath, 'utf8');
  return { privateKey: await importPKCS8(await readFile(keyPath, 'utf8'), ALG), publicKey: await importSPKI(pub, ALG), keyId: keyIdOf(pub) };
}

/** What a token says, beyond the registered claims (the `kubernetes.io` private claim). */
export interface ServiceAccountClaims {
  namespace: string;
  serviceAccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
}

interface KubernetesClaim {
  namespace: string;
  serviceaccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNameUid = (v: unknown): v is { name: string; uid: string } => isRecord(v) && typeof v.name === 'string' && typeof v.uid === 'string';

export const serviceAccountUsername = (namespace: string, name: string): string => `system:serviceaccount:${namespace}:${name}`;

/**
 * A token's verified claims are kept this long (never past its exp), as kube-apiserver caches token authentication
 * (TokenSuccessCacheTTL, 10 s): a controller manager whose controllers each write as their service account would
 * otherwise pay a signature check on every request. The account's and bound pod's existence are still checked every
 * time by the authenticator, so a deleted account's token is refused at once.
 */
const VERIFIED_TTL_MS = 10_000;
/** Tokens kept at once (oldest forgotten first). */
const VERIFIED_MAX = 4096;

export class TokenIssuer {
  /** Verified tokens by audiences and token: the result, and the time range it may be reused in. */
  private readonly verified = new Map<string, { result: ServiceAccountClaims & { audiences: string[] }; from: number; until: number }>();

  constructor(
    private readonly key: ServiceAccountKey,
    private readonly clock: { now(): Date },
    readonly issuer = DEFAULT_ISSUER,
    readonly apiAudiences: readonly string[] = [DEFAULT_ISSUER],
  ) {}

  async issue(claims: ServiceAccountClaims, audiences: string[], expirationSeconds: number): Promise<{ token: string; expires: Date }> {
    const now = Math.floor(this.clock.now().getTime() / 1000);
    const k8s: KubernetesClaim = {
      namespace: claims.namespace,
      serviceaccount: claims.serviceAccount,
      ...(claims.pod ? { pod: claims.pod } : {}),
    };
    const token = await new SignJWT({ 'kubernetes.io': k8s as unknown as Record<string, unknown> })
      .setProtectedHeader({ alg: ALG, kid: this.key.keyId })
      .setIssuer(this.issuer)
      .setSubject(serviceAccountUsername(claims.namespace, claims.serviceAccount.name))
      .setAudience(audiences.length ? audiences : [...this.apiAudiences])
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + expirationSeconds)
      .setJti(randomUUID())
      .sign(this.key.privateKey);
    return { token, expires: new Date((now + expirationSeconds) * 1000) };
  }

  /**
   * The claims of a token this server signed for one of `audiences` (by default its own), still valid now, with the
   * audiences among those it names; throws otherwise.
   */
  async verify(token: string, audiences: readonly string[] = this.apiAudiences): Promise<ServiceAccountClaims & { audiences: string[] }> {
    const now = this.clock.now().getTime();
    const key = `${audiences.join('\u0000')}\u0001${token}`;
    const hit = this.verified.get(key);
    if (hit && now >= hit.from && now < hit.until) return { ...hit.result };
    this.verified.delete(key);
    const { payload } = await jwtVerify(token, this.key.publicKey, {
      issuer: this.issuer,
      audience: [...audiences],
      algorithms: [ALG],
      currentDate: this.clock.now(),
      requiredClaims: ['exp', 'sub'],
    });
    const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    const result = { ...claimsOf(payload), audiences: audiences.filter((a) => aud.includes(a)) };
    // exp is a required claim; nbf, when given, was checked by jwtVerify against `now`.
    this.verified.set(key, { result, from: (payload.nbf ?? 0) * 1000, until: Math.min(now + VERIFIED_TTL_MS, payload.exp! * 1000) });
    if (this.verified.size > VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    return result;
  }
}

function claimsOf(payload: JWTPayload): ServiceAccountClaims {
  const k = payload['kubernetes.io'];
  if (!isRecord(k) || typeof k.namespace !== 'string' || !isNameUid(k.serviceaccount)) throw new Error('the token has no kubernetes.io claims');
  if (payload.sub !== serviceAccountUsername(k.namespace, k.serviceaccount.name)) throw new Error('the token subject does not match its service account');
  return { namespace: k.namespace, serviceAccount: k.serviceaccount, ...(isNameUid(k.pod) ? { pod: k.pod } : {}) };
}
