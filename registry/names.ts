// Repository names, tags and digests as the distribution spec's grammar allows them: nothing else reaches the disk.
import { digestInvalid, nameInvalid, RegistryError } from './errors.js';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const SHA256 = /^sha256:([a-f0-9]{64})$/;
/** The spec's digest grammar; only sha256 is stored, other algorithms are refused as unsupported. */
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Distribution's limit on a repository name. */
export const MAX_NAME_LENGTH = 255;

export function checkName(name: string): string {
  if (name.length > MAX_NAME_LENGTH || !NAME.test(name)) throw nameInvalid(name.slice(0, MAX_NAME_LENGTH));
  return name;
}

export const isTag = (ref: string): boolean => TAG.test(ref);

export function isDigest(ref: string): boolean {
  return SHA256.test(ref);
}

/** The hex of a sha256 digest; a malformed digest is DIGEST_INVALID, another algorithm UNSUPPORTED. */
export function hexOf(digest: string): string {
  const m = SHA256.exec(digest);
  if (m?.[1]) return m[1];
  if (ANY_DIGEST.test(digest)) throw new RegistryError(400, 'DIGEST_INVALID', `digest algorithm not supported (only sha256): ${digest.split(':')[0] ?? ''}`, { digest: digest.slice(0, 200) });
  throw digestInvalid('invalid digest', { digest: digest.slice(0, 200) });
}

/** A manifest reference: a tag or a digest. */
export function checkReference(ref: string): { tag?: string; digest?: string } {
  if (ref.includes(':')) {
    hexOf(ref);
    return { digest: ref };
  }
  if (!TAG.test(ref)) throw new RegistryError(400, 'MANIFEST_INVALID', 'invalid tag', { tag: ref.slice(0, 200) });
  return { tag: ref };
}
