// OpenAPI v3 documents per group-version, built from the TypeBox schemas: what /openapi/v3 serves and
// what kubectl explain / apply read (definitions named like Kubernetes', x-kubernetes-group-version-kind).
import { createHash } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import { collectDefinitions, type JsonSchema } from './schemas/definitions.js';
import { DeleteOptions, StatusSchema, WatchEventSchema } from './schemas/meta.js';
import { Binding } from './schemas/core.js';
import { Scale, Eviction } from './schemas/subresources.js';
import { schemaFor } from './schemas/index.js';
import { definitionName } from './schemas/kit.js';
import { OTHER_VERSIONS, RESOURCES, REVIEWS, apiVersionOf, type ResourceInfo } from './resources.js';
import { errors } from './errors.js';

const REF = (name: string) => `#/components/schemas/${name}`;
const ref = (schema: TSchema) => ({ $ref: REF(definitionName(schema) ?? '') });

/** Every group-version with a document: the stored kinds' and the reviews'. */
export const openapiGroupVersions = (): string[] => [...new Set([...RESOURCES, ...REVIEWS, ...OTHER_VERSIONS].map(apiVersionOf))];

/** `api/v1` for core, `apis/<group>/<version>` otherwise: the key of /openapi/v3 and the URL prefix. */
export function gvPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `apis/${apiVersion}` : `api/${apiVersion}`;
}

/** Operation ids as Kubernetes spells them: listCoreV1NamespacedPod, readAppsV1NamespacedDeploymentScale. */
function opPrefix(info: ResourceInfo): string {
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  const group = info.group ? (info.group.split('.')[0] ?? '') : 'core';
  return `${cap(group)}${cap(info.version)}`;
}

const json = (schema: object) => ({ 'application/json': { schema }, 'application/yaml': { schema } });
const ok = (schema: object) => ({ '200': { description: 'OK', content: json(schema) } });
const created = (schema: object) => ({ ...ok(schema), '201': { description: 'Created', content: json(schema) }, '202': { description: 'Accepted', content: json(schema) } });
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const patchBodyOf = (types: readonly string[]) => ({ required: true, content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'object' } }])) });
const patchBody = patchBodyOf(PATCH_TYPES);
/** Custom resources take no strategic merge patch (kubectl's client-side apply reads this and sends a merge patch). */
const customPatchBody = patchBodyOf(PATCH_TYPES.filter((t) => t !== 'application/strategic-merge-patch+json'));
const body = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const param = (name: string, where: 'path' | 'query', description: string, type = 'string') => ({
  name,
  in: where,
  description,
  ...(where === 'path' ? { required: true } : {}),
  schema: { type, uniqueItems: true },
});

const LIST_PARAMS = [
  param('labelSelector', 'query', 'A selector to restrict the list of returned objects by their labels.'),
  param('fieldSelector', 'query', 'A selector to restrict the list of returned objects by their fields.'),
  param('limit', 'query', 'Maximum number of responses to return.', 'integer'),
  param('continue', 'query', 'The continue token of a previous paginated list.'),
  param('resourceVersion', 'query', 'Which resource version to list or watch from.'),
  param('watch', 'query', 'Watch for changes and return them as a stream of WatchEvents.', 'boolean'),
];

/** The $refs of a kind and of its list in a document. */
export interface KindRefs {
  item: object;
  list: object;
  /** A custom resource: no strategic merge patch. */
  custom?: boolean;
}

function builtinRefs(info: ResourceInfo): KindRefs | undefined {
  const apiVersion = apiVersionOf(info);
  const schema = schemaFor(apiVersion, info.kind);
  const list = schemaFor(apiVersion, `${info.kind}List`);
  return schema && list ? { item: ref(schema), list: ref(list) } : undefined;
}

