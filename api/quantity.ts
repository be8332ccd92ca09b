// Resource quantities ("500m", "1Gi", "1G", "2", "1e3"): parsing, exact comparison, milli-CPU and bytes.
// Values are kept as exact rationals (BigInt) so that "0.1" is 100 millicores, not 100.00000000000001.

/** The message of Kubernetes' resource.ErrFormatWrong. */
export const QUANTITY_FORMAT_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

export class QuantityError extends Error {
  constructor(readonly input: string | number) {
    super(QUANTITY_FORMAT_MESSAGE);
    this.name = 'QuantityError';
  }
}

const QUANTITY_RE = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** An exact quantity: num / den. Shared by every caller that parsed the same text: never changed. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

/** Quantities parsed before, by text: every pod carries the same few ("100m", "64Mi"), parsed several times each. */
const parsed = new Map<string, Rational>();
/** Bounds the cache, as the texts come from clients. */
const PARSED_MAX = 1024;

/** Parses a quantity exactly; throws QuantityError on garbage. */
export function parseQuantityExact(q: string | number): Rational {
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) throw new QuantityError(q);
    return parseQuantityExact(String(q)); // e.g. 1e+21 and 1e-7, both in the grammar
  }
  let r = parsed.get(q);
  if (!r) {
    r = parseText(q);
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(q, r);
  }
  return r;
}

function parseText(q: string): Rational {
  const m = QUANTITY_RE.exec(q.trim() === q ? q : '');
  if (!m) throw new QuantityError(q);
  const numberPart = m[1] ?? '';
  const suffix = m[2] ?? '';
  const negative = numberPart.startsWith('-');
  const unsigned = numberPart.replace(/^[+-]/, '');
  const [intPart = '', fracPart = ''] = unsigned.split('.');
  let num = BigInt((intPart || '0') + fracPart);
  let den = 10n ** BigInt(fracPart.length);
  let exp10 = 0;
  if (suffix in BINARY) num *= 1024n ** BigInt(BINARY[suffix] ?? 0);
  else if (suffix in DECIMAL) exp10 = DECIMAL[suffix] ?? 0;
  else if (suffix !== '') exp10 = Number(suffix.slice(1));
  if (Math.abs(exp10) > 1000) throw new QuantityError(q);
  if (exp10 >= 0) num *= 10n ** BigInt(exp10);
  else den *= 10n ** BigInt(-exp10);
  return { num: negative ? -num : num, den };
}

/** The quantity as a plain number in base units (cores, bytes). */
export function parseQuantity(q: string | number): number {
  const r = parseQuantityExact(q);
  return Number(r.num) / Number(r.den);
}

/** Problems with `q` as a quantity; empty when valid. */
export function validateQuantity(q: unknown): string[] {
  if (typeof q !== 'string' && typeof q !== 'number') return [QUANTITY_FORMAT_MESSAGE];
  try {
    parseQuantityExact(q);
    return [];
  } catch (err) {
    if (err instanceof QuantityError) return [QUANTITY_FORMAT_MESSAGE];
    throw err;
  }
}

const ceilDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b;
  return a % b !== 0n && a > 0n === b > 0n ? q + 1n : q;
};

/** Milli-units rounded up, as Quantity.MilliValue(): "500m" -> 500, "1" -> 1000, "0.1" -> 100. */
export function cpuMillis(q: string | number): number {
  const r = parseQuantityExact(q);
  return Number(ceilDiv(r.num * 1000n, r.den));
}

/** Whole units rounded up, as Quantity.Value(): "1Gi" -> 1073741824, "1G" -> 1e9. */
export function bytes(q: string | number): number {
  const r = parseQuantityExact(q);
  return Number(ceilDiv(r.num, r.den));
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: string | number, b: string | number): number {
  const x = parseQuantityExact(a);
  const y = parseQuantityExact(b);
  const l = x.num * y.den;
  const r = y.num * x.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** True when the quantity is below zero. */
export function isNegativeQuantity(q: string | number): boolean {
  return parseQuantityExact(q).num < 0n;
}

/** Bytes as a binary-SI quantity with the largest suffix that divides them exactly: 1073741824 -> "1Gi", 1000 -> "1000". */
export function formatBytes(n: number): string {
  const suffixes = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'];
  const b = BigInt(Math.round(n));
  for (let i = 0; i < suffixes.length; i++) {
    const unit = 1024n ** BigInt(6 - i);
    if (b !== 0n && b % unit === 0n) return `${b / unit}${suffixes[i]}`;
  }
  return String(b);
}
