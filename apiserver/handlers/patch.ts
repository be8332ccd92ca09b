// Patches of a stored object: JSON patch, merge patch and strategic merge patch (server-side apply is
// patch/managed-fields.ts's applyConfig).
import jsonpatch from 'fast-json-patch';
import { ApiError, errors } from '../../api/errors.js';
import { mergePatch, strategicMergePatch } from '../patch/merge.js';
import { asObj, isObject, type Obj } from '../registry/object.js';

export const PATCH_TYPES = new Set([
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
  'application/apply-patch+cbor',
]);

/** Applies a JSON, merge or strategic merge patch to the current object. */
export function applyPatch(type: string, current: Obj, patch: unknown): Obj {
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
