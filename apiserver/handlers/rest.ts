// Resource handlers: decode the request, call the registry store, encode the answer (object, list, Table, watch stream).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import jsonpatch from 'fast-json-patch';
import { ApiError, errors } from '../../api/errors.js';
import { proxyPodLog, type NodeProxyDeps } from '../nodeproxy/node-proxy.js';
import { apiVersionOf, findByResource, type ResourceInfo } from '../../api/resources.js';
import type { Logger } from '../../lib/logger.js';
import type { UserInfo } from '../filters/authentication.js';
import { mediaType, notFoundPath, parseAccept, readBody, sendEncoded, sendJson, successStatus, wantsTable } from '../http/http.js';
import { applyConfig } from '../patch/managed-fields.js';
import { mergePatch, strategicMergePatch } from '../patch/merge.js';
import { checkUnknownFields, fieldValidationParam, parseBody, parseJson, parseYamlBody } from './body.js';
import type { Registry } from '../registry/index.js';
import { asObj, isObject, rfc3339, type JsonObject, type Obj } from '../registry/object.js';
import type { DeleteParams } from '../registry/strategy.js';
import type { Store, UpdateOptions, WatchOut } from '../registry/store.js';
import type { RequestInfo } from '../http/request-info.js';
import { formatLabelSelector, type LabelSelector } from '../../api/index.js';
import { toTable, type IncludeObject } from './tables.js';

export interface HandlerContext {
  registry: Registry;
  clock: { now(): Date };
  log: Logger;
  watches: WatchLimiter;
  /** Interval between BOOKMARK events on idle watches that asked for them. */
  bookmarkIntervalMs: number;
  /** Bounds of the randomised watch timeout when the client gives none (kube-apiserver: min-request-timeout..2x). */
  minWatchTimeoutSec: number;
  /** Reaches node agents for pods/log, exec, attach and portforward. */
  nodeProxy: NodeProxyDeps;
  /** serviceaccounts/token (TokenRequest). */
  serviceAccountToken: (req: IncomingMessage, res: ServerResponse, ri: RequestInfo) => Promise<void>;
  /** Bytes a watcher may have queued and unread before it is cut off (kube-apiserver also drops watchers that lag). */
  watchMaxBufferedBytes: number;
}

/** Counts open watch streams; past the limit new watches get 429. */
export class WatchLimiter {
  private readonly open = new Set<() => void>();
  constructor(readonly max: number) {}
  add(stop: () => void): () => void {
    if (this.open.size >= this.max) throw errors.tooManyRequests(`too many open watches (limit ${this.max}); try again later`);
    this.open.add(stop);
    return () => this.open.delete(stop);
  }
  get size(): number {
    return this.open.size;
  }
  stopAll(): void {
    for (const s of [...this.open]) s();
  }
}

const PATCH_TYPES = new Set([
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
  'application/apply-patch+cbor',
]);

interface Query {
  get(name: string): string | null;
}

function intParam(q: Query, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw errors.badRequest(`invalid ${name}: ${JSON.stringify(v)} is not an integer`);
  return n;
}

