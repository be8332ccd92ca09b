// MutatingAdmissionWebhook and ValidatingAdmissionWebhook: each matching webhook of the configurations gets an
// AdmissionReview v1 over HTTPS; mutating ones in order (configurations by name), their JSONPatch applied, re-run once
// when a later one changed the object and they asked for IfNeeded; validating ones in parallel. failurePolicy decides
// what a failed call means, sideEffects whether a dry run may call at all; messages are kube's.
import { randomUUID } from 'node:crypto';
import fastJsonPatch from 'fast-json-patch';
import { ApiError, errors } from '../../../api/errors.js';
import type { MutatingWebhook, ValidatingWebhook } from '../../../api/schemas/extensions.js';
import type { Logger } from '../../../lib/logger.js';
import { toCel } from '../../cel/cel.js';
import { deepEqual, type Obj } from '../../registry/object.js';
import type { Admission, AdmissionAttributes } from '../../registry/rest.js';
import { postJson, WebhookCallError, type ServiceResolver } from './client.js';
import { compileConditions, conditionsMatch, namespaceMatches, objectMatches, ruleMatches, type CompiledConditions } from './matching.js';

type Webhook = MutatingWebhook | ValidatingWebhook;

export interface WebhookDeps {
  /** The configurations of the kind (from the store's cache: never changed in place). */
  configurations(): Promise<Obj[]>;
  /** True when there is no configuration, known at once (every write asks: it then skips the plugin without a promise). */
  none?(): boolean;
  getNamespace(name: string): Promise<Obj | undefined>;
  resolver: ServiceResolver;
  log: Logger;
}

const compiledOf = new WeakMap<Obj, Map<string, CompiledConditions>>();

/** Compiled matchConditions of a webhook, once per stored configuration. */
function conditionsOf(config: Obj, hook: Webhook): CompiledConditions {
  let m = compiledOf.get(config);
  if (!m) compiledOf.set(config, (m = new Map()));
  let c = m.get(hook.name);
  if (!c) m.set(hook.name, (c = compileConditions(hook.matchConditions)));
  return c;
}

/** The AdmissionReview v1 request of a write. */
export function admissionRequest(a: AdmissionAttributes, uid: string): Record<string, unknown> {
  const { info } = a;
  const user = a.scope.user;
  const kind = { group: info.group, version: info.version, kind: info.kind };
  const resource = { group: info.group, version: info.version, resource: info.resource };
  const op = a.operation.toUpperCase();
  const optionsKind = a.operation === 'create' ? 'CreateOptions' : a.operation === 'update' ? 'UpdateOptions' : 'DeleteOptions';
  return {
    uid,
    kind,
    resource,
    ...(a.subresource ? { subResource: a.subresource, requestSubResource: a.subresource } : {}),
    requestKind: kind,
    requestResource: resource,
    name: a.name,
    ...(info.namespaced ? { namespace: a.namespace } : {}),
    operation: op,
    userInfo: { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups },
    object: a.operation === 'delete' ? null : (a.obj ?? null),
    oldObject: a.old ?? null,
    dryRun: !!a.dryRun,
    options: { kind: optionsKind, apiVersion: 'meta.k8s.io/v1', ...(a.dryRun ? { dryRun: ['All'] } : {}) },
  };
}

interface Matched {
  config: Obj;
  hook: Webhook;
}

/** The webhooks of the configurations that match the request, in kube's order (configurations by name). */
async function matching(deps: WebhookDeps, a: AdmissionAttributes): Promise<Matched[]> {
  const configs = await deps.configurations();
  // Webhooks never see writes to admission configuration itself (kube's rule: they could lock the cluster out).
  if (configs.length === 0 || a.info.group === 'admissionregistration.k8s.io') return [];
  const out: Matched[] = [];
  const sorted = [...configs].sort((x, y) => (x.metadata.name ?? '').localeCompare(y.metadata.name ?? ''));
  for (const config of sorted) {
    for (const hook of ((config as unknown as { webhooks?: Webhook[] }).webhooks ?? [])) {
      if (!(hook.rules ?? []).some((r) => ruleMatches(r, a))) continue;
      if (!objectMatches(hook.objectSelector, a)) continue;
      if (!(await namespaceMatches(hook.namespaceSelector, a, deps.getNamespace))) continue;
      out.push({ config, hook });
    }
  }
  return out;
}

const failurePolicy = (hook: Webhook): 'Fail' | 'Ignore' => hook.failurePolicy ?? 'Fail';

/** A failed call: refused (Fail) or passed over with a log line (Ignore), as kube's failure policy says. */
function callFailed(deps: WebhookDeps, hook: Webhook, err: unknown): void {
  const why = err instanceof Error ? err.message : String(err);
  if (failurePolicy(hook) === 'Ignore') {
    deps.log.warn('failed calling webhook, failing open', { webhook: hook.name, error: why });
    return;
  }
  throw errors.internal(`failed calling webhook "${hook.name}": failed to call webhook: ${why}`);
}

/** The response of a review call, checked; throws WebhookCallError for a malformed one. */
async function review(deps: WebhookDeps, hook: Webhook, a: AdmissionAttributes): Promise<{ allowed: boolean; status?: { code?: number; message?: string; reason?: string }; patch?: string; patchType?: string; warnings?: string[] }> {
  const uid = randomUUID();
  const body = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: admissionRequest(a, uid) };
  const out = (await postJson(hook.clientConfig, body, { timeoutSeconds: hook.timeoutSeconds ?? 10, resolver: deps.resolver })) as { response?: Record<string, unknown> };
  const r = out.response;
  if (!r || typeof r !== 'object') throw new WebhookCallError('webhook response was absent');
  if (r.uid !== uid) throw new WebhookCallError(`expected response.uid="${uid}", got "${String(r.uid)}"`);
  return r as never;
}

