// metav1.ListOptions: the query parameters of lists and watches, defined once for the API server, which parses them
// from a request, and the client, which writes them into one.
import { queryBool, queryInt64 } from './query.js';

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Watch for changes instead of listing (?watch=true, or a /watch/ path). */
  watch?: boolean;
  /** Watches: the server may send BOOKMARK events. */
  allowWatchBookmarks?: boolean;
  /** Unset: the newest state (a consistent read); "0": any recent state; N: at or after revision N. */
  resourceVersion?: string;
  /** How a list reads resourceVersion: "Exact" or "NotOlderThan". */
  resourceVersionMatch?: string;
  /** Watches: end the stream after this many seconds. */
  timeoutSeconds?: number;
  /** Lists: at most this many items a page. */
  limit?: number;
  /** Lists: the token of the next page. */
  continue?: string;
  /** Watches from a resourceVersion: the current objects first, as ADDED events. */
  sendInitialEvents?: boolean;
}

/** What the options are read from (URLSearchParams). */
export interface ParamSource {
  get(name: string): string | null;
}

const BOOLEANS = ['watch', 'allowWatchBookmarks', 'sendInitialEvents'] as const;
const STRINGS = ['labelSelector', 'fieldSelector', 'resourceVersion', 'resourceVersionMatch', 'continue'] as const;
const INTEGERS = ['timeoutSeconds', 'limit'] as const;

/**
 * The options a request's query gives, converted as kube-apiserver's generated url.Values conversions do: empty
 * strings count as absent, a boolean is true unless absent, "0" or "false" in any case (`watch=True` and `watch` are
 * watches), and an integer must be Go's ParseInt syntax, or the request is the client's error (400).
 */
export function parseListOptions(q: ParamSource): ListOptions {
  const o: ListOptions = {};
  for (const k of STRINGS) {
    const v = q.get(k);
    if (v !== null && v !== '') o[k] = v;
  }
  for (const k of INTEGERS) {
    const n = queryInt64(q, k);
    if (n !== undefined) o[k] = n;
  }
  for (const k of BOOLEANS) if (queryBool(q.get(k))) o[k] = true;
  return o;
}

/** The query parameters that carry the options (booleans only when true). */
export function listOptionsQuery(o: ListOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of STRINGS) {
    const v = o[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  for (const k of INTEGERS) {
    const v = o[k];
    if (v !== undefined) out[k] = String(v);
  }
  for (const k of BOOLEANS) if (o[k]) out[k] = 'true';
  return out;
}