function boolParam(q: Query, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

function dryRunParam(q: Query): boolean {
  const v = q.get('dryRun');
  if (v === null || v === '') return false;
  if (v !== 'All') throw errors.badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return true;
}

/** fieldManager, or kube-apiserver's default derived from the User-Agent. */
function fieldManagerParam(q: Query, req: IncomingMessage): string {
  const v = q.get('fieldManager');
  if (v) {
    if (v.length > 128) throw errors.badRequest('fieldManager: Too long: may not be longer than 128');
    return v;
  }
  const ua = req.headers['user-agent'] ?? '';
  return ua.split('/')[0]?.trim().slice(0, 128) || 'unknown';
}

/** Parses a JSON/YAML/protobuf request body into an object with metadata. */
function decodeBody(req: IncomingMessage, body: Buffer, info: ResourceInfo): Obj {
  const obj = asObj(parseBody(req, body));
  if (!obj) throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: the body is not a JSON object with object metadata`);
  // The URL names the kind when the body does not (the store rejects a body naming another one).
  obj.apiVersion ||= apiVersionOf(info);
  obj.kind ||= info.kind;
  return obj;
}

function listKind(info: ResourceInfo): string {
  return `${info.kind}List`;
}

function includeParam(q: Query): IncludeObject {
  const v = q.get('includeObject');
  if (v === 'None' || v === 'Object' || v === 'Metadata') return v;
  return 'Metadata';
}

function sendObject(res: ServerResponse, req: IncomingMessage, q: Query, ctx: HandlerContext, info: ResourceInfo, code: number, obj: Obj): void {
  if (wantsTable(req.headers.accept) && obj.kind === info.kind) {
    sendJson(res, code, toTable(info.kind, [obj], { include: includeParam(q), now: ctx.clock.now(), ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) }));
  } else sendJson(res, code, obj);
}

/** DeleteOptions fields of the wrong type: 400, as kube-apiserver's decoder answers (not silently ignored). */
function checkDeleteOptions(b: JsonObject): void {
  const given = (v: unknown): boolean => v !== undefined && v !== null;
  const bad = (field: string, want: string): never => {
    throw errors.badRequest(`DeleteOptions: ${field}: expected ${want}, got ${JSON.stringify(b[field])?.slice(0, 100)}`);
  };
  if (given(b.gracePeriodSeconds) && !Number.isInteger(b.gracePeriodSeconds)) bad('gracePeriodSeconds', 'an integer');
  const p = b.preconditions;
  if (given(p) && (!isObject(p) || (given(p.uid) && typeof p.uid !== 'string') || (given(p.resourceVersion) && typeof p.resourceVersion !== 'string'))) {
    bad('preconditions', 'an object with string uid and resourceVersion');
  }
  if (given(b.propagationPolicy) && typeof b.propagationPolicy !== 'string') bad('propagationPolicy', 'a string');
  if (given(b.orphanDependents) && typeof b.orphanDependents !== 'boolean') bad('orphanDependents', 'a boolean');
  if (given(b.dryRun) && !(Array.isArray(b.dryRun) && b.dryRun.every((v) => v === 'All'))) bad('dryRun', '["All"]');
}

function deleteParams(q: Query, body: unknown): DeleteParams {
  if (body !== undefined && body !== null && !isObject(body)) throw errors.badRequest('the DeleteOptions body is not a JSON object');
  const b = isObject(body) ? body : {};
  checkDeleteOptions(b);
  const out: DeleteParams = {};
  const grace = intParam(q, 'gracePeriodSeconds') ?? (typeof b.gracePeriodSeconds === 'number' ? b.gracePeriodSeconds : undefined);
  if (grace !== undefined) out.gracePeriodSeconds = grace;
  const pre = isObject(b.preconditions) ? b.preconditions : {};
  if (typeof pre.uid === 'string' || typeof pre.resourceVersion === 'string') {
    out.preconditions = { ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}), ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}) };
  }
  let policy = q.get('propagationPolicy') ?? (typeof b.propagationPolicy === 'string' ? b.propagationPolicy : undefined);
  const orphan = q.get('orphanDependents') ?? (typeof b.orphanDependents === 'boolean' ? String(b.orphanDependents) : undefined);
  if (!policy && orphan !== undefined) policy = orphan === 'true' ? 'Orphan' : 'Background';
  if (policy !== undefined && policy !== null) {
    if (policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
      throw errors.badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
    }
    out.propagationPolicy = policy;
  }
  const dry = Array.isArray(b.dryRun) && b.dryRun.includes('All');
  if (dry || dryRunParam(q)) out.dryRun = true;
  return out;
}

/** Applies a JSON, merge or strategic merge patch to the current object. */
function applyPatch(type: string, current: Obj, patch: unknown): Obj {
  let out: unknown;
  if (type === 'application/json-patch+json') {
    if (!Array.isArray(patch)) throw errors.badRequest('json patch must be a JSON array of operations');
    const ops = jsonpatch.validate(patch as jsonpatch.Operation[]);
    if (ops) throw errors.badRequest(`invalid json patch: ${ops.message}`);
    try {
      out = jsonpatch.applyPatch(structuredClone(current), patch as jsonpatch.Operation[], true, false).newDocument;
    } catch (err) {
      throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
  } else if (type === 'application/merge-patch+json') {
    if (!isObject(patch)) throw errors.badRequest('merge patch must be a JSON object');
    out = mergePatch(current, patch);
  } else out = strategicMergePatch(current, patch);
  const obj = asObj(out);
  if (!obj) throw new ApiError(422, 'Invalid', 'the patched object is not a JSON object with object metadata');
  return obj;
}

function scaleOf(obj: Obj): JsonObject {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const status = isObject(obj.status) ? obj.status : {};
  const sel = isObject(spec.selector) ? formatLabelSelector(spec.selector as LabelSelector) : '';
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
    status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0, ...(sel ? { selector: sel } : {}) },
  };
}

/** Writes a Scale's spec.replicas into the workload, honouring the Scale's resourceVersion precondition. */
function withReplicas(cur: Obj, scale: unknown, info: ResourceInfo): Obj {
  if (!isObject(scale)) throw errors.badRequest('the body is not a Scale object');
  const meta = isObject(scale.metadata) ? scale.metadata : {};
  const rv = meta.resourceVersion;
  if (typeof rv === 'string' && rv !== '' && rv !== cur.metadata.resourceVersion) {
    throw errors.conflict(
      { group: info.group, resource: info.resource, name: cur.metadata.name ?? '' },
      'the object has been modified; please apply your changes to the latest version and try again',
    );
  }
  const replicas = isObject(scale.spec) ? scale.spec.replicas : undefined;
  if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)) {
    throw errors.invalid('Scale', 'autoscaling', cur.metadata.name ?? '', [
      { reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` },
    ]);
  }
  const spec = isObject(cur.spec) ? cur.spec : {};
  return { ...cur, spec: { ...spec, replicas: replicas ?? 0 } };
}

