// kubectl's JSONPath templates: text, {.a.b[0]}, {.items[*].x}, {range ...}{end}, {"\n"}, [?(@.k=="v")], ..name, [a:b].
import { CliError } from '../errors.js';

type Segment =
  | { t: 'field'; names: string[] }
  | { t: 'recursive'; name: string | null }
  | { t: 'wildcard' }
  | { t: 'index'; i: number }
  | { t: 'slice'; start?: number; end?: number; step?: number }
  | { t: 'filter'; left: Segment[]; op?: string; right?: Segment[] | { lit: unknown } };

type Node = { t: 'text'; s: string } | { t: 'expr'; path: Segment[] } | { t: 'range'; path: Segment[]; body: Node[] };

export class JsonPath {
  private readonly nodes: Node[];

  /** A template; `.a.b` without braces is taken as `{.a.b}` (kubectl's relaxed form). */
  constructor(readonly template: string) {
    const tpl = template.includes('{') ? template : `{${template}}`;
    this.nodes = parseTemplate(tpl);
  }

  /** The template's output for obj. */
  execute(obj: unknown): string {
    return run(this.nodes, obj, obj);
  }

  /** The values of the first expression of the template (custom-columns, wait --for=jsonpath). */
  values(obj: unknown): unknown[] {
    const first = this.nodes.find((n): n is Exclude<Node, { t: 'text' }> => n.t !== 'text');
    if (!first) return [];
    return evalPath(first.path, obj, obj);
  }
}

