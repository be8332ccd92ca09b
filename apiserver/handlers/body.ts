// Request bodies: JSON, YAML or Kubernetes protobuf by Content-Type, each failure a 400 (415 for other media types),
// and the unknown fields in them by the fieldValidation parameter.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CST, Lexer, parse as parseYaml } from 'yaml';
import { errors } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import { mediaType } from '../http/requests.js';
import { addWarning } from '../http/responses.js';
import { auditRequestBody } from '../filters/audit-context.js';
import { decodeProtobuf } from './protobuf.js';
import type { Obj } from '../registry/object.js';
import { schemaHooks, type SchemaHooks } from '../registry/schema.js';

/**
 * How deep a request body may nest objects and arrays. Every built-in kind stays under 20 levels. kube-apiserver's
 * decoder allows 10,000, but here the steps after decoding walk objects recursively (defaults, pruning, merge patches,
 * managed fields), and the YAML parser overflows its stack from about 1,000 levels -- a few such overflows in a row
 * abort the whole process -- so neither may ever see an unbounded depth.
 */
export const MAX_BODY_DEPTH = 100;
/** A bound on YAML text (indentation or flow depth) checked before parsing: far below where the parser overflows. */
const MAX_YAML_TEXT_DEPTH = 400;

const tooDeep = (): Error => errors.badRequest(`the request body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels`);

/** Whether JSON text nests [ and { deeper than `max`, outside strings: a byte scan, no parse and no recursion. */
function jsonDeeperThan(body: Buffer, max: number): boolean {
  if (body.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Whether YAML text might nest deeper than `max`, read from the yaml package's own lexer (iterative; quotes, comments
 * and block scalars are single tokens there): flow depth by [ and {, block depth by a line's indentation plus the
 * block indicators on it ("- - a: x"). An upper bound, checked before the (recursive) composer runs.
 */
function yamlDeeperThan(text: string, max: number): boolean {
  let flow = 0;
  let line = 0;
  let lineStart = true;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === 'newline') {
      lineStart = true;
      line = 0;
      continue;
    }
    if (lineStart && type === 'space') line += token.length;
    lineStart = false;
    if (type === 'flow-map-start' || type === 'flow-seq-start') flow++;
    else if (type === 'flow-map-end' || type === 'flow-seq-end') flow--;
    else if (flow <= 0 && (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind')) line++;
    if (flow > max || line > max) return true;
  }
  return false;
}

/** Whether a parsed value nests objects and arrays deeper than `max` (iterative: no recursion on client data). */
function valueDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

export function parseJson(body: Buffer): unknown {
  if (jsonDeeperThan(body, MAX_BODY_DEPTH)) throw tooDeep();
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
  const text = body.toString('utf8');
  if (yamlDeeperThan(text, MAX_YAML_TEXT_DEPTH)) throw tooDeep();
  let value: unknown;
  try {
    value = parseYaml(text) as unknown;
  } catch (err) {
    throw errors.badRequest(`error converting YAML to JSON: ${(err as Error).message}`);
  }
  if (valueDeeperThan(value, MAX_BODY_DEPTH)) throw tooDeep();
  return value;
}

/** The body as its Content-Type says (none: JSON). */
export function parseBody(req: IncomingMessage, body: Buffer): unknown {
  const type = mediaType(req.headers['content-type']);
  let decoded: unknown;
  if (type === 'application/vnd.kubernetes.protobuf') decoded = decodeProtobuf(body);
  else if (type === 'application/json' || type === '') decoded = parseJson(body);
  else if (type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml') decoded = parseYamlBody(body);
  else throw errors.unsupportedMediaType(
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
  );
  // The audit log keeps the body as it came (JSON as sent; the others as the JSON of what they decode to).
  if (req.audit) auditRequestBody(req, decoded, type === 'application/json' || type === '' ? body : undefined);
  return decoded;
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

/**
 * fieldValidation: Strict rejects unknown fields, Warn reports them in Warning headers; they are dropped either way.
 * `unknown`: obj's unknown fields when the caller has them already (hooks.unknownFields(obj)).
 */
export function checkUnknownFields(res: ServerResponse, obj: Obj, info: ResourceInfo, mode: FieldValidation, hooks: SchemaHooks = schemaHooks, known?: string[]): void {
  if (mode === 'Ignore') {
    if (!known || known.length) hooks.prune(obj);
    return;
  }
  const unknown = known ?? hooks.unknownFields(obj);
  if (unknown.length && mode === 'Strict') {
    const list = unknown.map((f) => `unknown field "${f}"`).join(', ');
    throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${list}`);
  }
  if (unknown.length === 0) return; // nothing to prune
  for (const f of unknown) addWarning(res, `unknown field "${f}"`);
  hooks.prune(obj);
}