/** The paths and operations of a stored resource (a custom resource's with refs to its own definitions). */
export function resourcePaths(info: ResourceInfo, refs: KindRefs | undefined = builtinRefs(info)): Record<string, object> {
  const apiVersion = apiVersionOf(info);
  if (!refs) return {};
  const base = `/${gvPath(apiVersion)}`;
  const scope = info.namespaced ? 'Namespaced' : '';
  const collection = info.namespaced ? `${base}/namespaces/{namespace}/${info.resource}` : `${base}/${info.resource}`;
  const item = `${collection}/{name}`;
  const gvk = { group: info.group, version: info.version, kind: info.kind };
  const nsParam = info.namespaced ? [param('namespace', 'path', 'object name and auth scope, such as for teams and projects')] : [];
  const nameParam = param('name', 'path', `name of the ${info.kind}`);
  const p = opPrefix(info);
  const op = (verb: string, action: string, suffix: string, extra: object) => ({
    operationId: `${verb}${p}${scope}${info.kind}${suffix}`,
    tags: [`${info.group ? info.group.split('.')[0] : 'core'}_${info.version}`],
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  const paths: Record<string, object> = {
    [collection]: {
      parameters: nsParam,
      get: op('list', 'list', '', { parameters: LIST_PARAMS, responses: ok(refs.list) }),
      post: op('create', 'post', '', { requestBody: body(refs.item), responses: created(refs.item) }),
      delete: op('deletecollection', 'deletecollection', '', { parameters: LIST_PARAMS, responses: ok(ref(StatusSchema)) }),
    },
    [item]: {
      parameters: [nameParam, ...nsParam],
      get: op('read', 'get', '', { responses: ok(refs.item) }),
      put: op('replace', 'put', '', { requestBody: body(refs.item), responses: created(refs.item) }),
      patch: op('patch', 'patch', '', { requestBody: refs.custom ? customPatchBody : patchBody, responses: created(refs.item) }),
      delete: op('delete', 'delete', '', { requestBody: { content: { 'application/json': { schema: ref(DeleteOptions) } } }, responses: ok(ref(StatusSchema)) }),
    },
  };
  if (info.namespaced) {
    paths[`${base}/${info.resource}`] = {
      get: { ...op('list', 'list', 'ForAllNamespaces', { parameters: LIST_PARAMS, responses: ok(refs.list) }), operationId: `list${p}${info.kind}ForAllNamespaces` },
    };
  }
  const sub = (name: string, suffix: string, subSchema: TSchema | object, verbs: ('get' | 'put' | 'patch' | 'post')[]) => {
    const subRef = definitionName(subSchema) ? ref(subSchema as TSchema) : subSchema;
    const ops: Record<string, object> = { parameters: [nameParam, ...nsParam] };
    for (const v of verbs) {
      const verb = { get: 'read', put: 'replace', patch: 'patch', post: 'create' }[v];
      const extra =
        v === 'get' ? { responses: ok(subRef) }
        : v === 'patch' ? { requestBody: refs.custom ? customPatchBody : patchBody, responses: created(subRef) }
        : { requestBody: body(subRef), responses: created(subRef) };
      ops[v] = op(verb, v === 'get' ? 'get' : v, suffix, extra);
    }
    paths[`${item}/${name}`] = ops;
  };
  if (info.subresources.includes('status')) sub('status', 'Status', refs.item, ['get', 'put', 'patch']);
  if (info.subresources.includes('scale')) sub('scale', 'Scale', Scale, ['get', 'put', 'patch']);
  if (info.subresources.includes('binding')) sub('binding', 'Binding', Binding, ['post']);
  if (info.subresources.includes('eviction')) sub('eviction', 'Eviction', Eviction, ['post']);
  return paths;
}

/** A review kind (created and answered, never stored): one collection path with POST only. */
function reviewPaths(info: ResourceInfo): Record<string, object> {
  const apiVersion = apiVersionOf(info);
  const schema = schemaFor(apiVersion, info.kind);
  if (!schema) return {};
  const base = `/${gvPath(apiVersion)}`;
  const path = info.namespaced ? `${base}/namespaces/{namespace}/${info.resource}` : `${base}/${info.resource}`;
  const nsParam = info.namespaced ? [param('namespace', 'path', 'object name and auth scope, such as for teams and projects')] : [];
  return {
    [path]: {
      parameters: nsParam,
      post: {
        operationId: `create${opPrefix(info)}${info.namespaced ? 'Namespaced' : ''}${info.kind}`,
        tags: [`${info.group.split('.')[0] ?? ''}_${info.version}`],
        'x-kubernetes-action': 'post',
        'x-kubernetes-group-version-kind': { group: info.group, version: info.version, kind: info.kind },
        requestBody: body(ref(schema)),
        responses: created(ref(schema)),
      },
    },
  };
}

/** The document around paths and definitions, as kube-apiserver serves it. */
export function documentOf(paths: Record<string, object>, schemas: Record<string, unknown>): object {
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.30.0' },
    paths,
    components: {
      schemas,
      securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } },
    },
  };
}

