// /openapi/v2: one Swagger 2.0 document of every group-version (built-in and custom resources), made from the v3
// documents, served as JSON or as gnostic's protobuf (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf,
// what kubectl's client-side validation and older `explain` and `apply` read), with an ETag.
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import protobuf from 'protobufjs';
import { stringify } from 'yaml';
import { documentGroupVersions, openapiDocument, type OpenApiSource } from './openapi.js';

/** What a client asks for, and the type kube answers with (Go's mime parser refuses the '@' in a Content-Type). */
export const PROTOBUF_V2_ACCEPT = 'application/com.github.proto-openapi.spec.v2';
export const PROTOBUF_V2 = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

type J = Record<string, unknown>;
const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A v3 schema in Swagger 2.0's terms: refs to #/definitions, int-or-string as kube writes it, no nullable/anyOf/oneOf. */
function schemaV2(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(schemaV2);
  if (!isObj(s)) return s;
  if (s['x-kubernetes-int-or-string'] === true) return { type: 'string', format: 'int-or-string', ...(s.description ? { description: s.description } : {}) };
  const out: J = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable' || k === 'anyOf' || k === 'oneOf' || k === 'not') continue;
    if (k === '$ref' && typeof v === 'string') out.$ref = v.replace('#/components/schemas/', '#/definitions/');
    else if (k === 'properties' && isObj(v)) out.properties = Object.fromEntries(Object.entries(v).map(([p, x]) => [p, schemaV2(x)]));
    else out[k] = k.startsWith('x-') || k === 'enum' || k === 'default' || k === 'example' ? v : schemaV2(v);
  }
  // A kind's apiVersion, kind and metadata are never required in kube's definitions (the server fills them in).
  if (s['x-kubernetes-group-version-kind'] && Array.isArray(out.required)) {
    out.required = (out.required as string[]).filter((r) => r !== 'apiVersion' && r !== 'kind' && r !== 'metadata');
    if ((out.required as string[]).length === 0) delete out.required;
  }
  // A lone allOf:[{$ref}] (a ref with a description beside it) is a plain $ref in v2, as kube publishes it.
  const allOf = out.allOf;
  if (Array.isArray(allOf) && allOf.length === 1 && isObj(allOf[0]) && typeof allOf[0].$ref === 'string') {
    delete out.allOf;
    out.$ref = allOf[0].$ref;
  }
  return out;
}

function parameterV2(p: J): J {
  const schema = isObj(p.schema) ? p.schema : {};
  return { name: p.name, in: p.in, ...(p.description ? { description: p.description } : {}), ...(p.required ? { required: true } : {}), type: schema.type ?? 'string', ...(schema.uniqueItems ? { uniqueItems: true } : {}) };
}

function operationV2(op: J): J {
  const out: J = {};
  for (const k of ['tags', 'description', 'operationId']) if (op[k] !== undefined) out[k] = op[k];
  out.consumes = ['*/*'];
  out.produces = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
  out.schemes = ['https'];
  const params: J[] = ((op.parameters as J[] | undefined) ?? []).map(parameterV2);
  const body = isObj(op.requestBody) && isObj(op.requestBody.content) ? (Object.values(op.requestBody.content)[0] as J | undefined) : undefined;
  if (body) params.unshift({ name: 'body', in: 'body', required: true, schema: schemaV2(body.schema) });
  if (params.length) out.parameters = params;
  const responses: J = {};
  for (const [code, r] of Object.entries(isObj(op.responses) ? op.responses : {})) {
    const content = isObj(r) && isObj(r.content) ? (Object.values(r.content)[0] as J | undefined) : undefined;
    responses[code] = { description: isObj(r) ? (r.description ?? 'OK') : 'OK', ...(content ? { schema: schemaV2(content.schema) } : {}) };
  }
  out.responses = responses;
  for (const [k, v] of Object.entries(op)) if (k.startsWith('x-')) out[k] = v;
  return out;
}

