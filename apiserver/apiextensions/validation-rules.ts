// x-kubernetes-validations: the CEL rules of a CRD schema, compiled once per version (with their cost checked) and
// evaluated at each node of an object with `self` (and `oldSelf` on updates, where the old value correlates), with
// kube's messages: `spec: Invalid value: "object": <message>`.
import { forbidden, invalid, required, duplicate, type Cause } from '../../api/field.js';
import { CelCompileError, compile, costExceeded, errorText, estimateCost, PER_CALL_COST_LIMIT, refersTo, toCel, type Program, type SizeOracle } from '../cel/cel.js';
import type { SchemaProps, ValidationRule } from './structural.js';

interface CompiledRule {
  rule: ValidationRule;
  program: Program;
  message?: Program;
  transition: boolean;
}

/** The rules of one schema node and of the nodes below it that have any. */
export interface RuleTree {
  schema: SchemaProps;
  rules: CompiledRule[];
  properties: Map<string, RuleTree>;
  additional?: RuleTree;
  items?: RuleTree;
}

const ELEMENT = '[]';

/** Sizes from the schema the rule sits on: maxItems / maxProperties along a path of property names. */
function oracle(node: SchemaProps): SizeOracle {
  const at = (path: readonly string[]): SchemaProps | undefined => {
    if (path[0] !== 'self' && path[0] !== 'oldSelf') return undefined;
    let cur: SchemaProps | undefined = node;
    for (const seg of path.slice(1)) {
      if (!cur) return undefined;
      if (seg === ELEMENT) cur = cur.items ?? (typeof cur.additionalProperties === 'object' ? cur.additionalProperties : undefined);
      else cur = cur.properties?.[seg] ?? (typeof cur.additionalProperties === 'object' ? cur.additionalProperties : undefined);
    }
    return cur;
  };
  return {
    maxSize: (path) => {
      const s = at(path);
      return s?.maxItems ?? s?.maxProperties ?? (s?.type === 'string' ? s.maxLength : undefined);
    },
    elementPath: (path) => [...path, ELEMENT],
  };
}

/** Compiles the rules under `schema`; causes name what cannot compile or costs too much (`path` is the CRD's field). */
export function compileRules(schema: SchemaProps, path: string): { tree: RuleTree | undefined; causes: Cause[] } {
  const causes: Cause[] = [];
  const build = (s: SchemaProps, at: string): RuleTree | undefined => {
    const rules: CompiledRule[] = [];
    (s['x-kubernetes-validations'] ?? []).forEach((rule, i) => {
      const field = `${at}.x-kubernetes-validations[${i}]`;
      try {
        const program = compile(rule.rule);
        const cost = estimateCost(program, oracle(s));
        if (cost > PER_CALL_COST_LIMIT) causes.push(forbidden(`${field}.rule`, costExceeded(cost)));
        const message = rule.messageExpression ? compile(rule.messageExpression) : undefined;
        rules.push({ rule, program, ...(message ? { message } : {}), transition: refersTo(rule.rule, 'oldSelf') });
      } catch (err) {
        if (!(err instanceof CelCompileError)) throw err;
        causes.push(invalid(`${field}.rule`, rule.rule, `compilation failed: ${errorText(err)}`));
      }
    });
    const properties = new Map<string, RuleTree>();
    for (const [k, sub] of Object.entries(s.properties ?? {})) {
      const t = build(sub, `${at}.properties[${k}]`);
      if (t) properties.set(k, t);
    }
    const additional = typeof s.additionalProperties === 'object' ? build(s.additionalProperties, `${at}.additionalProperties`) : undefined;
    const items = s.items ? build(s.items, `${at}.items`) : undefined;
    if (!rules.length && !properties.size && !additional && !items) return undefined;
    return { schema: s, rules, properties, ...(additional ? { additional } : {}), ...(items ? { items } : {}) };
  };
  const tree = build(schema, path);
  return { tree, causes };
}

/** The schema type kube shows as the value of a failed rule ("object", "string", ...). */
function typeOf(s: SchemaProps, v: unknown): string {
  if (s.type) return s.type;
  if (Array.isArray(v)) return 'array';
  return v === null ? 'null' : typeof v === 'number' ? 'integer' : typeof v;
}

function failure(rule: CompiledRule, field: string, shown: string, vars: Record<string, unknown>): Cause {
  let msg = rule.rule.message || `failed rule: ${rule.rule.rule}`;
  if (rule.message) {
    try {
      const m = rule.message.eval(vars);
      if (typeof m === 'string' && m.trim() !== '' && !m.includes('\n')) msg = m;
    } catch {
      // kube falls back to message (or the default) when messageExpression fails; nothing more to say.
    }
  }
  const fp = rule.rule.fieldPath ?? '';
  const path = field === '' && fp.startsWith('.') ? fp.slice(1) : `${field}${fp}`;
  switch (rule.rule.reason) {
    case 'FieldValueForbidden':
      return forbidden(path, msg);
    case 'FieldValueRequired':
      return required(path, msg);
    case 'FieldValueDuplicate':
      return duplicate(path, msg);
    default:
      return invalid(path, shown, msg);
  }
}

/** Old items correlated with new ones: list-type map by its keys, set by value; other lists do not correlate. */
function oldItem(s: SchemaProps, old: unknown[] | undefined, item: unknown): unknown {
  if (!old) return undefined;
  const type = s['x-kubernetes-list-type'];
  if (type === 'map' && typeof item === 'object' && item !== null) {
    const keys = s['x-kubernetes-list-map-keys'] ?? [];
    const o = item as Record<string, unknown>;
    return old.find((x) => typeof x === 'object' && x !== null && keys.every((k) => (x as Record<string, unknown>)[k] === o[k]));
  }
  if (type === 'set') return old.find((x) => x === item);
  return undefined;
}

/** Evaluates every rule of the tree on `value` (and `old`, for transition rules); field is the value's path. */
export function evaluateRules(t: RuleTree, value: unknown, old: unknown, field: string, causes: Cause[]): void {
  if (value === undefined || value === null) return;
  if (t.rules.length) {
    const self = toCel(value);
    const oldSelf = old === undefined || old === null ? undefined : toCel(old);
    for (const r of t.rules) {
      if (r.transition && oldSelf === undefined) continue;
      const vars: Record<string, unknown> = { self, ...(oldSelf !== undefined ? { oldSelf } : {}) };
      let ok: unknown;
      try {
        ok = r.program.eval(vars);
      } catch (err) {
        causes.push(invalid(field, typeOf(t.schema, value), `${errorText(err)} evaluating rule: ${r.rule.rule}`));
        continue;
      }
      if (ok !== true) causes.push(failure(r, field, typeOf(t.schema, value), vars));
    }
  }
  const join = (k: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? (field ? `${field}.${k}` : k) : `${field}[${k}]`);
  if (typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const po = typeof old === 'object' && old !== null && !Array.isArray(old) ? (old as Record<string, unknown>) : undefined;
    for (const [k, sub] of t.properties) evaluateRules(sub, o[k], po?.[k], join(k), causes);
    if (t.additional) for (const k of Object.keys(o)) evaluateRules(t.additional, o[k], po?.[k], join(k), causes);
  }
  if (Array.isArray(value) && t.items) {
    const items = t.items;
    const oldList = Array.isArray(old) ? old : undefined;
    value.forEach((x, i) => evaluateRules(items, x, oldItem(t.schema, oldList, x), `${field}[${i}]`, causes));
  }
}