function denied(hook: Webhook, status: { code?: number; message?: string; reason?: string } | undefined): ApiError {
  const code = status?.code && status.code >= 400 ? status.code : 403;
  const message = status?.message ? `admission webhook "${hook.name}" denied the request: ${status.message}` : `admission webhook "${hook.name}" denied the request without explanation`;
  return new ApiError(code, (status?.reason as never) || 'Forbidden', message);
}

/** Whether the hook is called for this request: dry runs only reach hooks without side effects, matchConditions hold. */
function shouldCall(deps: WebhookDeps, m: Matched, a: AdmissionAttributes): boolean {
  const { hook } = m;
  if (a.dryRun && hook.sideEffects !== 'None' && hook.sideEffects !== 'NoneOnDryRun') {
    throw errors.badRequest(`admission webhook "${hook.name}" does not support dry run`);
  }
  const conds = conditionsOf(m.config, hook);
  if (conds.programs.length === 0) return true;
  const vars = {
    object: toCel(a.operation === 'delete' ? null : (a.obj ?? null)),
    oldObject: toCel(a.old ?? null),
    request: toCel(admissionRequest(a, '')),
  };
  const r = conditionsMatch(conds, vars);
  if (r instanceof Error) {
    callFailed(deps, hook, r);
    return false;
  }
  return r;
}

/** Applies a mutating webhook's JSONPatch to the object in place; whether it changed anything. */
function applyMutation(hook: Webhook, obj: Obj, patchB64: string): boolean {
  let ops: fastJsonPatch.Operation[];
  try {
    ops = JSON.parse(Buffer.from(patchB64, 'base64').toString('utf8')) as fastJsonPatch.Operation[];
  } catch {
    throw errors.internal(`admission webhook "${hook.name}" returned an invalid patch`);
  }
  let next: Obj;
  try {
    next = fastJsonPatch.applyPatch(structuredClone(obj), ops, true, false).newDocument;
  } catch (err) {
    throw errors.internal(`admission webhook "${hook.name}" attempted to modify the object, which is not supported for this operation: ${(err as Error).message}`);
  }
  if (deepEqual(next, obj)) return false;
  for (const k of Object.keys(obj)) delete (obj as Record<string, unknown>)[k];
  Object.assign(obj, next);
  return true;
}

/**
 * Calls the hook when it should be called: its allowed response (warnings passed on), or undefined when it was not
 * called or failed open; a refusal or a failure under failurePolicy Fail throws.
 */
async function allowedReview(deps: WebhookDeps, m: Matched, a: AdmissionAttributes): Promise<Awaited<ReturnType<typeof review>> | undefined> {
  if (!shouldCall(deps, m, a)) return undefined;
  let r: Awaited<ReturnType<typeof review>>;
  try {
    r = await review(deps, m.hook, a);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    callFailed(deps, m.hook, err);
    return undefined;
  }
  for (const w of r.warnings ?? []) a.scope.warn?.(w);
  if (!r.allowed) throw denied(m.hook, r.status);
  return r;
}

async function callMutating(deps: WebhookDeps, m: Matched, a: AdmissionAttributes): Promise<boolean> {
  const r = await allowedReview(deps, m, a);
  if (!r?.patch || !a.obj || a.operation === 'delete') return false;
  if (r.patchType !== 'JSONPatch') throw errors.internal(`admission webhook "${m.hook.name}" returned an unsupported patchType ${JSON.stringify(r.patchType ?? '')}`);
  return applyMutation(m.hook, a.obj, r.patch);
}

/** The mutating webhooks' admission plugin. */
export function mutatingWebhooks(deps: WebhookDeps): Admission {
  const run: Admission = async (a) => {
    const hooks = await matching(deps, a);
    if (hooks.length === 0) return false;
    let changed = false;
    const ran: Matched[] = [];
    const rerun = new Set<Matched>();
    for (const m of hooks) {
      const mutated = await callMutating(deps, m, a);
      // A change made after a webhook ran means it may see the object once more (kube's reinvocation, IfNeeded).
      if (mutated) for (const prev of ran) rerun.add(prev);
      ran.push(m);
      changed ||= mutated;
    }
    for (const m of hooks) {
      if (rerun.has(m) && (m.hook as MutatingWebhook).reinvocationPolicy === 'IfNeeded') changed = (await callMutating(deps, m, a)) || changed;
    }
    return changed;
  };
  return (a) => (deps.none?.() ? NOTHING_TO_DO : run(a));
}

/** What a plugin with nothing to call answers (shared: every write goes through the plugins). */
const NOTHING_TO_DO: Promise<boolean> = Promise.resolve(false);

/** The validating webhooks' admission plugin: every matching webhook at once; the first refusal stands. */
export function validatingWebhooks(deps: WebhookDeps): Admission {
  const run: Admission = async (a) => {
    const hooks = await matching(deps, a);
    if (hooks.length === 0) return;
    const results = await Promise.allSettled(hooks.map((m) => allowedReview(deps, m, a)));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  };
  return (a) => (deps.none?.() ? NOTHING_TO_DO : run(a));
}