/**
 * Whether the answer, always JSON (which is also YAML), is one the client accepts: any JSON or YAML type (Table and
 * watch-stream variants included), or a wildcard. A client that lists only others (protobuf alone, XML) gets 406.
 */
function acceptable(accept: string | undefined): boolean {
  if (!accept || accept.includes('json') || accept.includes('*')) return true;
  return parseAccept(accept).some((a) => a.type === 'application/yaml' || a.type === '' || a.type.endsWith('/*'));
}

export async function handleResource(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, q: URLSearchParams, user: UserInfo, ctx: HandlerContext): Promise<void> {
  const info = findByResource(ri.group, ri.version, ri.resource);
  const store = info && ctx.registry.store(info);
  if (!info || !store) throw notFoundPath();
  if (ri.subresource && !info.subresources.includes(ri.subresource)) throw notFoundPath();
  if (!info.namespaced && ri.namespace) throw notFoundPath();
  if (info.namespaced && !ri.namespace && !['list', 'watch', 'deletecollection'].includes(ri.verb)) throw notFoundPath();
  if (!info.verbs.includes(ri.verb) && !ri.subresource) throw errors.methodNotAllowed(`${ri.verb} is not supported on ${ri.resource}`);
  if (!acceptable(req.headers.accept)) {
    throw errors.notAcceptable('only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io');
  }
  void user;
  switch (ri.subresource) {
    case '':
      return handleMain(req, res, ri, q, info, store, ctx);
    case 'status':
    case 'finalize':
      return handleStatus(req, res, ri, q, info, store, ctx);
    case 'scale':
      return handleScale(req, res, ri, q, info, store);
    case 'binding':
      return handleBinding(req, res, ri, q, info, store, ctx);
    case 'eviction':
      return handleEviction(req, res, ri, q, store);
    case 'token':
      return ctx.serviceAccountToken(req, res, ri);
    case 'log':
      return proxyPodLog(req, res, ri.namespace, ri.name, q, ctx.nodeProxy);
    case 'exec':
    case 'attach':
    case 'portforward': {
      await store.get(ri.namespace, ri.name);
      throw errors.badRequest(`pods/${ri.subresource} needs a protocol upgrade (WebSocket or SPDY): Upgrade request required`);
    }
    default:
      throw errors.methodNotAllowed(`${ri.resource}/${ri.subresource} is not supported by this server`);
  }
}

async function handleMain(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, q: URLSearchParams, info: ResourceInfo, store: Store, ctx: HandlerContext): Promise<void> {
  switch (ri.verb) {
    case 'get': {
      // resourceVersion=0: any recent state will do, from the type's in-memory cache.
      if (q.get('resourceVersion') === '0') {
        sendObject(res, req, q, ctx, info, 200, await store.getRecent(ri.namespace, ri.name));
        return;
      }
      // A plain get answers with the stored bytes: no parse, no serialization.
      if (wantsTable(req.headers.accept)) sendObject(res, req, q, ctx, info, 200, await store.get(ri.namespace, ri.name));
      else sendEncoded(res, 200, await store.getJson(ri.namespace, ri.name));
      return;
    }
    case 'list': {
      const limit = intParam(q, 'limit');
      const params = {
        ...optional('labelSelector', q.get('labelSelector')),
        ...optional('fieldSelector', q.get('fieldSelector')),
        ...optional('continue', q.get('continue')),
        ...optional('resourceVersion', q.get('resourceVersion')),
        ...optional('resourceVersionMatch', q.get('resourceVersionMatch')),
        ...(limit !== undefined ? { limit } : {}),
      };
      if (!wantsTable(req.headers.accept)) {
        // The list body is made of the items' stored bytes (see Store.listJson).
        sendEncoded(res, 200, await store.listJson(ri.namespace, params, listKind(info)));
        return;
      }
      const out = await store.list(ri.namespace, params);
      sendJson(
        res,
        200,
        toTable(info.kind, out.items, {
          include: includeParam(q),
          now: ctx.clock.now(),
          resourceVersion: out.resourceVersion,
          ...optional('continue', out.continue),
          ...(out.remainingItemCount !== undefined ? { remainingItemCount: out.remainingItemCount } : {}),
        }),
      );
      return;
    }
    case 'watch':
      return serveWatch(req, res, ri, q, info, store, ctx);
    case 'create': {
      const dryRun = dryRunParam(q);
      const mode = fieldValidationParam(q);
      const manager = fieldManagerParam(q, req);
      const obj = decodeBody(req, await readBody(req), info);
      checkUnknownFields(res, obj, info, mode);
      const created = await store.create(ri.namespace, obj, { dryRun, fieldManager: manager, owned: true });
      sendEncoded(res, 201, store.json(created));
      return;
    }
    case 'update': {
      const dryRun = dryRunParam(q);
      const mode = fieldValidationParam(q);
      const manager = fieldManagerParam(q, req);
      const obj = decodeBody(req, await readBody(req), info);
      checkUnknownFields(res, obj, info, mode);
      const out = await store.update(ri.namespace, ri.name, () => obj, { dryRun, fieldManager: manager, currentReadOnly: true });
      sendEncoded(res, out.created ? 201 : 200, store.json(out.obj));
      return;
    }
    case 'patch':
      return handlePatch(req, res, ri, q, info, store, ctx, {});
    case 'delete': {
      const body = await readOptionalBody(req);
      const out = await store.delete(ri.namespace, ri.name, deleteParams(q, body));
      if (out.deleted && !store.strategy.returnDeletedObject) {
        sendJson(res, 200, successStatus({ name: ri.name, group: info.group, kind: info.resource, ...(out.obj.metadata.uid ? { uid: out.obj.metadata.uid } : {}) }));
      } else sendJson(res, out.deleted ? 200 : 202, out.obj);
      return;
    }
    case 'deletecollection': {
      const body = await readOptionalBody(req);
      const items = await store.deleteCollection(
        ri.namespace,
        { ...optional('labelSelector', q.get('labelSelector')), ...optional('fieldSelector', q.get('fieldSelector')) },
        deleteParams(q, body),
      );
      sendJson(res, 200, { kind: listKind(info), apiVersion: apiVersionOf(info), metadata: {}, items });
      return;
    }
  }
}

async function readOptionalBody(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  if (body.length === 0 || body.toString('utf8').trim() === '') return undefined;
  return parseBody(req, body);
}

function optional<K extends string>(key: K, v: string | null | undefined): { [P in K]?: string } {
  return (v !== null && v !== undefined && v !== '' ? { [key]: v } : {}) as { [P in K]?: string };
}

async function handlePatch(
  req: IncomingMessage,
  res: ServerResponse,
  ri: RequestInfo,
  q: URLSearchParams,
  info: ResourceInfo,
  store: Store,
  ctx: HandlerContext,
  extra: Pick<UpdateOptions, 'subresource'>,
): Promise<void> {
  const type = mediaType(req.headers['content-type']);
  if (!PATCH_TYPES.has(type) || type === 'application/apply-patch+cbor') {
    throw errors.unsupportedMediaType(
      `the server does not support the patch type ${JSON.stringify(type)}; supported: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml`,
    );
  }
  const dryRun = dryRunParam(q);
  const mode = fieldValidationParam(q);
  const body = await readBody(req);
  if (type === 'application/apply-patch+yaml') {
    const manager = q.get('fieldManager');
    if (!manager) throw errors.badRequest('PATCH requests with the apply content type (server-side apply) require a fieldManager query parameter');
    const force = boolParam(q, 'force');
    const config = asObj(parseYamlBody(body));
    if (!config) throw errors.badRequest('the apply configuration is not a YAML/JSON object');
    if (!config.apiVersion || !config.kind) throw errors.badRequest('the apply configuration must set apiVersion and kind');
    checkUnknownFields(res, config, info, mode);
    const ref = { manager, apiVersion: apiVersionOf(info), time: rfc3339(ctx.clock.now()), ...(extra.subresource ? { subresource: extra.subresource } : {}) };
    const out = await store.update(ri.namespace, ri.name, (cur) => applyConfig(cur, config, ref, force), {
      ...extra,
      dryRun,
      fieldManager: manager,
      managedFieldsSet: true,
      allowCreate: !extra.subresource,
    });
    sendEncoded(res, out.created ? 201 : 200, store.json(out.obj));
    return;
  }
  const manager = fieldManagerParam(q, req);
  const patch = parseJson(body);
  const out = await store.update(
    ri.namespace,
    ri.name,
    (cur) => {
      const next = applyPatch(type, cur ?? { metadata: {} }, patch);
      checkUnknownFields(res, next, info, mode);
      return next;
    },
    { ...extra, dryRun, fieldManager: manager },
  );
  sendEncoded(res, 200, store.json(out.obj));
}

async function handleStatus(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, q: URLSearchParams, info: ResourceInfo, store: Store, ctx: HandlerContext): Promise<void> {
  const subresource = ri.subresource as 'status' | 'finalize';
  if (ri.verb === 'get' && subresource === 'status') {
    sendObject(res, req, q, ctx, info, 200, await store.get(ri.namespace, ri.name));
    return;
  }
  if (ri.verb === 'update') {
    const dryRun = dryRunParam(q);
    const manager = fieldManagerParam(q, req);
    const obj = decodeBody(req, await readBody(req), info);
    const out = await store.update(ri.namespace, ri.name, () => obj, { dryRun, fieldManager: manager, subresource, currentReadOnly: true });
    sendEncoded(res, 200, store.json(out.obj));
    return;
  }
  if (ri.verb === 'patch' && subresource === 'status') return handlePatch(req, res, ri, q, info, store, ctx, { subresource });
  throw errors.methodNotAllowed(`${ri.verb} is not supported on ${info.resource}/${subresource}`);
}

async function handleScale(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, q: URLSearchParams, info: ResourceInfo, store: Store): Promise<void> {
  if (ri.verb === 'get') {
    sendJson(res, 200, scaleOf(await store.get(ri.namespace, ri.name)));
    return;
  }
  const dryRun = dryRunParam(q);
  const manager = fieldManagerParam(q, req);
  const body = await readBody(req);
  let transform: (cur: Obj) => Obj;
  if (ri.verb === 'update') {
    const scale = parseJson(body);
    transform = (cur) => withReplicas(cur, scale, info);
  } else if (ri.verb === 'patch') {
    const type = mediaType(req.headers['content-type']);
    if (!PATCH_TYPES.has(type) || type.startsWith('application/apply-patch')) throw errors.unsupportedMediaType(`the server does not support the patch type ${JSON.stringify(type)} on ${info.resource}/scale`);
    const patch = parseJson(body);
    transform = (cur) => withReplicas(cur, applyPatch(type, scaleOf(cur) as Obj, patch), info);
  } else throw errors.methodNotAllowed(`${ri.verb} is not supported on ${info.resource}/scale`);
  const out = await store.update(
    ri.namespace,
    ri.name,
    (cur) => {
      if (!cur) throw errors.notFound({ group: info.group, resource: info.resource, name: ri.name });
      return transform(cur);
    },
    { dryRun, fieldManager: manager },
  );
  sendJson(res, 200, scaleOf(out.obj));
}

