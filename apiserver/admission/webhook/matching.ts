// Which requests a webhook or policy sees: rules by operation, group, version, resource (with subresources) and scope,
// the namespace and object label selectors, and CEL matchConditions (kube's admission matching).
import { matchesLabelSelector } from '../../../api/selectors.js';
import type { LabelSelector } from '../../../api/schemas/meta.js';
import type { MatchCondition, RuleWithOperations } from '../../../api/schemas/extensions.js';
import { compile, errorText, type Program } from '../../cel/cel.js';
import type { Obj } from '../../registry/object.js';
import type { AdmissionAttributes } from '../../registry/rest.js';

const has = (list: readonly string[] | undefined, v: string): boolean => !!list && (list.includes('*') || list.includes(v));

function resourceMatches(patterns: readonly string[] | undefined, resource: string, sub: string): boolean {
  for (const p of patterns ?? []) {
    if (p === '*/*') return true;
    const [r, s] = p.split('/') as [string, string | undefined];
    const rOk = r === '*' || r === resource;
    const sOk = s === undefined ? sub === '' : s === '*' || s === sub;
    if (rOk && sOk) return true;
  }
  return false;
}

/** Whether a rule covers the request (kube's rules.Matcher). */
export function ruleMatches(rule: RuleWithOperations & { resourceNames?: string[] | undefined }, a: AdmissionAttributes): boolean {
  const op = a.operation.toUpperCase();
  if (!has(rule.operations, op)) return false;
  if (!has(rule.apiGroups, a.info.group) || !has(rule.apiVersions, a.info.version)) return false;
  if (!resourceMatches(rule.resources, a.info.resource, a.subresource ?? '')) return false;
  const scope = rule.scope ?? '*';
  // Namespaces themselves are cluster-scoped for matching.
  const namespaced = a.info.namespaced && a.info.resource !== 'namespaces';
  if (scope === 'Cluster' && namespaced) return false;
  if (scope === 'Namespaced' && !namespaced) return false;
  if (rule.resourceNames?.length && !rule.resourceNames.includes(a.name)) return false;
  return true;
}

const labelsOf = (o: Obj | undefined): Record<string, string> => o?.metadata.labels ?? {};

/** namespaceSelector: cluster-scoped requests always match; a Namespace is matched by its own labels. */
export async function namespaceMatches(sel: LabelSelector | undefined, a: AdmissionAttributes, getNamespace: (name: string) => Promise<Obj | undefined>): Promise<boolean> {
  if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) return true;
  if (a.info.group === '' && a.info.resource === 'namespaces') return matchesLabelSelector(sel, labelsOf(a.obj ?? a.old));
  if (!a.info.namespaced) return true;
  return matchesLabelSelector(sel, labelsOf(await getNamespace(a.namespace)));
}

/** objectSelector: the new object's labels or the old one's. */
export function objectMatches(sel: LabelSelector | undefined, a: AdmissionAttributes): boolean {
  if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) return true;
  const obj = a.operation === 'delete' ? undefined : a.obj;
  const old = a.old;
  return (!!obj && matchesLabelSelector(sel, labelsOf(obj))) || (!!old && matchesLabelSelector(sel, labelsOf(old)));
}

/** Compiled matchConditions; evaluation errors are reported for the failure policy to decide. */
export interface CompiledConditions {
  programs: { name: string; program: Program }[];
}

export function compileConditions(conds: readonly MatchCondition[] | undefined): CompiledConditions {
  return { programs: (conds ?? []).map((c) => ({ name: c.name, program: compile(c.expression) })) };
}

/** true: every condition holds; false: one is false; an Error: one could not be evaluated. */
export function conditionsMatch(c: CompiledConditions, vars: Record<string, unknown>): boolean | Error {
  let failed: Error | undefined;
  for (const { name, program } of c.programs) {
    try {
      const v = program.eval(vars);
      if (v === false) return false;
      if (v !== true) failed ??= new Error(`matchCondition ${JSON.stringify(name)} did not evaluate to a bool`);
    } catch (err) {
      failed ??= new Error(`failed to evaluate matchCondition ${JSON.stringify(name)}: ${errorText(err)}`);
    }
  }
  return failed ?? true;
}
