// Content hashes for names and labels (kube's controller.ComputeHash and history.HashControllerRevision): FNV-32a over
// a canonical JSON form, printed with apimachinery's rand.SafeEncodeString so that the result is a valid label value.

/** JSON with object keys sorted and undefined fields left out, so that equal values give equal text. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** k8s.io/apimachinery rand.SafeEncodeString: no vowels, no look-alike characters. */
export function safeEncodeString(s: string): string {
  return [...s].map((c) => SAFE_ALPHABET[c.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

/** The hash of a value (a pod template, a revision's data) and, when given, a collision count mixed in. */
export function hashOf(value: unknown, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(stableJson(value)));
  if (collisionCount !== undefined) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}
