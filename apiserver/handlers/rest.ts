// Resource handlers: decode the request, call the registry store, encode the answer (object, list, Table, watch stream).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errors } from '../../api/errors.js';
import { parseListOptions } from '../../api/list-options.js';
import { apiVersionOf, findByResource, isRegistered, type ResourceInfo } from '../../api/resources.js';
import type { Handler } from '../filters/chain.js';
import type { RequestInfo } from '../http/request-info.js';
import { mediaType, parseAccept, readBody, tableVersion, wantsTable } from '../http/requests.js';
import { notFoundPath, sendEncoded, sendError, sendJson, successStatus } from '../http/responses.js';
import { proxyPodLog } from '../nodeproxy/node-proxy.js';
import { applyConfig } from '../patch/managed-fields.js';
import { auditRequestBody } from '../filters/audit-context.js';
import { asObj, rfc3339, type Obj } from '../registry/object.js';
import type { UpdateOptions } from '../registry/rest.js';
import type { Store } from '../registry/store.js';
import { checkUnknownFields, fieldValidationParam, parseBody, parseJson, parseYamlBody } from './body.js';
import { requestScope, type HandlerContext } from './context.js';
import { deleteParams, orphanDependentsFalse } from './delete-options.js';
import { boolParam, dryRunParam, fieldManagerParam, includeParam, optional, type Query } from './params.js';
import { applyPatch, PATCH_TYPES } from './patch.js';
import { handleSubresource } from './subresource.js';
import { toTable } from './tables.js';
import { serveWatch } from './watch.js';

