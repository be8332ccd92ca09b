// The value transformers of kube-apiserver's encryption at rest (staging/src/k8s.io/apiserver/pkg/storage/value):
// each writes `k8s:enc:<provider>:v1:<key name>:` and its ciphertext, byte for byte kube's layout:
//   aesgcm:    12-byte random nonce, AES-GCM ciphertext, 16-byte tag; the storage key is the authenticated data.
//   aescbc:    16-byte random IV, AES-CBC ciphertext with PKCS#7 padding.
//   secretbox: 24-byte random nonce, XSalsa20-Poly1305 box (16-byte tag, then ciphertext), as NaCl's secretbox.Seal.
// identity stores the bytes as they are.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';

/** One way of storing values: `prefix` marks what it wrote (empty for identity). */
export interface PrefixedTransformer {
  readonly prefix: Buffer;
  seal(plain: Uint8Array, key: string): Uint8Array;
  /** The plain bytes of data (the prefix already taken off); throws when they do not authenticate. */
  open(data: Uint8Array, key: string): Uint8Array;
}

const ENC_PREFIX = Buffer.from('k8s:enc:');

const concat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);

export function aesGcm(name: string, secret: Buffer): PrefixedTransformer {
  const alg = `aes-${secret.length * 8}-gcm` as 'aes-256-gcm';
  return {
    prefix: Buffer.from(`k8s:enc:aesgcm:v1:${name}:`),
    seal(plain, key) {
      const nonce = randomBytes(12);
      const c = createCipheriv(alg, secret, nonce);
      c.setAAD(Buffer.from(key));
      const body = concat(c.update(plain), c.final());
      return concat(nonce, body, c.getAuthTag());
    },
    open(data, key) {
      if (data.length < 12 + 16) throw new Error('the data is too short for AES-GCM');
      const d = createDecipheriv(alg, secret, data.subarray(0, 12));
      d.setAAD(Buffer.from(key));
      d.setAuthTag(data.subarray(data.length - 16));
      return concat(d.update(data.subarray(12, data.length - 16)), d.final());
    },
  };
}

export function aesCbc(name: string, secret: Buffer): PrefixedTransformer {
  const alg = `aes-${secret.length * 8}-cbc` as 'aes-256-cbc';
  return {
    prefix: Buffer.from(`k8s:enc:aescbc:v1:${name}:`),
    seal(plain) {
      const iv = randomBytes(16);
      const c = createCipheriv(alg, secret, iv);
      return concat(iv, c.update(plain), c.final());
    },
    open(data) {
      if (data.length < 32 || data.length % 16 !== 0) throw new Error('the data is not a whole number of AES blocks after the IV');
      const d = createDecipheriv(alg, secret, data.subarray(0, 16));
      return concat(d.update(data.subarray(16)), d.final());
    },
  };
}

export function secretbox(name: string, secret: Buffer): PrefixedTransformer {
  return {
    prefix: Buffer.from(`k8s:enc:secretbox:v1:${name}:`),
    seal(plain) {
      const nonce = randomBytes(24);
      return concat(nonce, xsalsa20poly1305(secret, nonce).encrypt(plain));
    },
    open(data) {
      if (data.length < 24 + 16) throw new Error('the data is too short for secretbox');
      return xsalsa20poly1305(secret, data.subarray(0, 24)).decrypt(data.subarray(24));
    },
  };
}

export const identity: PrefixedTransformer = {
  prefix: Buffer.alloc(0),
  seal: (plain) => plain,
  open(data) {
    // kube's identity transformer refuses what another provider encrypted: its key is missing from the configuration.
    if (Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, ENC_PREFIX.length)).equals(ENC_PREFIX)) {
      throw new Error('identity transformer tried to read encrypted data');
    }
    return data;
  },
};

const startsWith = (data: Uint8Array, prefix: Buffer): boolean =>
  data.byteLength >= prefix.length && Buffer.from(data.buffer, data.byteOffset, prefix.length).equals(prefix);

/**
 * kube's prefix transformer over a resource's providers (each key of each provider, in order): the first writes, any
 * whose prefix the data starts with reads, and data read by another than the first is stale (rewritten on update).
 */
export class ProviderChain {
  constructor(private readonly transformers: readonly PrefixedTransformer[]) {
    if (!transformers.length) throw new Error('a resource needs at least one provider');
  }

  toStorage(plain: Uint8Array, key: string): Uint8Array {
    const first = this.transformers[0]!;
    return first.prefix.length ? concat(first.prefix, first.seal(plain, key)) : plain;
  }

  fromStorage(data: Uint8Array, key: string): Uint8Array {
    let failure: unknown;
    for (const t of this.transformers) {
      if (!startsWith(data, t.prefix)) continue;
      try {
        return t.open(data.subarray(t.prefix.length), key);
      } catch (err) {
        // Another provider with a matching prefix may read it (an identity listed after the keys).
        failure = err;
      }
    }
    if (failure) throw new Error(`failed to decrypt the data: ${failure instanceof Error ? failure.message : String(failure)}`);
    throw new Error('no matching prefix found: the key the data was written with is not in the encryption configuration');
  }

  /** Whether data was written by another provider than the one writing now. */
  stale(data: Uint8Array): boolean {
    const first = this.transformers[0]!;
    if (first.prefix.length) return !startsWith(data, first.prefix);
    return startsWith(data, ENC_PREFIX);
  }
}