/** The Swagger 2.0 document of everything served. */
export function openapiV2(extra?: OpenApiSource): J {
  const paths: J = {};
  const definitions: J = {};
  for (const gv of documentGroupVersions(extra)) {
    const doc = openapiDocument(gv, extra)?.doc as { paths?: J; components?: { schemas?: J } } | undefined;
    if (!doc) continue;
    for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) definitions[name] ??= schemaV2(s);
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (!isObj(item)) continue;
      const out: J = {};
      for (const [k, v] of Object.entries(item)) {
        if (k === 'parameters' && Array.isArray(v)) out.parameters = (v as J[]).map(parameterV2);
        else if (isObj(v)) out[k] = operationV2(v);
      }
      paths[path] = out;
    }
  }
  const sorted = Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b)));
  return {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.32.4' },
    paths,
    definitions: sorted,
    securityDefinitions: { BearerToken: { type: 'apiKey', name: 'authorization', in: 'header', description: 'Bearer Token authentication' } },
    security: [{ BearerToken: [] }],
  };
}

// ---- gnostic's openapi_v2 protobuf (the field numbers of OpenAPIv2.proto) ----

type W = protobuf.Writer;
const str = (w: W, f: number, v: unknown): void => void (typeof v === 'string' && v !== '' && w.uint32((f << 3) | 2).string(v));
const bool = (w: W, f: number, v: unknown): void => void (v === true && w.uint32(f << 3).bool(true));
const int = (w: W, f: number, v: unknown): void => void (typeof v === 'number' && v !== 0 && w.uint32(f << 3).int64(v));
const dbl = (w: W, f: number, v: unknown): void => void (typeof v === 'number' && v !== 0 && w.uint32((f << 3) | 1).double(v));
const msg = (w: W, f: number, fill: (w: W) => void): void => {
  w.uint32((f << 3) | 2).fork();
  fill(w);
  w.ldelim();
};
/** gnostic's Any: the value as YAML. */
const anyOf = (w: W, f: number, v: unknown): void => msg(w, f, (a) => str(a, 2, stringify(v).replace(/\n$/, '')));
const named = (w: W, f: number, name: string, fill: (w: W) => void): void => msg(w, f, (n) => (str(n, 1, name), msg(n, 2, fill)));
const vendor = (w: W, f: number, o: J): void => {
  for (const [k, v] of Object.entries(o)) if (k.startsWith('x-')) named(w, f, k, (a) => str(a, 2, stringify(v).replace(/\n$/, '')));
};

function schemaPb(w: W, s: J): void {
  str(w, 1, s.$ref);
  str(w, 2, s.format);
  str(w, 3, s.title);
  str(w, 4, s.description);
  if (s.default !== undefined) anyOf(w, 5, s.default);
  dbl(w, 6, s.multipleOf);
  dbl(w, 7, s.maximum);
  bool(w, 8, s.exclusiveMaximum);
  dbl(w, 9, s.minimum);
  bool(w, 10, s.exclusiveMinimum);
  int(w, 11, s.maxLength);
  int(w, 12, s.minLength);
  str(w, 13, s.pattern);
  int(w, 14, s.maxItems);
  int(w, 15, s.minItems);
  bool(w, 16, s.uniqueItems);
  int(w, 17, s.maxProperties);
  int(w, 18, s.minProperties);
  for (const r of (s.required as string[] | undefined) ?? []) str(w, 19, r);
  for (const e of (s.enum as unknown[] | undefined) ?? []) anyOf(w, 20, e);
  const ap = s.additionalProperties;
  if (isObj(ap)) msg(w, 21, (a) => msg(a, 1, (x) => schemaPb(x, ap)));
  else if (typeof ap === 'boolean') msg(w, 21, (a) => a.uint32(2 << 3).bool(ap));
  if (s.type !== undefined) msg(w, 22, (t) => [s.type].flat().forEach((v) => str(t, 1, v)));
  const items = s.items;
  if (isObj(items)) msg(w, 23, (i) => msg(i, 1, (x) => schemaPb(x, items)));
  for (const a of (s.allOf as J[] | undefined) ?? []) msg(w, 24, (x) => schemaPb(x, a));
  const props = s.properties;
  if (isObj(props)) msg(w, 25, (p) => Object.entries(props).forEach(([k, v]) => named(p, 1, k, (x) => schemaPb(x, v as J))));
  vendor(w, 31, s);
}

