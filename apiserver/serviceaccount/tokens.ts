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

export class TokenIssuer {
  /** Tokens whose signature and claims were checked, by audiences and token (insertion order: the oldest goes first). */
  private readonly checked = new Map<string, JWTPayload>();

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
    const payload = await this.verified(token, audiences);
    const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    return { ...claimsOf(payload), audiences: audiences.filter((a) => aud.includes(a)) };
  }

  /**
   * The token's payload once its signature, issuer and audience have been checked for these audiences; its time
   * claims are checked on every call. An ECDSA verification costs ~0.1 ms of the API server's thread and a component
   * sends the same token with each request, so a checked token is remembered (kube-apiserver caches token
   * authentication for 10 s; here only the signature check is kept, the account and pod lookups stay per request).
   */
  private async verified(token: string, audiences: readonly string[]): Promise<JWTPayload> {
    const id = `${audiences.join('\u0000')}\u0001${token}`;
    const now = this.clock.now();
    const hit = this.checked.get(id);
    if (hit) {
      const s = Math.floor(now.getTime() / 1000);
      // jose's rules: expired at exp, not valid before nbf.
      if (typeof hit.exp === 'number' && hit.exp <= s) {
        this.checked.delete(id);
        throw new Error('"exp" claim timestamp check failed');
      }
      if (typeof hit.nbf !== 'number' || hit.nbf <= s) return hit;
    }
    const { payload } = await jwtVerify(token, this.key.publicKey, {
      issuer: this.issuer,
      audience: [...audiences],
      algorithms: [ALG],
      currentDate: now,
      requiredClaims: ['exp', 'sub'],
    });
    if (this.checked.size >= CHECKED_TOKENS_KEPT) this.checked.delete(this.checked.keys().next().value!);
    this.checked.set(id, payload);
    return payload;
  }

}

/** Checked tokens remembered (one per component, controller or pod that talks to the API server with a token). */
const CHECKED_TOKENS_KEPT = 4096;

function claimsOf(payload: JWTPayload): ServiceAccountClaims {
  const k = payload['kubernetes.io'];
  if (!isRecord(k) || typeof k.namespace !== 'string' || !isNameUid(k.serviceaccount)) throw new Error('the token has no kubernetes.io claims');
  if (payload.sub !== serviceAccountUsername(k.namespace, k.serviceaccount.name)) throw new Error('the token subject does not match its service account');
  return { namespace: k.namespace, serviceAccount: k.serviceaccount, ...(isNameUid(k.pod) ? { pod: k.pod } : {}) };
}
