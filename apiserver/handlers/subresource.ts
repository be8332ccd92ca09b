// Subresources with objects of their own kind (scale, binding, eviction): get, update, patch and create through the
// kind's SubresourceStorage, the same for every kind (kube's generic handlers over ScaleREST, BindingREST...).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { RequestInfo } from '../http/request-info.js';
import { mediaType, readBody } from '../http/requests.js';
import { sendJson, successStatus } from '../http/responses.js';
import type { Obj } from '../registry/object.js';
import type { SubresourceStorage } from '../registry/rest.js';
import { parseBody, parseJson } from './body.js';
import { deleteParams } from './delete-options.js';
import { applyPatch, PATCH_TYPES } from './patch.js';
import { dryRunParam, fieldManagerParam } from './params.js';
import { requestScope } from './context.js';

export async function handleSubresource(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, info: ResourceInfo, sub: SubresourceStorage): Promise<void> {
  const q = ri.query;
  const what = `${info.resource}/${ri.subresource}`;
  if (ri.verb === 'get' && sub.get) {
    sendJson(res, 200, await sub.get(ri.namespace, ri.name));
    return;
  }
  if ((ri.verb === 'update' || ri.verb === 'patch') && sub.update) {
    const dryRun = dryRunParam(q);
    const fieldManager = fieldManagerParam(q, req);
    const body = await readBody(req);
    let change: (current: Obj) => unknown;
    if (ri.verb === 'update') {
      const desired = sub.bodies === 'any' ? parseBody(req, body) : parseJson(body);
      change = () => desired;
    } else {
      const type = mediaType(req.headers['content-type']);
      if (!PATCH_TYPES.has(type) || type.startsWith('application/apply-patch')) throw errors.unsupportedMediaType(`the server does not support the patch type ${JSON.stringify(type)} on ${what}`);
      const patch = parseJson(body);
      change = (current) => applyPatch(type, current, patch);
    }
    // The subresource's objects carry metadata (a Scale does): a patch applies to them as to any object.
    sendJson(res, 200, await sub.update(ri.namespace, ri.name, (current) => change(current as Obj), { dryRun, fieldManager, scope: requestScope(req, res) }));
    return;
  }
  if (ri.verb === 'create' && sub.create) {
    const dryRun = dryRunParam(q);
    const raw = await readBody(req);
    const body = sub.bodies === 'any' ? parseBody(req, raw) : parseJson(raw);
    await sub.create(ri.namespace, ri.name, body, { dryRun, scope: requestScope(req, res), deleteOptions: (options) => deleteParams(q, options) });
    sendJson(res, 201, successStatus(undefined, 201));
    return;
  }
  throw errors.methodNotAllowed();
}
