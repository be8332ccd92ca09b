// Go's %q, for messages that must read as kube-apiserver's (names and values quoted the way Go quotes them).

/** Go's strconv.Quote (what %q prints): printable characters as they are, the others escaped. */
export function goQuote(s: string): string {
  let out = '"';
  // String(): a name read from a request body may be a number or worse where a string belongs.
  for (const ch of String(s)) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (GO_ESCAPES[c] !== undefined) out += GO_ESCAPES[c];
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if ((c >= 0x80 && c < 0xa0) || c === 0xad || c === 0x2028 || c === 0x2029 || c === 0xfeff) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
const GO_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };
