// PolicyRule semantics as kube's pkg/apis/rbac/v1/evaluation_helpers.go and component-helpers' policy_comparator.go:
// matching a request against a rule (compiled once per role so the hot path allocates nothing), whether some rules
// cover others (escalation checks, reconciliation), and the compact form used in escalation messages.
import type { PolicyRule } from '../../../api/schemas/rbac.js';
import type { Attributes } from '../types.js';

const ALL = '*';
const SLASH = 47;
const STAR = 42;

/** A rule prepared for matching: wildcard flags found once, URL prefixes cut once. */
export interface CompiledRule {
  readonly rule: PolicyRule;
  readonly verbs: readonly string[];
  readonly verbAll: boolean;
  readonly groups: readonly string[];
  readonly groupAll: boolean;
  readonly resources: readonly string[];
  readonly resourceAll: boolean;
  readonly names: readonly string[];
  readonly urls: readonly string[];
  readonly urlAll: boolean;
  /** For each URL ending in '*': the prefix it matches (trailing '*'s cut, as strings.TrimRight). */
  readonly urlPrefixes: readonly string[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export function compileRule(rule: PolicyRule): CompiledRule {
  const verbs = strings(rule.verbs);
  const groups = strings(rule.apiGroups);
  const resources = strings(rule.resources);
  const urls = strings(rule.nonResourceURLs);
  return {
    rule,
    verbs,
    verbAll: verbs.includes(ALL),
    groups,
    groupAll: groups.includes(ALL),
    resources,
    resourceAll: resources.includes(ALL),
    names: strings(rule.resourceNames),
    urls,
    urlAll: urls.includes(ALL),
    urlPrefixes: urls.filter((u) => u.endsWith(ALL)).map((u) => u.replace(/\*+$/, '')),
  };
}

export const compileRules = (rules: readonly PolicyRule[] | undefined): CompiledRule[] => (rules ?? []).map(compileRule);

function resourceMatches(c: CompiledRule, resource: string, sub: string): boolean {
  if (c.resourceAll) return true;
  const rs = c.resources;
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i]!;
    if (sub === '') {
      if (r === resource) return true;
      continue;
    }
    // r === `${resource}/${sub}` without building the string.
    if (r.length === resource.length + 1 + sub.length && r.charCodeAt(resource.length) === SLASH && r.startsWith(resource) && r.endsWith(sub)) return true;
    // `*/sub`: any resource's subresource.
    if (r.length === sub.length + 2 && r.charCodeAt(0) === STAR && r.charCodeAt(1) === SLASH && r.endsWith(sub)) return true;
  }
  return false;
}

function urlMatches(c: CompiledRule, path: string): boolean {
  if (c.urlAll) return true;
  if (c.urls.includes(path)) return true;
  const ps = c.urlPrefixes;
  for (let i = 0; i < ps.length; i++) if (path.startsWith(ps[i]!)) return true;
  return false;
}

/** RuleAllows: whether one rule grants the request. */
export function compiledRuleAllows(a: Attributes, c: CompiledRule): boolean {
  if (!c.verbAll && !c.verbs.includes(a.verb)) return false;
  if (!a.resourceRequest) return urlMatches(c, a.path);
  return (
    (c.groupAll || c.groups.includes(a.apiGroup)) &&
    resourceMatches(c, a.resource, a.subresource) &&
    (c.names.length === 0 || c.names.includes(a.name))
  );
}

/** For callers with plain rules (tests, the Node authorizer's fixed rules compile theirs once). */
export const ruleAllows = (a: Attributes, rule: PolicyRule): boolean => compiledRuleAllows(a, compileRule(rule));

export function compiledRulesAllow(a: Attributes, rules: readonly CompiledRule[]): boolean {
  for (let i = 0; i < rules.length; i++) if (compiledRuleAllows(a, rules[i]!)) return true;
  return false;
}

