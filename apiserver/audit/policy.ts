// The audit policy (audit.k8s.io/v1 Policy, kube-apiserver's --audit-policy-file): rules tried in order, the first that
// matches a request says its level (None, Metadata, Request, RequestResponse), which stages to leave out and whether
// managedFields are dropped; a request no rule matches is not recorded. Semantics of apiserver/pkg/audit/policy.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { Attributes } from '../authorization/types.js';
import { AUDIT_LEVELS, AUDIT_STAGES, type AuditLevel, type AuditStage } from '../filters/audit-context.js';
import type { AuditDecision } from '../filters/audit.js';

export interface GroupResources {
  group: string;
  resources: string[];
  resourceNames: string[];
}

export interface PolicyRule {
  level: AuditLevel;
  users: string[];
  userGroups: string[];
  verbs: string[];
  resources: GroupResources[];
  namespaces: string[];
  nonResourceURLs: string[];
  omitStages: AuditStage[];
  omitManagedFields?: boolean;
}

export interface AuditPolicy {
  rules: PolicyRule[];
  omitStages: AuditStage[];
  omitManagedFields: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a list of strings at `path`; anything else is a policy error naming the field. */
function strings(o: Record<string, unknown>, key: string, path: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${path}.${key}: must be a list of strings`);
  return v;
}

function level(v: unknown, path: string): AuditLevel {
  if (typeof v !== 'string' || !(AUDIT_LEVELS as readonly string[]).includes(v)) throw new Error(`${path}.level: Unsupported value: ${JSON.stringify(v)}: supported values: ${AUDIT_LEVELS.map((l) => `"${l}"`).join(', ')}`);
  return v as AuditLevel;
}

function stages(o: Record<string, unknown>, path: string): AuditStage[] {
  const list = strings(o, 'omitStages', path);
  for (const s of list) if (!(AUDIT_STAGES as readonly string[]).includes(s)) throw new Error(`${path}.omitStages: Unsupported value: ${JSON.stringify(s)}`);
  return list as AuditStage[];
}

function rule(raw: unknown, i: number, policyStages: AuditStage[]): PolicyRule {
  const path = `rules[${i}]`;
  if (!isRecord(raw)) throw new Error(`${path}: must be an object`);
  const resources = (Array.isArray(raw.resources) ? raw.resources : raw.resources === undefined || raw.resources === null ? [] : undefined)?.map((g, j) => {
    if (!isRecord(g)) throw new Error(`${path}.resources[${j}]: must be an object`);
    const p = `${path}.resources[${j}]`;
    if (g.group !== undefined && typeof g.group !== 'string') throw new Error(`${p}.group: must be a string`);
    return { group: typeof g.group === 'string' ? g.group : '', resources: strings(g, 'resources', p), resourceNames: strings(g, 'resourceNames', p) };
  });
  if (!resources) throw new Error(`${path}.resources: must be a list`);
  const nonResourceURLs = strings(raw, 'nonResourceURLs', path);
  const namespaces = strings(raw, 'namespaces', path);
  if (nonResourceURLs.length && (resources.length || namespaces.length)) throw new Error(`${path}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs`);
  if (raw.omitManagedFields !== undefined && typeof raw.omitManagedFields !== 'boolean') throw new Error(`${path}.omitManagedFields: must be a boolean`);
  return {
    level: level(raw.level, path),
    users: strings(raw, 'users', path),
    userGroups: strings(raw, 'userGroups', path),
    verbs: strings(raw, 'verbs', path),
    resources,
    namespaces,
    nonResourceURLs,
    // The policy's omitStages apply to every rule (kube unions them at load time).
    omitStages: [...new Set([...stages(raw, path), ...policyStages])],
    ...(typeof raw.omitManagedFields === 'boolean' ? { omitManagedFields: raw.omitManagedFields } : {}),
  };
}

/** Parses and validates a Policy document (YAML or JSON). */
export function parseAuditPolicy(text: string): AuditPolicy {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
  if (docs.length !== 1 || !isRecord(docs[0])) throw new Error('the audit policy file must hold one Policy object');
  const p = docs[0];
  if (p.kind !== 'Policy' || (p.apiVersion !== 'audit.k8s.io/v1' && p.apiVersion !== 'audit.k8s.io/v1beta1')) {
    throw new Error(`the audit policy file holds ${String(p.apiVersion)} ${String(p.kind)}, not an audit.k8s.io/v1 Policy`);
  }
  const omitStages = stages(p, 'policy');
  if (!Array.isArray(p.rules) || p.rules.length === 0) throw new Error('loaded illegal policy with 0 rules');
  if (p.omitManagedFields !== undefined && typeof p.omitManagedFields !== 'boolean') throw new Error('policy.omitManagedFields: must be a boolean');
  return { rules: p.rules.map((r, i) => rule(r, i, omitStages)), omitStages, omitManagedFields: p.omitManagedFields === true };
}

export async function loadAuditPolicy(path: string): Promise<AuditPolicy> {
  try {
    return parseAuditPolicy(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`--audit-policy-file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function pathMatches(path: string, spec: string): boolean {
  return spec === '*' || spec === path || (spec.endsWith('*') && path.startsWith(spec.replace(/\*+$/, '')));
}

function resourceMatches(r: PolicyRule, a: Attributes): boolean {
  if (!a.resourceRequest) return false;
  if (r.namespaces.length && !r.namespaces.includes(a.namespace)) return false;
  if (r.resources.length === 0) return true;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  for (const gr of r.resources) {
    if (gr.group !== a.apiGroup) continue;
    if (gr.resources.length === 0) return true;
    if (gr.resourceNames.length && !gr.resourceNames.includes(a.name)) continue;
    for (const res of gr.resources) {
      if (res === combined || res === '*') return true;
      if (a.subresource && res.startsWith('*/') && res.slice(2) === a.subresource) return true;
      if (res.endsWith('/*') && res.slice(0, -2) === a.resource) return true;
    }
  }
  return false;
}

/** ruleMatches: every field the rule sets must match. */
export function ruleMatches(r: PolicyRule, a: Attributes): boolean {
  if (r.users.length && !r.users.includes(a.user.name)) return false;
  if (r.userGroups.length && !a.user.groups.some((g) => r.userGroups.includes(g))) return false;
  if (r.verbs.length && !r.verbs.includes(a.verb)) return false;
  if (r.namespaces.length || r.resources.length) return resourceMatches(r, a);
  if (r.nonResourceURLs.length) return !a.resourceRequest && r.nonResourceURLs.some((u) => pathMatches(a.path, u));
  return true;
}

/** The first matching rule's decision, or level None with the policy's stages and managed-fields setting. */
export function evaluatePolicy(p: AuditPolicy, a: Attributes): AuditDecision {
  for (const r of p.rules) {
    if (ruleMatches(r, a)) return { level: r.level, omitStages: r.omitStages, omitManagedFields: r.omitManagedFields ?? p.omitManagedFields };
  }
  return { level: 'None', omitStages: p.omitStages, omitManagedFields: p.omitManagedFields };
}
