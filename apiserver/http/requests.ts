// The request side of HTTP shared by every layer: bounded body reading and content negotiation.
import type { IncomingMessage } from 'node:http';
import { errors } from '../../api/errors.js';

/** kube-apiserver's limit on request bodies. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Reads the whole body, failing with 413 past the limit (the rest is drained, not buffered). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      req.resume();
      reject(errors.tooLarge(`the request body is ${declared} bytes; the limit is ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(errors.tooLarge(`the request body is larger than the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      // A small body comes in one chunk: no copy.
      if (!failed) resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
      failed = true;
    });
  });
}

/** The media type without parameters, lower-cased. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export interface AcceptedType {
  type: string;
  params: Record<string, string>;
}

/** Parses an Accept header into media ranges with their parameters, in the client's order. */
export function parseAccept(accept: string | undefined): AcceptedType[] {
  if (!accept) return [];
  return accept.split(',').map((part) => {
    const [type = '', ...ps] = part.split(';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of ps) {
      const i = p.indexOf('=');
      if (i > 0) params[p.slice(0, i).trim().toLowerCase()] = p.slice(i + 1).trim();
    }
    return { type: type.toLowerCase(), params };
  });
}

/**
 * The meta.k8s.io Table version the client asked for and prefers to the plain object: v1, or v1beta1 (what clients
 * before kubectl 1.15 ask for, still served by kube 1.32); undefined for a plain answer.
 */
export function tableVersion(accept: string | undefined): TableVersion | undefined {
  // Most clients never ask for a Table: no need to parse their Accept header.
  if (!accept?.includes('Table')) return undefined;
  const first = parseAccept(accept).find((a) => (a.params.as === 'Table' && (a.params.v === 'v1' || a.params.v === 'v1beta1')) || a.type === 'application/json' || a.type === '*/*');
  if (!first || first.params.as !== 'Table' || (first.params.g ?? 'meta.k8s.io') !== 'meta.k8s.io') return undefined;
  return first.params.v as TableVersion;
}
export type TableVersion = 'v1' | 'v1beta1';

/** Whether the client asked for meta.k8s.io Table output (and prefers it to the plain object). */
export function wantsTable(accept: string | undefined): boolean {
  return tableVersion(accept) !== undefined;
}

/** A pattern that finds a query parameter in a raw request target (for targetParam). */
export function paramPattern(name: string): RegExp {
  return new RegExp(`[?&]${name}(?:=([^&#]*))?(?:[&#]|$)`);
}

/**
 * The first value of a query parameter, read from the raw request target without parsing the whole query: undefined
 * when absent, '' for `?name` and `?name=`, decoded as URLSearchParams decodes (percent escapes, '+' as a space).
 */
export function targetParam(target: string, pattern: RegExp): string | undefined {
  const m = pattern.exec(target);
  if (!m) return undefined;
  const raw = m[1] ?? '';
  return raw.includes('%') || raw.includes('+') ? (new URLSearchParams(`v=${raw}`).get('v') ?? '') : raw;
}
