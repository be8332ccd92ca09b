// Request bodies: JSON, YAML or Kubernetes protobuf by Content-Type, each failure a 400 (415 for other media types),
// and the unknown fields in them by the fieldValidation parameter.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { errors } from '../api/errors.js';
import type { ResourceInfo } from '../api/resources.js';
import { mediaType } from './http.js';
import { decodeProtobuf } from './protobuf.js';
import type { Obj } from './registry/object.js';
import { schemaHooks } from './registry/schema.js';

export function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // Only a failed parse needs to know whether there was anything to parse.
    if (text.trim() === '') throw errors.badRequest('the request body is empty');
    throw errors.badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

export function parseYamlBody(body: Buffer): unknown {
  try {
    return parseYaml(body.toString('utf8')) as unknown;
  } catch (err) {
    throw errors.badRequest(`error converting YAML to JSON: ${(err as Error).message}`);
  }
}

/** The body as its Content-Type says (none: JSON). */
export function parseBody(req: IncomingMessage, body: Buffer): unknown {
  const type = mediaType(req.headers['content-type']);
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobuf(body);
  if (type === 'application/json' || type === '') return parseJson(body);
  if (type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml') return parseYamlBody(body);
  throw errors.unsupportedMediaType(
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
  );
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function fieldValidationParam(q: { get(name: string): string | null }): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v !== 'Strict' && v !== 'Warn' && v !== 'Ignore') {
    throw errors.badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
  }
  return v;
}

/** fieldValidation: Strict rejects unknown fields, Warn reports them in Warning headers; they are dropped either way. */
export function checkUnknownFields(res: ServerResponse, obj: Obj, info: ResourceInfo, mode: FieldValidation): void {
  if (mode === 'Ignore') {
    schemaHooks.prune(obj);
    return;
  }
  const unknown = schemaHooks.unknownFields(obj);
  if (unknown.length && mode === 'Strict') {
    const list = unknown.map((f) => `unknown field "${f}"`).join(', ');
    throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${list}`);
  }
  if (unknown.length === 0) return; // nothing to prune
  res.setHeader('Warning', unknown.map((f) => `299 - ${JSON.stringify(`unknown field "${f}"`)}`));
  schemaHooks.prune(obj);
}
