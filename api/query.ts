// Query parameter values as kube-apiserver converts them (apimachinery's runtime.Convert_Slice_string_To_* and Go's
// strconv), so that every client reads the same: `watch=True` is a watch, `limit=+5` is 5, `limit=` is an error.
import { errors } from './errors.js';
import { goQuote } from './quote.js';

/**
 * runtime.Convert_Slice_string_To_bool on a parameter's first value: absent (null) is false; "0" and "false" in any
 * case (strings.EqualFold, which also folds U+017F into s) are false; anything else, the empty value included, is true.
 */
export function queryBool(v: string | null): boolean {
  if (v === null) return false;
  if (v === '0') return false;
  return !(v.length === 5 && FALSE_FOLD.test(v));
}
const FALSE_FOLD = /^[fF][aA][lL][sS\u017f][eE]$/;

/** strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; undefined for anything else. */
export function parseGoBool(v: string): boolean | undefined {
  return GO_TRUE.has(v) ? true : GO_FALSE.has(v) ? false : undefined;
}
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

const MAX_INT64 = 9223372036854775807n;
const MIN_INT64 = -9223372036854775808n;
const SIGNED = /^[+-]?[0-9]+$/;
const UNSIGNED = /^[0-9]+$/;

/**
 * strconv.ParseInt(v, 10, 64), as Convert_Slice_string_To_int64 and Convert_Slice_string_To_Pointer_int64 call it: an
 * optional sign and ASCII digits, nothing else (no spaces, no "0x", no "_"); a bad value is a 400 with Go's message.
 * Values past 2^53 keep their magnitude, not every digit.
 */
export function parseInt64(v: string): number {
  if (!SIGNED.test(v)) throw errors.badRequest(`strconv.ParseInt: parsing ${goQuote(v)}: invalid syntax`);
  // Up to 15 digits a double holds exactly; longer ones are range-checked exactly.
  if (v.length > 15) {
    const n = BigInt(v);
    if (n > MAX_INT64 || n < MIN_INT64) throw errors.badRequest(`strconv.ParseInt: parsing ${goQuote(v)}: value out of range`);
  }
  return Number(v);
}

/** strconv.ParseUint(v, 10, bits): ASCII digits only (no sign); the error is Go's, for the caller to wrap. */
export function parseUint(v: string, bits: 16 | 32): number | string {
  if (!UNSIGNED.test(v)) return `strconv.ParseUint: parsing ${goQuote(v)}: invalid syntax`;
  const n = v.length > 15 ? Number.POSITIVE_INFINITY : Number(v);
  if (n >= 2 ** bits) return `strconv.ParseUint: parsing ${goQuote(v)}: value out of range`;
  return n;
}

/**
 * An optional int64 parameter (a *int64 field): absent is undefined; present, even empty, it must parse, as kube's
 * generated conversions require (`?limit=` is "strconv.ParseInt: parsing "": invalid syntax").
 */
export function queryInt64(q: { get(name: string): string | null }, name: string): number | undefined {
  const v = q.get(name);
  return v === null ? undefined : parseInt64(v);
}