/** Parses a JSON/YAML/protobuf request body into an object with metadata. */
function decodeBody(req: IncomingMessage, body: Buffer, info: ResourceInfo): Obj {
  const obj = asObj(parseBody(req, body));
  if (!obj) throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: the body is not a JSON object with object metadata`);
  // The URL names the kind when the body does not (the store rejects a body naming another one).
  obj.apiVersion ||= apiVersionOf(info);
  obj.kind ||= info.kind;
  return obj;
}

/** What a create or update sends: the object, its unknown fields handled as fieldValidation says, and the write's options. */
async function writeRequest(req: IncomingMessage, res: ServerResponse, q: Query, info: ResourceInfo, store: Store): Promise<{ obj: Obj; again: () => Obj; dryRun: boolean; fieldManager: string }> {
  const dryRun = dryRunParam(q);
  const mode = fieldValidationParam(q);
  const fieldManager = fieldManagerParam(q, req);
  const body = await readBody(req);
  const obj = decodeBody(req, body, info);
  checkUnknownFields(res, obj, info, mode, store.schema);
  // The same object decoded again (its unknown fields, already answered for, dropped): a create's retry starts from it.
  const again = (): Obj => {
    const o = decodeBody(req, body, info);
    store.schema.prune(o);
    return o;
  };
  return { obj, again, dryRun, fieldManager };
}

/** The revision an update's object was read at, when it names one (see UpdateOptions.seenAt). */
function seenAt(obj: Obj): Pick<UpdateOptions, 'seenAt'> {
  const rv = obj.metadata.resourceVersion;
  return typeof rv === 'string' && /^[0-9]{1,15}$/.test(rv) ? { seenAt: Number(rv) } : {};
}

function listKind(info: ResourceInfo): string {
  return `${info.kind}List`;
}

function sendObject(res: ServerResponse, req: IncomingMessage, q: Query, ctx: HandlerContext, info: ResourceInfo, code: number, obj: Obj): void {
  const version = tableVersion(req.headers.accept);
  if (version && obj.kind === info.kind) {
    const printer = ctx.registry.store(info).strategy.printer;
    sendJson(res, code, toTable(info.kind, [obj], { include: includeParam(q), now: ctx.clock.now(), printer, version, ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) }));
  } else sendJson(res, code, obj);
}

/**
 * Whether the answer, always JSON (which is also YAML), is one the client accepts: any JSON or YAML type (Table and
 * watch-stream variants included), or a wildcard. A client that lists only others (protobuf alone, XML) gets 406.
 */
function acceptable(accept: string | undefined): boolean {
  if (!accept || accept.includes('json') || accept.includes('*')) return true;
  return parseAccept(accept).some((a) => a.type === 'application/yaml' || a.type === '' || a.type.endsWith('/*'));
}

/**
 * The handler of resource requests (and of paths no other route takes): the RequestInfo resolved at the start of the
 * chain says which store and what to do; every failure is answered with a Status (a 5xx is logged with its error by
 * the recovery filter).
 */
export function resourceHandler(ctx: HandlerContext): Handler {
  return (req, res) =>
    serveResource(req, res, ctx).catch((err: unknown) => {
      sendError(res, err);
    });
}

async function serveResource(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext): Promise<void> {
  if (req.requestInfoError !== undefined) throw req.requestInfoError;
  const ri = req.requestInfo;
  if (!ri) throw notFoundPath();
  const q = ri.query;
  const info = findByResource(ri.group, ri.version, ri.resource);
  const store = info && ctx.registry.store(info);
  if (!info || !store) throw notFoundPath();
  if (ri.subresource && !info.subresources.includes(ri.subresource)) throw notFoundPath();
  if (!info.namespaced && ri.namespace) throw notFoundPath();
  if (info.namespaced && !ri.namespace && !['list', 'watch', 'deletecollection'].includes(ri.verb)) throw notFoundPath();
  if (!info.verbs.includes(ri.verb) && !ri.subresource) throw errors.methodNotAllowed();
  if (!acceptable(req.headers.accept)) {
    throw errors.notAcceptable('only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io');
  }
  const sub = ri.subresource && ctx.registry.subresource(info, ri.subresource);
  if (sub) return handleSubresource(req, res, ri, info, sub);
  switch (ri.subresource) {
    case '':
      return handleMain(req, res, ri, q, info, store, ctx);
    case 'status':
    case 'finalize':
      return handleStatus(req, res, ri, q, info, store, ctx);
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
      throw notFoundPath();
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
      const params = parseListOptions(q);
      const version = tableVersion(req.headers.accept);
      if (!version) {
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
          printer: store.strategy.printer,
          now: ctx.clock.now(),
          version,
          resourceVersion: out.resourceVersion,
          ...optional('continue', out.continue),
          ...(out.remainingItemCount !== undefined ? { remainingItemCount: out.remainingItemCount } : {}),
        }),
      );
      return;
    }
    case 'watch':
      return serveWatch(req, res, ri, info, store, ctx);
    case 'create': {
      const w = await writeRequest(req, res, q, info, store);
      const created = await store.create(ri.namespace, w.obj, { dryRun: w.dryRun, fieldManager: w.fieldManager, owned: true, again: w.again, scope: requestScope(req, res) });
      sendEncoded(res, 201, store.json(created));
      return;
    }
    case 'update': {
      const w = await writeRequest(req, res, q, info, store);
      const out = await store.update(ri.namespace, ri.name, () => w.obj, { dryRun: w.dryRun, fieldManager: w.fieldManager, currentReadOnly: true, ...seenAt(w.obj), scope: requestScope(req, res) });
      sendEncoded(res, out.created ? 201 : 200, store.json(out.obj));
      return;
    }
    case 'patch':
      return handlePatch(req, res, ri, q, info, store, ctx, {});
    case 'delete': {
      const body = await readOptionalBody(req);
      const out = await store.delete(ri.namespace, ri.name, { ...deleteParams(q, body), scope: requestScope(req, res) });
      if (out.deleted && !store.strategy.returnDeletedObject) {
        sendJson(res, 200, successStatus({ name: ri.name, group: info.group, kind: info.resource, ...(out.obj.metadata.uid ? { uid: out.obj.metadata.uid } : {}) }));
      } else sendJson(res, out.deleted || !orphanDependentsFalse(q, body) ? 200 : 202, out.obj);
      return;
    }
    case 'deletecollection': {
      const body = await readOptionalBody(req);
      const items = await store.deleteCollection(ri.namespace, parseListOptions(q), { ...deleteParams(q, body), scope: requestScope(req, res) });
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
  // Custom resources have no strategic merge keys: kube refuses the patch type for them.
  if (type === 'application/strategic-merge-patch+json' && isRegistered(info)) {
    throw errors.unsupportedMediaType('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
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
    if (req.audit) auditRequestBody(req, config);
    checkUnknownFields(res, config, info, mode, store.schema);
    const ref = { manager, apiVersion: apiVersionOf(info), time: rfc3339(ctx.clock.now()), ...(extra.subresource ? { subresource: extra.subresource } : {}) };
    const out = await store.update(ri.namespace, ri.name, (cur) => applyConfig(cur, config, ref, force, store.strategy.listTypes), {
      ...extra,
      dryRun,
      fieldManager: manager,
      managedFieldsSet: true,
      allowCreate: !extra.subresource,
      scope: requestScope(req, res),
    });
    sendEncoded(res, out.created ? 201 : 200, store.json(out.obj));
    return;
  }
  const manager = fieldManagerParam(q, req);
  const patch = parseJson(body);
  if (req.audit) auditRequestBody(req, undefined, body);
  const out = await store.update(
    ri.namespace,
    ri.name,
    (cur) => {
      // The patches leave the stored object alone (a JSON patch works on a copy; merge patches copy what they change
      // and share the rest with it), so it is given read-only. Dropping unknown fields could reach into what is
      // shared (a field its schema no longer has): an object with fields to drop is patched again from a copy.
      const base = cur ?? { metadata: {} };
      let next = applyPatch(type, base, patch);
      const unknown = store.schema.unknownFields(next);
      if (unknown.length) next = applyPatch(type, structuredClone(base), patch);
      checkUnknownFields(res, next, info, mode, store.schema, unknown);
      return next;
    },
    { ...extra, dryRun, fieldManager: manager, currentReadOnly: true, scope: requestScope(req, res) },
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
    const out = await store.update(ri.namespace, ri.name, () => obj, { dryRun, fieldManager: manager, subresource, currentReadOnly: true, ...seenAt(obj), scope: requestScope(req, res) });
    sendEncoded(res, 200, store.json(out.obj));
    return;
  }
  if (ri.verb === 'patch' && subresource === 'status') return handlePatch(req, res, ri, q, info, store, ctx, { subresource });
  throw errors.methodNotAllowed();
}