/** The definitions every resource document refers to (Status, DeleteOptions, ObjectMeta, ListMeta, ...), into defs. */
export function metaDefinitions(defs: Map<string, JsonSchema>, extra: TSchema[] = []): void {
  for (const root of [StatusSchema, WatchEventSchema, DeleteOptions, ...extra]) collectDefinitions(root, defs, REF);
}

/** Collects every `$ref`'d definition of the paths, plus the kinds, their lists and the meta types. */
function buildDocument(apiVersion: string): object {
  const infos = [...RESOURCES, ...OTHER_VERSIONS].filter((r) => apiVersionOf(r) === apiVersion);
  const defs = new Map<string, JsonSchema>();
  const roots: TSchema[] = [StatusSchema, WatchEventSchema, DeleteOptions];
  for (const info of infos) {
    for (const k of [info.kind, `${info.kind}List`]) {
      const s = schemaFor(apiVersion, k);
      if (s) roots.push(s);
    }
    if (info.subresources.includes('scale')) roots.push(Scale);
    if (info.subresources.includes('binding')) roots.push(Binding);
    if (info.subresources.includes('eviction')) roots.push(Eviction);
  }
  const reviews = REVIEWS.filter((r) => apiVersionOf(r) === apiVersion);
  for (const info of reviews) {
    const s = schemaFor(apiVersion, info.kind);
    if (s) roots.push(s);
  }
  for (const root of roots) collectDefinitions(root, defs, REF);
  const paths: Record<string, object> = {};
  for (const info of infos) Object.assign(paths, resourcePaths(info));
  for (const info of reviews) Object.assign(paths, reviewPaths(info));
  const schemas = Object.fromEntries([...defs.entries()].sort(([a], [b]) => a.localeCompare(b)));
  return documentOf(paths, schemas);
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

const documents = new Map<string, { doc: object; hash: string }>();

function entry(apiVersion: string): { doc: object; hash: string } {
  let e = documents.get(apiVersion);
  if (!e) {
    if (!openapiGroupVersions().includes(apiVersion)) throw errors.notFound({ group: '', resource: 'openapi', name: apiVersion });
    const doc = deepFreeze(buildDocument(apiVersion));
    const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
    e = { doc, hash };
    documents.set(apiVersion, e);
  }
  return e;
}

/** The OpenAPI 3.0 document of a group-version ("v1", "apps/v1"); frozen and cached. 404 ApiError if unknown. */
export function openapiV3(groupVersion: string): object {
  return entry(groupVersion).doc;
}

/** The hash that serverRelativeURL carries, usable as an ETag for the document. */
export function openapiV3Hash(groupVersion: string): string {
  return entry(groupVersion).hash;
}

/** The /openapi/v3 index: `{"api/v1": {serverRelativeURL: "/openapi/v3/api/v1?hash=..."}, ...}`. */
export function openapiV3Paths(): Record<string, { serverRelativeURL: string }> {
  const out: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of openapiGroupVersions()) out[gvPath(gv)] = { serverRelativeURL: `/openapi/v3/${gvPath(gv)}?hash=${openapiV3Hash(gv)}` };
  return out;
}
