// The CRI's TypeScript surface: the message shapes generated from api.proto (api-types.ts), and the few helpers
// that every side shares (int64 reading, the shape a caller may send, the method tables a server implements).
import type { Int64 } from './api-types.js';

export type * from './api-types.js';

export type StringMap = Record<string, string>;

/** An int64 field as a number (0 when unset); values past 2^53 lose precision, which no limit here reaches. */
export function int64(v: Int64 | undefined | null): number {
  return v === undefined || v === null || v === '' ? 0 : Number(v);
}

/** Makes every field optional, recursively: the shape a caller may send. */
export type DeepPartial<T> = T extends Buffer | Uint8Array
  ? T
  : T extends readonly (infer U)[]
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> | null }
      : T;

/** A service's method table: method name -> [request, response]. */
export type MethodTable<M> = { [K in keyof M]: [unknown, unknown] };

/** What a server implements: each method gets the decoded request and returns what to send. */
export type ServiceImpl<M extends MethodTable<M>> = {
  [K in keyof M]: (req: M[K][0]) => Promise<DeepPartial<M[K][1]>>;
};

/** A sandbox annotation that gives one sandbox its own pod CIDR, overriding the node's (UpdateRuntimeConfig); other runtimes ignore it. */
export const POD_CIDR_ANNOTATION = 'ketch.io/pod-cidr';
