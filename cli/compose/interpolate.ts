// Compose interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt},
// ${VAR+alt}, nested (${A:-${B}}), and $$ for a literal $. Applied to every string value of the file, not to keys.
export class InterpolationError extends Error {
  override name = 'InterpolationError';
}

export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Interpolates one string; `where` names the value in errors. */
export function interpolate(input: string, env: Lookup, where: string): string {
  const { text, end } = parse(input, 0, env, where, false);
  if (end !== input.length) throw new InterpolationError(`${where}: unexpected "}" in "${input}"`);
  return text;
}

/** Reads text from `i` until the end (or an unmatched `}` when `inBraces`), expanding as it goes. */
function parse(s: string, start: number, env: Lookup, where: string, inBraces: boolean): { text: string; end: number } {
  let out = '';
  let i = start;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '}' && inBraces) return { text: out, end: i };
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const r = braced(s, i + 2, env, where);
      out += r.text;
      i = r.end;
    } else {
      const m = NAME.exec(s.slice(i + 1));
      if (!m) {
        out += '$';
        i++;
        continue;
      }
      out += env(m[0]) ?? '';
      i += 1 + m[0].length;
    }
  }
  if (inBraces) throw new InterpolationError(`${where}: missing "}" in "${s}"`);
  return { text: out, end: i };
}

/** ${...} starting after the brace; returns the text and the index after the closing brace. */
function braced(s: string, start: number, env: Lookup, where: string): { text: string; end: number } {
  const m = NAME.exec(s.slice(start));
  if (!m) throw new InterpolationError(`${where}: invalid interpolation format for "${s}": a variable name must follow "\${"`);
  const name = m[0];
  let i = start + name.length;
  const value = env(name);
  if (s[i] === '}') return { text: value ?? '', end: i + 1 };
  const colon = s[i] === ':';
  if (colon) i++;
  const op = s[i];
  if (op !== '-' && op !== '?' && op !== '+') throw new InterpolationError(`${where}: invalid interpolation format for "${s}"`);
  const rest = parse(s, i + 1, env, where, true);
  const end = rest.end + 1;
  const unset = colon ? value === undefined || value === '' : value === undefined;
  switch (op) {
    case '-':
      return { text: unset ? rest.text : (value ?? ''), end };
    case '+':
      return { text: unset ? '' : rest.text, end };
    default:
      if (unset) throw new InterpolationError(`${where}: required variable ${name} is missing a value${rest.text ? `: ${rest.text}` : ''}`);
      return { text: value ?? '', end };
  }
}

/** Interpolates every string in a parsed YAML tree (keys stay as written). */
export function interpolateTree(node: unknown, env: Lookup, path = ''): unknown {
  if (typeof node === 'string') return interpolate(node, env, path || 'value');
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, env, `${path}[${i}]`));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = interpolateTree(v, env, path ? `${path}.${k}` : k);
    return out;
  }
  return node;
}

/**
 * Parses an env file (.env, env_file): KEY=VALUE lines, `export` prefixes, # comments, single quotes (literal),
 * double quotes (with \n, \t, \", \\ escapes) and unquoted values (trailing " #" comments cut, interpolated with
 * the variables before them when `interpolateWith` is given, as Compose does for .env).
 */
export function parseEnvFile(text: string, source: string, interpolateWith?: Lookup): Record<string, string> {
  const out: Record<string, string> = {};
  const lookup: Lookup = (n) => (n in out ? out[n] : interpolateWith?.(n));
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    const key = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) throw new InterpolationError(`${source}:${idx + 1}: invalid variable name "${key}"`);
    if (eq < 0) {
      const v = interpolateWith?.(key);
      if (v !== undefined) out[key] = v;
      return;
    }
    let value = body.slice(eq + 1).trim();
    if (value.startsWith("'")) {
      const close = value.indexOf("'", 1);
      if (close < 0) throw new InterpolationError(`${source}:${idx + 1}: unterminated single quote`);
      value = value.slice(1, close);
    } else if (value.startsWith('"')) {
      const m = /^"((?:[^"\\]|\\.)*)"/.exec(value);
      if (!m) throw new InterpolationError(`${source}:${idx + 1}: unterminated double quote`);
      value = (m[1] ?? '').replace(/\\(.)/g, (_, ch: string) => ({ n: '\n', t: '\t', r: '\r' })[ch] ?? ch);
      if (interpolateWith) value = interpolate(value, lookup, `${source}:${idx + 1}`);
    } else {
      value = value.replace(/\s+#.*$/, '');
      if (interpolateWith) value = interpolate(value, lookup, `${source}:${idx + 1}`);
    }
    out[key] = value;
  });
  return out;
}
