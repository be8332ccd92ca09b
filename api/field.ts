// Field errors as Kubernetes reports them: StatusCause {reason, message, field} with the wording of
// k8s.io/apimachinery/pkg/util/validation/field (`Required value`, `Invalid value: -1: must be ...`).
import type { StatusCause } from './errors.js';

export type Cause = StatusCause;

/** A string map to be rendered as Go prints one: map[string]string{"app":"web"} (label mismatch messages). */
export class GoStringMap {
  constructor(readonly entries: Record<string, string>) {}
}

/** Values longer than this are cut in messages: a 2 MiB name must not make a 4 MiB error (as much again per cause). */
const MAX_SHOWN = 1024;

/** Renders a bad value the way Go's field errors do: strings quoted, numbers bare; objects as JSON. Long ones cut. */
export function formatValue(value: unknown): string {
  const text = formatWhole(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}... (${text.length} characters, truncated)` : text;
}

function formatWhole(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof GoStringMap) {
    const m = value.entries;
    const entries = Object.keys(m)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify(m[k])}`);
    return `map[string]string{${entries.join(', ')}}`;
  }
  return JSON.stringify(value);
}

const withDetail = (body: string, detail?: string): string => (detail ? `${body}: ${detail}` : body);

export const required = (field: string, detail?: string): Cause => ({
  reason: 'FieldValueRequired',
  message: withDetail('Required value', detail),
  field,
});

export const invalid = (field: string, value: unknown, detail?: string): Cause => ({
  reason: 'FieldValueInvalid',
  message: withDetail(`Invalid value: ${formatValue(value)}`, detail),
  field,
});

export const notSupported = (field: string, value: unknown, supported: readonly string[]): Cause => ({
  reason: 'FieldValueNotSupported',
  message: withDetail(
    `Unsupported value: ${formatValue(value)}`,
    supported.length ? `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` : undefined,
  ),
  field,
});

export const duplicate = (field: string, value: unknown, detail?: string): Cause => ({
  reason: 'FieldValueDuplicate',
  message: withDetail(`Duplicate value: ${formatValue(value)}`, detail),
  field,
});

export const notFound = (field: string, value: unknown): Cause => ({
  reason: 'FieldValueNotFound',
  message: `Not found: ${formatValue(value)}`,
  field,
});

export const forbidden = (field: string, detail?: string): Cause => ({
  reason: 'FieldValueForbidden',
  message: withDetail('Forbidden', detail),
  field,
});

export const tooLong = (field: string, maxBytes: number): Cause => ({
  reason: 'FieldValueTooLong',
  message: `Too long: must have at most ${maxBytes} bytes`,
  field,
});

export const tooMany = (field: string, actual: number, max: number): Cause => ({
  reason: 'FieldValueTooMany',
  message: `Too many: ${actual}: must have at most ${max} items`,
  field,
});

/** Path builders: `child('spec', 'containers')`, `index('spec.containers', 0)`, `key('data', 'a.b')`. */
export function child(path: string, ...names: string[]): string {
  // Empty parts are skipped. Called for every field validated, error or not: no intermediate arrays.
  let out = path;
  for (const n of names) if (n !== '') out = out === '' ? n : `${out}.${n}`;
  return out;
}
export const index = (path: string, i: number): string => `${path}[${i}]`;
export const key = (path: string, k: string): string => `${path}[${k}]`;

export const NON_NEGATIVE = 'must be greater than or equal to 0';
export const IMMUTABLE = 'field is immutable';

/** `value >= 0`, as ValidateNonnegativeField. */
export function nonNegative(value: number | undefined, field: string): Cause[] {
  return value !== undefined && value < 0 ? [invalid(field, value, NON_NEGATIVE)] : [];
}

/** Deep equality for JSON values, fields set to undefined counting as absent (immutability checks, updates, caches). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // Loops rather than keys arrays and closures: every update compares its whole object with the stored one.
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const own = Object.prototype.hasOwnProperty;
    let na = 0;
    for (const k in a) {
      if (!own.call(a, k) || a[k] === undefined) continue;
      na++;
      if (!own.call(b, k) || !deepEqual(a[k], b[k])) return false;
    }
    let nb = 0;
    for (const k in b) if (own.call(b, k) && b[k] !== undefined) nb++;
    return na === nb;
  }
  return false;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `field is immutable` when a set value changed. */
export function immutable(next: unknown, old: unknown, field: string): Cause[] {
  return deepEqual(next, old) ? [] : [invalid(field, next, IMMUTABLE)];
}
