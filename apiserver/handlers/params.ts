// Query parameters of writes and reads that are not list options: dryRun, fieldManager, includeObject, booleans and integers.
import type { IncomingMessage } from 'node:http';
import { errors } from '../../api/errors.js';
import { queryBool, queryInt64 } from '../../api/query.js';
import type { IncludeObject } from './tables.js';

export interface Query {
  get(name: string): string | null;
}

/** An int64 parameter as kube converts it (Go's ParseInt; present and bad, even empty, is a 400). */
export function intParam(q: Query, name: string): number | undefined {
  return queryInt64(q, name);
}

/** A boolean parameter as kube converts it: absent, "0" or "false" (any case) is false; anything else true. */
export function boolParam(q: Query, name: string): boolean {
  return queryBool(q.get(name));
}

export function dryRunParam(q: Query): boolean {
  const v = q.get('dryRun');
  if (v === null || v === '') return false;
  if (v !== 'All') throw errors.badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return true;
}

/** fieldManager, or kube-apiserver's default derived from the User-Agent. */
export function fieldManagerParam(q: Query, req: IncomingMessage): string {
  const v = q.get('fieldManager');
  if (v) {
    if (v.length > 128) throw errors.badRequest('fieldManager: Too long: may not be longer than 128');
    return v;
  }
  const ua = req.headers['user-agent'] ?? '';
  return ua.split('/')[0]?.trim().slice(0, 128) || 'unknown';
}

export function includeParam(q: Query): IncludeObject {
  const v = q.get('includeObject');
  if (v === 'None' || v === 'Object' || v === 'Metadata') return v;
  return 'Metadata';
}

/** { [key]: v } when v is a non-empty string, else {}: optional fields of option objects from query parameters. */
export function optional<K extends string>(key: K, v: string | null | undefined): { [P in K]?: string } {
  return (v !== null && v !== undefined && v !== '' ? { [key]: v } : {}) as { [P in K]?: string };
}
