// CEL for the API server (CRD x-kubernetes-validations, ValidatingAdmissionPolicy, webhook matchConditions): one
// environment with kube's limits, programs compiled once, JSON values given CEL's int where they are integers, and a
// static cost estimate so that a rule whose cost has no bound is refused before it can run.
import { Environment } from '@marcbachmann/cel-js';

/** kube's per-expression cost limit (PerCallLimit) and the size that bounds a list, map or string of unknown size. */
export const PER_CALL_COST_LIMIT = 1_000_000;
const MAX_REQUEST_BYTES = 3 * 1024 * 1024;

const env = new Environment({
  unlistedVariablesAreDyn: true,
  enableOptionalTypes: true,
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 10_000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
});

/** A compiled expression: call with the variables (values already converted with toCel). */
export interface Program {
  readonly expression: string;
  readonly ast: unknown;
  eval(vars: Record<string, unknown>): unknown;
}

export class CelCompileError extends Error {}

export function compile(expression: string): Program {
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(expression);
  } catch (err) {
    throw new CelCompileError((err as Error).message);
  }
  const ast = (parsed as unknown as { ast: unknown }).ast;
  checkPatterns(ast);
  return { expression, ast, eval: (vars) => parsed(vars) as unknown };
}

/**
 * Whether a regular expression can backtrack without bound in a backtracking engine: a quantified group that itself
 * holds a quantifier ((a+)+, (a|b*)*, (x{2,})+). kube evaluates patterns with RE2, in linear time; JavaScript's
 * engine backtracks, so such patterns are refused before they can run.
 */
export function backtracks(pattern: string): boolean {
  const stack: boolean[] = [];
  let inner = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '(') {
      stack.push(inner);
      inner = false;
    } else if (c === ')') {
      const had: boolean = inner;
      inner = stack.pop() ?? false;
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || (next === '{' && !/^\{\d+\}/.test(pattern.slice(i + 1)));
      if (had && quantified) return true;
      inner ||= had;
    } else if (c === '*' || c === '+' || c === '{') inner = true;
  }
  return false;
}

interface Node0 {
  op: string;
  args: unknown;
}

/** matches() takes a literal pattern that cannot backtrack without bound (see backtracks). */
function checkPatterns(n: unknown): void {
  if (Array.isArray(n)) return n.forEach(checkPatterns);
  if (typeof n !== 'object' || n === null || !('op' in n)) return;
  const node = n as Node0;
  if ((node.op === 'rcall' || node.op === 'call') && Array.isArray(node.args) && node.args[0] === 'matches') {
    const args = (node.op === 'rcall' ? node.args[2] : node.args[1]) as unknown[] | undefined;
    const pattern = args?.[args.length - 1] as Node0 | undefined;
    if (!pattern || pattern.op !== 'value' || typeof pattern.args !== 'string') {
      throw new CelCompileError('matches() takes a string literal pattern here (patterns are checked for unbounded backtracking before they run)');
    }
    if (backtracks(pattern.args)) throw new CelCompileError(`the pattern ${JSON.stringify(pattern.args)} may backtrack without bound (a quantified group holding a quantifier)`);
  }
  checkPatterns(node.args);
}

/** Whether an expression refers to a variable (oldSelf: a transition rule; params, namespaceObject ...). */
export function refersTo(expression: string, name: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9_.])${name}([^A-Za-z0-9_]|$)`).test(expression);
}

/**
 * A JSON value as CEL sees it: integers become CEL ints (bigint), so that `self.replicas + 1` and `x <= 10` type as
 * kube's do; objects and lists are copied. `intPaths` is not needed: JSON from the schema's integers is integral.
 */
export function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = toCel((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** A CEL result back as JSON (ints to numbers), for messages and patches. */
export function fromCel(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(fromCel);
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), fromCel(x)]));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromCel(x)]));
  return v;
}

// ---- static cost ----

/** How large a collection an expression can meet: maxItems / maxProperties where the schema says, else what fits in a request. */
export interface SizeOracle {
  /** The element count bound of the value an AST path reaches (['self', 'spec', 'items']); undefined: unknown. */
  maxSize(path: readonly string[]): number | undefined;
  /** What an element of the collection at path is (for nested comprehensions). */
  elementPath(path: readonly string[]): readonly string[];
}

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const UNBOUNDED = Math.floor(MAX_REQUEST_BYTES / 3);

interface Node {
  op: string;
  args: unknown;
}
const isNode = (x: unknown): x is Node => typeof x === 'object' && x !== null && 'op' in x && 'args' in x;

/** The variable path an AST node reads (self.spec.items -> ['self', 'spec', 'items']), through comprehension variables. */
function pathOf(n: unknown, scope: Map<string, readonly string[]>): readonly string[] | undefined {
  if (!isNode(n)) return undefined;
  if (n.op === 'id' && typeof n.args === 'string') return scope.get(n.args) ?? [n.args];
  if ((n.op === '.' || n.op === '?.') && Array.isArray(n.args)) {
    const base = pathOf(n.args[0], scope);
    return base && typeof n.args[1] === 'string' ? [...base, n.args[1]] : undefined;
  }
  return undefined;
}

/** A cost estimate of the expression: each comprehension multiplies its body by the size of what it iterates. */
export function estimateCost(p: Program, sizes: SizeOracle): number {
  const walk = (n: unknown, scope: Map<string, readonly string[]>): number => {
    if (Array.isArray(n)) return n.reduce<number>((sum, x) => sum + walk(x, scope), 0);
    if (!isNode(n)) return 0;
    if (n.op === 'rcall' && Array.isArray(n.args) && typeof n.args[0] === 'string' && COMPREHENSIONS.has(n.args[0])) {
      const [, target, params] = n.args as [string, unknown, unknown[]];
      const targetPath = pathOf(target, scope);
      const size = (targetPath && sizes.maxSize(targetPath)) ?? UNBOUNDED;
      const inner = new Map(scope);
      const v = params[0];
      if (isNode(v) && v.op === 'id' && typeof v.args === 'string' && targetPath) inner.set(v.args, sizes.elementPath(targetPath));
      return walk(target, scope) + size * (1 + walk(params.slice(1), inner));
    }
    return 1 + walk(n.args, scope);
  };
  return walk(p.ast, new Map());
}

/** kube's message for an expression over budget. */
export function costExceeded(cost: number, limit = PER_CALL_COST_LIMIT): string {
  return `estimated rule cost exceeds budget by factor of ${(cost / limit).toFixed(1)}x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)`;
}

/** The message of an evaluation error, without the library's source excerpt. */
export function errorText(err: unknown): string {
  return ((err as Error).message ?? String(err)).split('\n')[0] ?? '';
}
