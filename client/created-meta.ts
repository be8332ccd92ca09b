// The name, uid and resourceVersion of an object from its JSON without decoding the rest: a writer that only needs to
// know what it created (a controller's pod creates) skips building the object, its managed fields and spec.

/** What a create answer says about the object made. */
export interface CreatedMeta {
  name: string;
  uid: string;
  resourceVersion: string;
}

const WANTED = new Set(['name', 'uid', 'resourceVersion']);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index just past the string that starts at i (text[i] is '"'); -1 when it is not closed. */
function skipString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  return -1;
}

/** Index just past the JSON value that starts at i (no leading white space); -1 when it does not end. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    let j = i;
    for (; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) break;
    }
    return j > i ? j : -1;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (d === QUOTE) {
      j = skipString(text, j) - 1;
      if (j < 0) return -1;
    } else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
    else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return j + 1;
  }
  return -1;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** The key of the string at [from, to): sliced when it has no escape, decoded when it has. */
function keyOf(text: string, from: number, to: number): string {
  const inner = text.slice(from + 1, to - 1);
  return inner.includes('\\') ? (JSON.parse(text.slice(from, to)) as string) : inner;
}

/**
 * Calls visit(key, valueStart, valueEnd) for each member of the object at i, until visit returns 'stop'; false when the
 * text is not an object there (or visit returned false).
 */
function members(text: string, i: number, visit: (key: string, from: number, to: number) => boolean | 'stop'): boolean {
  i = skipSpace(text, i);
  if (text.charCodeAt(i) !== OPEN_BRACE) return false;
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return true;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return false;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return false;
    const key = keyOf(text, i, keyEnd);
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return false;
    const from = skipSpace(text, i + 1);
    const to = skipValue(text, from);
    if (to < 0) return false;
    const went = visit(key, from, to);
    if (went === 'stop') return true;
    if (!went) return false;
    i = skipSpace(text, to);
    if (text.charCodeAt(i) === CLOSE_BRACE) return true;
    if (text.charCodeAt(i) !== COMMA) return false;
    i = skipSpace(text, i + 1);
  }
}

/**
 * metadata.name, uid and resourceVersion of the object encoded in text, reading the top level up to metadata and
 * metadata up to the last of the three (an API server's answer names each member once, so the first is the one);
 * text where these cannot be read so is decoded whole instead.
 */
export function createdMeta(text: string): CreatedMeta {
  const out: CreatedMeta = { name: '', uid: '', resourceVersion: '' };
  let found = false;
  const ok = members(text, 0, (key, from) => {
    if (key !== 'metadata') return true;
    const seen = new Set<string>();
    found = members(text, from, (k, f, t) => {
      if (!WANTED.has(k) || seen.has(k) || text.charCodeAt(f) !== QUOTE) return true;
      seen.add(k);
      out[k as keyof CreatedMeta] = keyOf(text, f, t);
      return seen.size === WANTED.size ? 'stop' : true;
    });
    return found ? 'stop' : false;
  });
  if (ok && found) return out;
  const m = (JSON.parse(text) as { metadata?: Partial<CreatedMeta> }).metadata ?? {};
  return { name: m.name ?? '', uid: m.uid ?? '', resourceVersion: m.resourceVersion ?? '' };
}