function parameterPb(w: W, p: J): void {
  msg(w, 1, (param) => {
    if (p.in === 'body') return msg(param, 1, (b) => (str(b, 1, p.description), str(b, 2, p.name), str(b, 3, p.in), bool(b, 4, p.required), msg(b, 5, (x) => schemaPb(x, p.schema as J))));
    // Query parameters (3) name their type at field 6, path parameters (4) at field 5.
    const [which, typeField, uniqueField] = p.in === 'path' ? [4, 5, 19] : [3, 6, 20];
    msg(param, 2, (nb) => msg(nb, which, (q) => (bool(q, 1, p.required), str(q, 2, p.in), str(q, 3, p.description), str(q, 4, p.name), str(q, typeField, p.type), bool(q, uniqueField, p.uniqueItems))));
  });
}

function operationPb(w: W, op: J): void {
  for (const t of (op.tags as string[] | undefined) ?? []) str(w, 1, t);
  str(w, 3, op.description);
  str(w, 5, op.operationId);
  for (const t of (op.produces as string[] | undefined) ?? []) str(w, 6, t);
  for (const t of (op.consumes as string[] | undefined) ?? []) str(w, 7, t);
  for (const p of (op.parameters as J[] | undefined) ?? []) msg(w, 8, (x) => parameterPb(x, p));
  msg(w, 9, (rs) => {
    for (const [code, r] of Object.entries((op.responses as J | undefined) ?? {})) {
      const resp = r as J;
      named(rs, 1, code, (rv) => msg(rv, 1, (x) => (str(x, 1, resp.description), isObj(resp.schema) && msg(x, 2, (si) => msg(si, 1, (s) => schemaPb(s, resp.schema as J))))));
    }
  });
  for (const t of (op.schemes as string[] | undefined) ?? []) str(w, 10, t);
  vendor(w, 13, op);
}

const VERBS: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 };

/** The document in gnostic's openapi_v2.Document encoding. */
export function encodeOpenApiV2(doc: J): Uint8Array {
  const w = protobuf.Writer.create();
  str(w, 1, doc.swagger);
  const info = doc.info as J;
  msg(w, 2, (i) => (str(i, 1, info.title), str(i, 2, info.version)));
  msg(w, 8, (ps) => {
    for (const [path, item] of Object.entries(doc.paths as J)) {
      named(ps, 2, path, (pi) => {
        for (const [verb, op] of Object.entries(item as J)) {
          if (verb === 'parameters') for (const p of op as J[]) msg(pi, 9, (x) => parameterPb(x, p));
          else if (VERBS[verb]) msg(pi, VERBS[verb], (x) => operationPb(x, op as J));
        }
      });
    }
  });
  msg(w, 9, (d) => Object.entries(doc.definitions as J).forEach(([name, s]) => named(d, 1, name, (x) => schemaPb(x, s as J))));
  msg(w, 12, (sr) => named(sr, 1, 'BearerToken', () => undefined));
  msg(w, 13, (sd) => named(sd, 1, 'BearerToken', (item) => msg(item, 2, (k) => (str(k, 1, 'apiKey'), str(k, 2, 'authorization'), str(k, 3, 'header'), str(k, 4, 'Bearer Token authentication')))));
  return w.finish();
}

interface Built {
  key: string;
  json: string;
  pb?: Buffer;
  etag: string;
}
let built: Built | undefined;

/** The document for what is served now: rebuilt when a group-version's document changed (custom resources). */
function current(extra?: OpenApiSource): Built {
  const key = documentGroupVersions(extra)
    .map((gv) => `${gv}=${openapiDocument(gv, extra)?.hash ?? ''}`)
    .join(',');
  if (built?.key !== key) {
    const json = JSON.stringify(openapiV2(extra));
    built = { key, json, etag: createHash('sha512').update(json).digest('hex').toUpperCase() };
  }
  return built;
}

export function openapiV2Handler(req: Request, res: Response, extra?: OpenApiSource): void {
  const b = current(extra);
  const wantsPb = (req.headers.accept ?? '').includes(PROTOBUF_V2_ACCEPT);
  const etag = `"${b.etag}${wantsPb ? '-pb' : ''}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag }).end();
    return;
  }
  if (wantsPb) b.pb ??= Buffer.from(encodeOpenApiV2(JSON.parse(b.json) as J));
  const body = wantsPb ? (b.pb as Buffer) : Buffer.from(b.json);
  res.writeHead(200, { 'Content-Type': wantsPb ? PROTOBUF_V2 : 'application/json', 'Content-Length': body.length, ETag: etag, 'Cache-Control': 'no-cache, private', Vary: 'Accept' });
  res.end(body);
}