// ---- coverage (escalation checks, reconciliation) ----

/** Splits a rule into rules of one group, resource, verb and resource name each (URLs: one URL and verb each). */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  const names = strings(rule.resourceNames);
  for (const group of strings(rule.apiGroups)) {
    for (const resource of strings(rule.resources)) {
      for (const verb of strings(rule.verbs)) {
        if (names.length) for (const n of names) out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [n] });
        else out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
      }
    }
  }
  for (const url of strings(rule.nonResourceURLs)) for (const verb of strings(rule.verbs)) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

const hasAll = (set: readonly string[], wanted: readonly string[]): boolean => wanted.every((w) => set.includes(w));

function resourcesCovered(owner: readonly string[], wanted: readonly string[]): boolean {
  if (owner.includes(ALL) || hasAll(owner, wanted)) return true;
  return wanted.every((r) => {
    if (owner.includes(r)) return true;
    const slash = r.indexOf('/');
    return slash >= 0 && owner.includes(`*/${r.slice(slash + 1)}`);
  });
}

const urlCovers = (owner: string, path: string): boolean => owner === path || (owner.endsWith(ALL) && path.startsWith(owner.replace(/\*+$/, '')));

/** Whether one owner rule covers a broken-down rule (at most one verb, resource and name). */
function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const ov = strings(owner.verbs);
  const og = strings(owner.apiGroups);
  const on = strings(owner.resourceNames);
  const sn = strings(sub.resourceNames);
  const verbs = ov.includes(ALL) || hasAll(ov, strings(sub.verbs));
  const groups = og.includes(ALL) || hasAll(og, strings(sub.apiGroups));
  const resources = resourcesCovered(strings(owner.resources), strings(sub.resources));
  const urls = strings(sub.nonResourceURLs).every((p) => strings(owner.nonResourceURLs).some((o) => urlCovers(o, p)));
  const names = sn.length === 0 ? on.length === 0 : on.length === 0 || hasAll(on, sn);
  return verbs && groups && resources && urls && names;
}

/** Covers: whether the owner rules grant everything the servant rules do; the parts they do not, broken down. */
export function covers(owner: readonly PolicyRule[], servant: readonly PolicyRule[]): { covered: boolean; missing: PolicyRule[] } {
  const missing = servant.flatMap(breakdownRule).filter((sub) => !owner.some((o) => ruleCovers(o, sub)));
  return { covered: missing.length === 0, missing };
}

/** Merges broken-down rules that differ only by verb (CompactRules), for a readable missing-rights list. */
export function compactRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  const simple = new Map<string, PolicyRule>();
  for (const r of rules) {
    const isSimple =
      !r.resourceNames?.length && !r.nonResourceURLs?.length && r.apiGroups?.length === 1 && r.resources?.length === 1 && Object.keys(r).every((k) => ['apiGroups', 'resources', 'verbs'].includes(k));
    if (!isSimple) {
      out.push(r);
      continue;
    }
    const key = `${r.apiGroups![0]!}\u0000${r.resources![0]!}`;
    const seen = simple.get(key);
    if (seen) seen.verbs = [...seen.verbs, ...(r.verbs ?? [])];
    else simple.set(key, { apiGroups: [...r.apiGroups!], resources: [...r.resources!], verbs: [...(r.verbs ?? [])] });
  }
  return [...out, ...simple.values()];
}

/** Go's %q of a []string: ["a" "b"]. */
export const goQuoteList = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`, the form of escalation messages. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  const add = (label: string, v: readonly string[] | undefined): void => {
    if (v?.length) parts.push(`${label}:${goQuoteList(v)}`);
  };
  add('APIGroups', r.apiGroups);
  add('Resources', r.resources);
  add('NonResourceURLs', r.nonResourceURLs);
  add('ResourceNames', r.resourceNames);
  add('Verbs', r.verbs);
  return `{${parts.join(', ')}}`;
}