function parseTemplate(s: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  const ranges: { t: 'range'; path: Segment[]; body: Node[] }[] = [];
  let i = 0;
  while (i < s.length) {
    const open = s.indexOf('{', i);
    if (open < 0) {
      stack.at(-1)!.push({ t: 'text', s: s.slice(i) });
      break;
    }
    if (open > i) stack.at(-1)!.push({ t: 'text', s: s.slice(i, open) });
    const close = findEnd(s, open + 1, '}', '[(', '])', `error parsing jsonpath ${s}, unclosed action`);
    const inner = s.slice(open + 1, close).trim();
    i = close + 1;
    if (inner.startsWith('range ') || inner === 'range') {
      const r = { t: 'range' as const, path: parsePath(inner.slice(5).trim()), body: [] as Node[] };
      stack.at(-1)!.push(r);
      ranges.push(r);
      stack.push(r.body);
    } else if (inner === 'end') {
      if (stack.length === 1) throw new CliError(`error parsing jsonpath ${s}, not in range, nothing to end`);
      stack.pop();
      ranges.pop();
    } else if (/^(["']).*\1$/s.test(inner)) {
      stack.at(-1)!.push({ t: 'text', s: unescape(inner.slice(1, -1)) });
    } else {
      stack.at(-1)!.push({ t: 'expr', path: parsePath(inner) });
    }
  }
  if (stack.length > 1) throw new CliError(`error parsing jsonpath ${s}, unclosed range`);
  return root;
}

/**
 * The index of `end` that closes a group whose content starts at `from`: quoted strings are skipped, and `end` inside
 * a nested group (opened by one of `opens`, closed by the same place in `closes`) does not count.
 */
function findEnd(s: string, from: number, end: string, opens: string, closes: string, error: string): number {
  let quote = '';
  let depth = 0;
  for (let j = from; j < s.length; j++) {
    const c = s[j]!;
    if (quote) {
      if (c === '\\') j++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === end && depth <= 0) return j;
    else if (opens.includes(c)) depth++;
    else if (closes.includes(c)) depth--;
  }
  throw new CliError(error);
}

const unescape = (s: string): string => s.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);

function parsePath(src: string): Segment[] {
  let s = src.trim();
  if (s.startsWith('$') || s.startsWith('@')) s = s.slice(1);
  const segs: Segment[] = [];
  let i = 0;
  const name = (): string => {
    let n = '';
    while (i < s.length) {
      const c = s[i]!;
      if (c === '\\' && i + 1 < s.length) {
        n += s[i + 1];
        i += 2;
      } else if (c === '.' || c === '[' || c === ' ') break;
      else {
        n += c;
        i++;
      }
    }
    return n;
  };
  while (i < s.length) {
    const c = s[i]!;
    if (s.startsWith('..', i)) {
      i += 2;
      if (s[i] === '*') {
        i++;
        segs.push({ t: 'recursive', name: null });
      } else if (s[i] === '[') segs.push({ t: 'recursive', name: null });
      else segs.push({ t: 'recursive', name: name() });
    } else if (c === '.') {
      i++;
      if (s[i] === '*') {
        i++;
        segs.push({ t: 'wildcard' });
      } else {
        const n = name();
        if (n) segs.push({ t: 'field', names: [n] });
      }
    } else if (c === '[') {
      const close = findEnd(s, i + 1, ']', '[', ']', `error parsing jsonpath ${s}: unterminated array`);
      segs.push(parseBracket(s.slice(i + 1, close).trim(), src));
      i = close + 1;
    } else if (c === ' ') i++;
    else {
      const n = name();
      if (!n) throw new CliError(`error parsing jsonpath ${src}: unrecognized character ${c}`);
      segs.push({ t: 'field', names: [n] });
    }
  }
  return segs;
}

function parseBracket(b: string, src: string): Segment {
  if (b === '*') return { t: 'wildcard' };
  if (b.startsWith('?')) {
    const m = /^\?\s*\((.*)\)$/s.exec(b);
    if (!m) throw new CliError(`error parsing jsonpath ${src}: bad filter ${b}`);
    const expr = m[1]!.trim();
    const op = /\s*(==|!=|<=|>=|=~|<|>)\s*/.exec(expr);
    if (!op) return { t: 'filter', left: parsePath(expr) };
    const left = parsePath(expr.slice(0, op.index));
    const rhs = expr.slice(op.index + op[0].length).trim();
    return { t: 'filter', left, op: op[1]!, right: literal(rhs) ?? parsePath(rhs) };
  }
  if (/^(['"]).*\1(\s*,\s*(['"]).*\3)*$/s.test(b)) {
    return { t: 'field', names: [...b.matchAll(/(['"])((?:\\.|(?!\1).)*)\1/g)].map((m) => unescape(m[2]!)) };
  }
  if (b.includes(':')) {
    const [a, e, st] = b.split(':').map((x) => (x.trim() === '' ? undefined : Number(x)));
    return { t: 'slice', ...(a !== undefined ? { start: a } : {}), ...(e !== undefined ? { end: e } : {}), ...(st !== undefined ? { step: st } : {}) };
  }
  if (/^-?\d+$/.test(b)) return { t: 'index', i: Number(b) };
  return { t: 'field', names: [b] };
}

function literal(s: string): { lit: unknown } | undefined {
  if (/^(['"]).*\1$/s.test(s)) return { lit: unescape(s.slice(1, -1)) };
  if (/^-?\d+(\.\d+)?$/.test(s)) return { lit: Number(s) };
  if (s === 'true' || s === 'false') return { lit: s === 'true' };
  if (s === 'null') return { lit: null };
  return undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function evalPath(path: Segment[], cur: unknown, root: unknown): unknown[] {
  let vals: unknown[] = [cur];
  for (const seg of path) vals = vals.flatMap((v) => step(seg, v, root));
  return vals;
}

function step(seg: Segment, v: unknown, root: unknown): unknown[] {
  switch (seg.t) {
    case 'field':
      return isObj(v) ? seg.names.filter((n) => n in v).map((n) => v[n]) : [];
    case 'wildcard':
      return Array.isArray(v) ? v : isObj(v) ? Object.values(v) : [];
    case 'index': {
      if (!Array.isArray(v)) return [];
      const i = seg.i < 0 ? v.length + seg.i : seg.i;
      if (i < 0 || i >= v.length) throw new CliError(`array index out of bounds: index ${seg.i}, length ${v.length}`);
      return [v[i]];
    }
    case 'slice': {
      if (!Array.isArray(v)) return [];
      const norm = (x: number | undefined, d: number): number => (x === undefined ? d : x < 0 ? Math.max(0, v.length + x) : Math.min(x, v.length));
      const out: unknown[] = [];
      for (let i = norm(seg.start, 0); i < norm(seg.end, v.length); i += seg.step ?? 1) out.push(v[i]);
      return out;
    }
    case 'recursive': {
      const out: unknown[] = [];
      const walk = (x: unknown): void => {
        if (isObj(x)) {
          if (seg.name === null) out.push(...Object.values(x));
          else if (seg.name in x) out.push(x[seg.name]);
          Object.values(x).forEach(walk);
        } else if (Array.isArray(x)) {
          if (seg.name === null) out.push(...x);
          x.forEach(walk);
        }
      };
      walk(v);
      return out;
    }
    case 'filter': {
      const items = Array.isArray(v) ? v : isObj(v) ? Object.values(v) : [];
      return items.filter((item) => {
        const l = evalPath(seg.left, item, root);
        if (!seg.op) return l.length > 0 && l[0] !== false && l[0] !== null;
        const r = seg.right && 'lit' in seg.right ? [seg.right.lit] : evalPath(seg.right as Segment[], item, root);
        if (!l.length || !r.length) return false;
        return compare(l[0], seg.op, r[0]);
      });
    }
  }
}

function compare(a: unknown, op: string, b: unknown): boolean {
  switch (op) {
    case '==':
      return a === b || String(a) === String(b);
    case '!=':
      return !(a === b || String(a) === String(b));
    case '=~':
      return new RegExp(String(b)).test(String(a));
    default: {
      const x = Number(a);
      const y = Number(b);
      if (Number.isNaN(x) || Number.isNaN(y)) return false;
      return op === '<' ? x < y : op === '>' ? x > y : op === '<=' ? x <= y : x >= y;
    }
  }
}

export function printValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}

function run(nodes: Node[], cur: unknown, root: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.s;
    else if (n.t === 'expr') out += evalPath(n.path, cur, root).map(printValue).join(' ');
    else {
      let vals = evalPath(n.path, cur, root);
      if (vals.length === 1 && Array.isArray(vals[0])) vals = vals[0];
      for (const v of vals) out += run(n.body, v, root);
    }
  }
  return out;
}
