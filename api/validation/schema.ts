// Structural validation with ajv: each schema compiled once, ajv errors mapped to Kubernetes field causes.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { TSchema } from '@sinclair/typebox';
import { K8S_KEYWORDS } from '../schemas/kit.js';
import { collectDefinitions, type JsonSchema } from '../schemas/definitions.js';
import { invalid, notSupported, required, tooLong, tooMany, type Cause } from '../field.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object or the function itself.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;

// Named definitions are compiled once and shared by every kind that embeds them (PodSpec in five kinds).
const ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: false, strictTuples: false, inlineRefs: false });
addFormats(ajv);
rememberFormat(ajv, 'date-time');
ajv.addVocabulary([...K8S_KEYWORDS]);

/**
 * A format's answers for the strings it saw last: every write validates its whole object, and timestamps repeat (the
 * pods made in one second share their creationTimestamp and conditions' times). ajv-formats' date-time splits and
 * matches regular expressions each time; the answer for a string never changes.
 */
export function rememberFormat(a: Ajv, name: string, size = 256): void {
  const f = a.formats[name];
  if (!f || typeof f !== 'object' || !('validate' in f) || typeof f.validate !== 'function') return;
  const check = f.validate as (s: string) => boolean;
  const seen = new Map<string, boolean>();
  a.addFormat(name, {
    ...f,
    type: 'string',
    validate: (str: string) => {
      let ok = seen.get(str);
      if (ok === undefined) {
        ok = check(str);
        if (seen.size >= size) seen.clear();
        seen.set(str, ok);
      }
      return ok;
    },
  } as never);
}

const DEFS = 'ketch:definitions';
const definitions = new Map<string, JsonSchema>();
const added = new Set<string>();
const compiled = new WeakMap<TSchema, ValidateFunction>();

function validatorFor(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    const root = collectDefinitions(schema, definitions, (name) => `${DEFS}-${name}`);
    for (const [name, def] of definitions) {
      if (added.has(name)) continue;
      added.add(name);
      ajv.addSchema(def, `${DEFS}-${name}`);
    }
    v = ajv.compile(root);
    compiled.set(schema, v);
  }
  return v;
}

export interface SchemaResult {
  causes: Cause[];
  /** A value has the wrong JSON type: semantic checks would read garbage, so they are skipped. */
  structural: boolean;
}

/** Validates `value` against `schema`; causes carry Kubernetes field paths (`spec.containers[0].image`). */
export function validateSchema(schema: TSchema, value: unknown): SchemaResult {
  const validate = validatorFor(schema);
  if (validate(value)) return { causes: [], structural: false };
  const errors = validate.errors ?? [];
  // An anyOf failure is reported once, at its own path, not once per branch.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const isBranch = (e: ErrorObject) => anyOfs.some((a) => a.instancePath === e.instancePath && e.schemaPath.startsWith(`${a.schemaPath}/`));
  const causes: Cause[] = [];
  let structural = false;
  for (const e of errors) {
    if (isBranch(e)) continue;
    if (e.keyword === 'type' || e.keyword === 'anyOf') structural = true;
    causes.push(toCause(e, value));
  }
  return { causes: dedupe(causes), structural };
}

export function dedupe(causes: Cause[]): Cause[] {
  if (causes.length < 2) return causes; // the valid object's case: nothing to compare
  const seen = new Set<string>();
  return causes.filter((c) => {
    const k = `${c.field}\u0000${c.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const FORMAT_MESSAGES: Record<string, string> = {
  'date-time': 'must be an RFC 3339 date-time, e.g. 2006-01-02T15:04:05Z',
  byte: 'must be a base64 encoded string',
  int32: 'must be a 32-bit integer',
  int64: 'must be a 64-bit integer',
};

function toCause(e: ErrorObject, root: unknown): Cause {
  const field = fieldPath(e.instancePath, root);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return required(join(field, String(params.missingProperty)));
    case 'enum':
      return notSupported(field, e.data, (params.allowedValues as unknown[]).map(String));
    case 'type':
      return invalid(field, e.data, `must be of type ${String(params.type)}`);
    case 'anyOf': {
      const branches = ((e.parentSchema as { anyOf?: { type?: string }[] } | undefined)?.anyOf ?? []).map((b) => b.type ?? 'value');
      return invalid(field, e.data, `must be of type ${branches.join(' or ')}`);
    }
    case 'minimum':
      return invalid(field, e.data, `must be greater than or equal to ${String(params.limit)}`);
    case 'exclusiveMinimum':
      return invalid(field, e.data, `must be greater than ${String(params.limit)}`);
    case 'maximum':
      return invalid(field, e.data, `must be less than or equal to ${String(params.limit)}`);
    case 'exclusiveMaximum':
      return invalid(field, e.data, `must be less than ${String(params.limit)}`);
    case 'maxLength':
      return tooLong(field, Number(params.limit));
    case 'maxItems':
      return tooMany(field, Array.isArray(e.data) ? e.data.length : 0, Number(params.limit));
    case 'minItems':
      return required(field, `must have at least ${String(params.limit)} items`);
    case 'format':
      return invalid(field, e.data, FORMAT_MESSAGES[String(params.format)] ?? `must be a valid ${String(params.format)}`);
    case 'pattern':
      return invalid(field, e.data, `must match the regular expression '${String(params.pattern)}'`);
    default:
      return invalid(field, e.data, e.message ?? 'is invalid');
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const join = (path: string, name: string): string => (IDENT.test(name) ? (path ? `${path}.${name}` : name) : `${path}[${name}]`);

/** `/spec/containers/0/image` -> `spec.containers[0].image`; map keys that are not identifiers -> `[key]`. */
export function fieldPath(instancePath: string, root: unknown): string {
  if (instancePath === '') return '';
  let path = '';
  let cur: unknown = root;
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path = `${path}[${seg}]`;
      cur = cur[Number(seg)];
    } else {
      path = join(path, seg);
      cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}
