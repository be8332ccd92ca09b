// DeleteOptions as a request gives them, in its body and its query (gracePeriodSeconds, preconditions,
// propagationPolicy, orphanDependents, dryRun), for delete, deletecollection and eviction.
import { errors } from '../../api/errors.js';
import { isObject, type JsonObject } from '../registry/object.js';
import type { DeleteParams } from '../registry/rest.js';
import { boolParam, dryRunParam, intParam, type Query } from './params.js';

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

export function deleteParams(q: Query, body: unknown): DeleteParams {
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
  const orphanQuery = q.get('orphanDependents');
  const orphan = orphanQuery !== null ? boolParam(q, 'orphanDependents') : typeof b.orphanDependents === 'boolean' ? b.orphanDependents : undefined;
  if (!policy && orphan !== undefined) policy = orphan ? 'Orphan' : 'Background';
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

/**
 * Whether the request set orphanDependents to false (query, or the body when there is one): kube answers a delete
 * that is not done at once with 202 then, and with 200 otherwise (graceful pods, finalizers, orphaning).
 */
export function orphanDependentsFalse(q: Query, body: unknown): boolean {
  if (isObject(body)) return body.orphanDependents === false;
  return q.get('orphanDependents') !== null && !boolParam(q, 'orphanDependents');
}
