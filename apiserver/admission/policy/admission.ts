// ValidatingAdmissionPolicy: each binding applies its policy to the requests both match (matchConstraints, the
// binding's matchResources), with params (paramKind + paramRef), matchConditions and variables, all CEL; a false
// validation Denies, Warns or Audits as the binding's validationActions say, with kube's messages.
import { ApiError, errors } from '../../../api/errors.js';
import type { MatchResources, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from '../../../api/schemas/extensions.js';
import type { Logger } from '../../../lib/logger.js';
import { compile, errorText, toCel, type Program } from '../../cel/cel.js';
import type { Obj } from '../../registry/object.js';
import type { Admission, AdmissionAttributes } from '../../registry/rest.js';
import { admissionRequest } from '../webhook/admission.js';
import { compileConditions, conditionsMatch, namespaceMatches, objectMatches, ruleMatches, type CompiledConditions } from '../webhook/matching.js';
import { matchesLabelSelector } from '../../../api/selectors.js';

export interface PolicyDeps {
  policies(): Promise<Obj[]>;
  bindings(): Promise<Obj[]>;
  /** True when there is no binding, known at once (every write asks: it then skips the plugin without a promise). */
  none?(): boolean;
  getNamespace(name: string): Promise<Obj | undefined>;
  /** A param object by kind, or undefined. */
  params(apiVersion: string, kind: string, namespace: string, name: string): Promise<Obj | undefined>;
  listParams(apiVersion: string, kind: string, namespace: string): Promise<Obj[]>;
  log: Logger;
}

interface CompiledPolicy {
  conditions: CompiledConditions;
  variables: { name: string; program: Program }[];
  validations: { program: Program; message?: string; messageExpression?: Program; reason?: string; expression: string }[];
  /** An expression that did not compile: the policy fails as its failurePolicy says. */
  error?: string;
}

const compiled = new WeakMap<Obj, CompiledPolicy>();

function compilePolicy(obj: Obj): CompiledPolicy {
  let c = compiled.get(obj);
  if (c) return c;
  const spec = (obj as unknown as ValidatingAdmissionPolicy).spec ?? {};
  try {
    c = {
      conditions: compileConditions(spec.matchConditions),
      variables: (spec.variables ?? []).map((v) => ({ name: v.name, program: compile(v.expression) })),
      validations: (spec.validations ?? []).map((v) => ({
        expression: v.expression,
        program: compile(v.expression),
        ...(v.message ? { message: v.message } : {}),
        ...(v.messageExpression ? { messageExpression: compile(v.messageExpression) } : {}),
        ...(v.reason ? { reason: v.reason } : {}),
      })),
    };
  } catch (err) {
    c = { conditions: { programs: [] }, variables: [], validations: [], error: `compilation failed: ${errorText(err)}` };
  }
  compiled.set(obj, c);
  return c;
}

async function resourcesMatch(m: MatchResources | undefined, a: AdmissionAttributes, getNamespace: PolicyDeps['getNamespace']): Promise<boolean> {
  if (!m) return true;
  if (m.resourceRules && !m.resourceRules.some((r) => ruleMatches(r, a))) return false;
  if ((m.excludeResourceRules ?? []).some((r) => ruleMatches(r, a))) return false;
  if (!objectMatches(m.objectSelector, a)) return false;
  return namespaceMatches(m.namespaceSelector, a, getNamespace);
}

const CODES: Record<string, number> = { Unauthorized: 401, Forbidden: 403, Invalid: 422, RequestEntityTooLarge: 413 };

/** The params a binding names: one object, those its selector picks, or none (undefined: not found). */
async function paramsOf(deps: PolicyDeps, policy: ValidatingAdmissionPolicy, binding: ValidatingAdmissionPolicyBinding, a: AdmissionAttributes): Promise<(Obj | null)[] | undefined> {
  const kind = policy.spec?.paramKind;
  if (!kind?.apiVersion || !kind.kind) return [null];
  const ref = binding.spec?.paramRef;
  if (!ref) return undefined;
  const ns = ref.namespace ?? (a.info.namespaced ? a.namespace : '');
  if (ref.name) {
    const p = await deps.params(kind.apiVersion, kind.kind, ns, ref.name);
    return p ? [p] : undefined;
  }
  const all = (await deps.listParams(kind.apiVersion, kind.kind, ns)).filter((p) => matchesLabelSelector(ref.selector ?? {}, p.metadata.labels ?? {}));
  return all.length ? all : undefined;
}

function messageOf(v: CompiledPolicy['validations'][number], vars: Record<string, unknown>): string {
  if (v.messageExpression) {
    try {
      const m = v.messageExpression.eval(vars);
      if (typeof m === 'string' && m.trim() !== '') return m;
    } catch {
      // kube falls back to message, then the default, when messageExpression fails.
    }
  }
  return v.message ?? `failed expression: ${v.expression}`;
}

interface Violation {
  message: string;
  reason: string;
}

/** Runs one policy for one params object: the violations, or an error message when an expression failed. */
function evaluate(c: CompiledPolicy, base: Record<string, unknown>): { violations: Violation[]; error?: string } {
  if (c.error) return { violations: [], error: c.error };
  const variables: Record<string, unknown> = {};
  const vars = { ...base, variables };
  for (const v of c.variables) {
    try {
      variables[v.name] = v.program.eval(vars);
    } catch (err) {
      return { violations: [], error: `variable '${v.name}' resulted in error: ${errorText(err)}` };
    }
  }
  const matched = conditionsMatch(c.conditions, vars);
  if (matched instanceof Error) return { violations: [], error: matched.message };
  if (!matched) return { violations: [] };
  const violations: Violation[] = [];
  for (const v of c.validations) {
    let ok: unknown;
    try {
      ok = v.program.eval(vars);
    } catch (err) {
      return { violations, error: `expression '${v.expression}' resulted in error: ${errorText(err)}` };
    }
    if (ok !== true) violations.push({ message: messageOf(v, vars), reason: v.reason ?? 'Invalid' });
  }
  return { violations };
}

async function applyBinding(deps: PolicyDeps, policyObj: Obj, binding: ValidatingAdmissionPolicyBinding, a: AdmissionAttributes): Promise<void> {
  const policy = policyObj as unknown as ValidatingAdmissionPolicy;
  const pName = policy.metadata.name ?? '';
  const bName = binding.metadata.name ?? '';
  if (!(await resourcesMatch(policy.spec?.matchConstraints, a, deps.getNamespace))) return;
  if (binding.spec?.matchResources && !(await resourcesMatch(binding.spec.matchResources, a, deps.getNamespace))) return;
  const prefix = `ValidatingAdmissionPolicy '${pName}' with binding '${bName}' denied request`;
  const params = await paramsOf(deps, policy, binding, a);
  if (!params) {
    if (binding.spec?.paramRef?.parameterNotFoundAction === 'Deny') throw errors.forbidden(`${prefix}: no params found for policy binding with \`Deny\` parameterNotFoundAction`);
    return;
  }
  const c = compilePolicy(policyObj);
  const actions = new Set(binding.spec?.validationActions ?? []);
  const namespaceObject = a.info.namespaced && a.namespace ? ((await deps.getNamespace(a.namespace)) ?? null) : null;
  const base = {
    object: toCel(a.operation === 'delete' ? null : (a.obj ?? null)),
    oldObject: toCel(a.old ?? null),
    request: toCel(admissionRequest(a, '')),
    namespaceObject: toCel(namespaceObject),
  };
  for (const p of params) {
    const r = evaluate(c, { ...base, params: toCel(p) });
    if (r.error) {
      if ((policy.spec?.failurePolicy ?? 'Fail') === 'Fail') throw errors.forbidden(`${prefix}: ${r.error}`);
      deps.log.warn('policy evaluation failed, failing open', { policy: pName, binding: bName, error: r.error });
    }
    for (const v of r.violations) {
      if (actions.has('Warn')) a.scope.warn?.(`Validation failed for ValidatingAdmissionPolicy '${pName}' with binding '${bName}': ${v.message}`);
      if (actions.has('Audit')) deps.log.info('policy violation audited', { policy: pName, binding: bName, message: v.message });
      if (actions.has('Deny')) throw new ApiError(CODES[v.reason] ?? 422, v.reason as never, `${prefix}: ${v.message}`);
    }
  }
}

/** The ValidatingAdmissionPolicy admission plugin. */
export function validatingPolicies(deps: PolicyDeps): Admission {
  const run: Admission = async (a) => {
    const bindings = await deps.bindings();
    if (bindings.length === 0 || a.info.group === 'admissionregistration.k8s.io') return;
    const policies = new Map((await deps.policies()).map((p) => [p.metadata.name ?? '', p]));
    for (const b of bindings) {
      const binding = b as unknown as ValidatingAdmissionPolicyBinding;
      const policy = policies.get(binding.spec?.policyName ?? '');
      if (policy) await applyBinding(deps, policy, binding, a);
    }
  };
  return (a) => (deps.none?.() ? NOTHING_TO_DO : run(a));
}

/** What the plugin answers with no binding (shared: every write goes through it). */
const NOTHING_TO_DO: Promise<void> = Promise.resolve();