async function handleBinding(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, q: URLSearchParams, info: ResourceInfo, store: Store, ctx: HandlerContext): Promise<void> {
  if (ri.verb !== 'create') throw errors.methodNotAllowed(`${ri.verb} is not supported on pods/binding`);
  const dryRun = dryRunParam(q);
  const binding = parseJson(await readBody(req));
  const target = isObject(binding) && isObject(binding.target) ? binding.target : undefined;
  const node = target && typeof target.name === 'string' ? target.name : '';
  if (!node) throw errors.invalid('Binding', '', ri.name, [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]);
  await store.update(
    ri.namespace,
    ri.name,
    (cur) => {
      if (!cur) throw errors.notFound({ group: info.group, resource: info.resource, name: ri.name });
      const spec = isObject(cur.spec) ? cur.spec : {};
      if (cur.metadata.deletionTimestamp) throw errors.conflict({ group: '', resource: 'pods', name: ri.name }, `pod ${ri.name} is being deleted, cannot be assigned to a host`);
      if (spec.nodeName) throw errors.conflict({ group: '', resource: 'pods', name: ri.name }, `pod ${ri.name} is already assigned to node "${String(spec.nodeName)}"`);
      const status = isObject(cur.status) ? cur.status : {};
      const conditions = (Array.isArray(status.conditions) ? status.conditions.filter(isObject) : []).filter((c) => c.type !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastTransitionTime: rfc3339(ctx.clock.now()) });
      return { ...cur, spec: { ...spec, nodeName: node }, status: { ...status, conditions } };
    },
    { dryRun, subresource: 'binding', currentReadOnly: true },
  );
  sendJson(res, 201, { ...successStatus({}), code: 201 });
}

async function handleEviction(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, q: URLSearchParams, store: Store): Promise<void> {
  if (ri.verb !== 'create') throw errors.methodNotAllowed(`${ri.verb} is not supported on pods/eviction`);
  const eviction = parseBody(req, await readBody(req));
  const opts = isObject(eviction) && isObject(eviction.deleteOptions) ? eviction.deleteOptions : {};
  await store.delete(ri.namespace, ri.name, deleteParams(q, opts));
  sendJson(res, 201, { ...successStatus({}), code: 201 });
}

// ---- watch ----

/** Where a watch's events go: a chunked HTTP response or a WebSocket. */
export interface WatchSink {
  /** Sends one event's JSON; false when it had to be queued (the client is behind). */
  send(json: string): boolean;
  /** Bytes queued for the client and not sent yet. */
  buffered(): number;
  onClose(listener: () => void): void;
  /** The watch is over (timeout, error, server stop): a clean end. */
  end(): void;
  /** The client fell too far behind: the connection is cut, and what was queued for it is dropped. */
  abort(): void;
}

/** A watch opened (checked, counted, its storage side started), before anything is sent: errors here are still answers. */
interface OpenWatch {
  run(sink: WatchSink): Promise<void>;
  /** Gives the watch up without running it. */
  close(): void;
}

