// Completion indexes of Indexed Jobs as ordered, non-overlapping intervals, and their text form ("1,3-5,7"), as kube
// keeps them in status.completedIndexes, status.failedIndexes and successPolicy rules (indexed_job_utils.go).

export interface Interval {
  first: number;
  last: number;
}

export type Intervals = readonly Interval[];

/** How many indexes the intervals hold. */
export function totalIndexes(iv: Intervals): number {
  let n = 0;
  for (const x of iv) n += x.last - x.first + 1;
  return n;
}

/** Whether ix is in the intervals (binary search: O(log n) however large the Job). */
export function hasIndex(iv: Intervals | undefined, ix: number): boolean {
  if (!iv) return false;
  let lo = 0;
  let hi = iv.length;
  while (hi > lo) {
    const mid = lo + ((hi - lo) >> 1);
    if (iv[mid]!.last >= ix) hi = mid;
    else lo = mid + 1;
  }
  return hi < iv.length && iv[hi]!.first <= ix;
}

/** The union of two interval lists, adjacent intervals joined. */
export function mergeIntervals(a: Intervals, b: Intervals): Interval[] {
  const out: Interval[] = [];
  const push = (x: Interval): void => {
    const last = out[out.length - 1];
    if (!last || x.first > last.last + 1) out.push({ first: x.first, last: x.last });
    else if (x.last > last.last) last.last = x.last;
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) push(a[i]!.first < b[j]!.first ? a[i++]! : b[j++]!);
  while (i < a.length) push(a[i++]!);
  while (j < b.length) push(b[j++]!);
  return out;
}

/** The intervals with the given indexes added; `sorted` must be in increasing order. */
export function withIndexes(iv: Intervals, sorted: readonly number[]): Interval[] {
  return mergeIntervals(iv, sorted.map((x) => ({ first: x, last: x })));
}

/** Indexes from an unordered collection, as intervals. */
export function intervalsOf(indexes: Iterable<number>): Interval[] {
  return withIndexes([], [...new Set(indexes)].sort((x, y) => x - y));
}

/** "0-2,4,6,7": a pair is written with a comma, three or more with a dash (as kube's orderedIntervals.String). */
export function formatIndexes(iv: Intervals): string {
  const parts: string[] = [];
  for (const x of iv) {
    if (x.last === x.first) parts.push(String(x.first));
    else if (x.last === x.first + 1) parts.push(`${x.first},${x.last}`);
    else parts.push(`${x.first}-${x.last}`);
  }
  return parts.join(',');
}

/**
 * Parses what the controller wrote (tolerantly, as kube's parseIndexesFromString): corrupt parts are skipped, indexes at
 * or past `completions` dropped, so a Job scaled down in tandem counts only the indexes it still has.
 */
export function parseIndexes(text: string | undefined, completions: number): Interval[] {
  if (!text) return [];
  const out: Interval[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-');
    const first = toIndex(a);
    if (first === undefined) continue;
    if (first >= completions) break;
    let last = first;
    if (b !== undefined) {
      const l = toIndex(b);
      if (l === undefined) continue;
      last = Math.min(l, completions - 1);
    }
    const prev = out[out.length - 1];
    if (prev && prev.last === first - 1) prev.last = last;
    else out.push({ first, last });
  }
  return out;
}

function toIndex(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 2147483647 ? n : undefined;
}

/**
 * Checks user-written indexes (successPolicy.rules[].succeededIndexes) strictly, as kube's validateIndexesFormat: returns
 * how many indexes they hold, or the reason they are invalid.
 */
export function validateIndexesFormat(text: string, completions: number): { total: number } | { error: string } {
  if (text === '') return { total: 0 };
  let last: number | undefined;
  let total = 0;
  for (const part of text.split(',')) {
    const limits = part.split('-');
    if (limits.length > 2) return { error: `the fragment "${part}" violates the requirement that an index interval can have at most two parts separated by '-'` };
    const nums: number[] = [];
    for (const l of limits) {
      const x = /^[+-]?\d+$/.test(l) ? Number(l) : NaN;
      if (!Number.isInteger(x) || x > 2147483647 || x < -2147483648) return { error: `cannot convert string to integer for index: "${l}"` };
      if (x >= completions) return { error: `too large index: "${l}"` };
      if (last !== undefined && last >= x) return { error: `non-increasing order, previous: ${last}, current: ${x}` };
      last = x;
      nums.push(x);
    }
    total += nums.length === 2 ? nums[1]! - nums[0]! + 1 : 1;
  }
  return { total };
}