function openWatch(req: IncomingMessage, ri: RequestInfo, q: URLSearchParams, info: ResourceInfo, store: Store, ctx: HandlerContext): OpenWatch {
  const timeoutParam = intParam(q, 'timeoutSeconds');
  const min = ctx.minWatchTimeoutSec;
  const timeoutSec = timeoutParam !== undefined && timeoutParam > 0 ? timeoutParam : min + Math.floor(Math.random() * min);
  const watch = store.watch(ri.namespace, {
    ...optional('labelSelector', q.get('labelSelector')),
    ...optional('fieldSelector', q.get('fieldSelector')),
    ...optional('resourceVersion', q.get('resourceVersion')),
    ...(ri.name ? { name: ri.name } : {}),
    allowWatchBookmarks: boolParam(q, 'allowWatchBookmarks'),
    sendInitialEvents: boolParam(q, 'sendInitialEvents'),
    progressIntervalMs: ctx.bookmarkIntervalMs,
  });
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    watch.close();
  };
  let release: () => void;
  try {
    release = ctx.watches.add(stop);
  } catch (err) {
    watch.close();
    throw err;
  }
  const table = wantsTable(req.headers.accept);
  const include = includeParam(q);
  return {
    close() {
      stop();
      release();
    },
    async run(sink) {
      const timer = setTimeout(stop, timeoutSec * 1000);
      sink.onClose(stop);
      let cut = false;
      try {
        for await (const ev of watch) {
          if (stopped) break;
          const change = ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED';
          const json = table && change ? JSON.stringify({ type: ev.type, object: tableEvent(info, ev, include, ctx) }) : change ? `{"type":"${ev.type}","object":${objectJson(ev.object)}}` : JSON.stringify(ev);
          // A client that stops reading is cut off rather than given an ever-growing buffer.
          if (!sink.send(json) && sink.buffered() > ctx.watchMaxBufferedBytes) {
            cut = true;
            ctx.log.warn('slow watcher cut off', { resource: info.resource, bufferedBytes: sink.buffered() });
            break;
          }
          if (ev.type === 'ERROR') break;
        }
      } catch (err) {
        ctx.log.warn('watch failed', { resource: info.resource, error: (err as Error).message });
      } finally {
        clearTimeout(timer);
        release();
        watch.close();
        if (cut) sink.abort();
        else sink.end();
      }
    },
  };
}

async function serveWatch(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, q: URLSearchParams, info: ResourceInfo, store: Store, ctx: HandlerContext): Promise<void> {
  const opened = openWatch(req, ri, q, info, store, ctx);
  // Send the headers now: client-go waits for them before it reads any event (kubectl wait would hang).
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  await opened.run({
    send: (json) => res.write(json + '\n'),
    buffered: () => res.writableLength,
    onClose: (listener) => res.on('close', listener),
    end: () => res.end(),
    abort: () => res.destroy(),
  });
}

/**
 * A watch over WebSocket (`?watch=true` with an Upgrade, as browsers and some clients ask): the same checks and events
 * as the chunked stream, one JSON WatchEvent per text message. `upgrade` completes the handshake once the watch is
 * open, so that a refused one (404, 400, 429) is still an HTTP answer.
 */
export async function serveWatchUpgrade(req: IncomingMessage, ri: RequestInfo, q: URLSearchParams, ctx: HandlerContext, upgrade: () => Promise<WebSocket>): Promise<void> {
  const info = findByResource(ri.group, ri.version, ri.resource);
  const store = info && ctx.registry.store(info);
  if (!info || !store || ri.subresource || (!info.namespaced && ri.namespace)) throw notFoundPath();
  if (!info.verbs.includes('watch')) throw errors.methodNotAllowed(`watch is not supported on ${ri.resource}`);
  const opened = openWatch(req, { ...ri, verb: 'watch' }, q, info, store, ctx);
  let ws: WebSocket;
  try {
    ws = await upgrade();
  } catch (err) {
    opened.close();
    throw err;
  }
  ws.on('error', () => ws.terminate());
  // Messages from the client mean nothing to a watch; its close ends the watch.
  await opened.run({
    send: (json) => {
      ws.send(json);
      return ws.bufferedAmount === 0;
    },
    buffered: () => ws.bufferedAmount,
    onClose: (listener) => ws.on('close', listener),
    end: () => ws.close(1000),
    abort: () => ws.terminate(),
  });
}

/** The JSON of each object a watch sent, shared by every watcher it goes to (objects of the watch cache never change). */
const watchedJson = new WeakMap<object, string>();
function objectJson(obj: object): string {
  let json = watchedJson.get(obj);
  if (json === undefined) watchedJson.set(obj, (json = JSON.stringify(obj)));
  return json;
}

function tableEvent(info: ResourceInfo, ev: WatchOut, include: IncludeObject, ctx: HandlerContext): unknown {
  const obj = ev.object as Obj;
  return toTable(info.kind, [obj], { include, now: ctx.clock.now(), ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) });
}

