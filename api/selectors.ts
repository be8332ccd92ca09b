// Label selectors: matching (controllers, scheduler, list filtering), and the string form used by
// `?labelSelector=` and Scale.status.selector (`app=web,tier in (a,b),!canary`).
import type { LabelSelector, LabelSelectorRequirement } from './schemas/meta.js';

export type Labels = Record<string, string> | undefined;

function requirementMatches(r: LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(v ?? '');
    case 'NotIn':
      return !has || !values.includes(v ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      const n = Number(v);
      const bound = Number(values[0]);
      if (!has || values.length !== 1 || !Number.isInteger(n) || !Number.isInteger(bound)) return false;
      return r.operator === 'Gt' ? n > bound : n < bound;
    }
    default:
      return false;
  }
}

/**
 * Whether `labels` satisfy `selector`. An empty selector ({}) matches everything; an absent one
 * (undefined) matches nothing, as metav1.LabelSelectorAsSelector.
 */
export function matchesLabelSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((r) => requirementMatches(r, l));
}

/** True for a selector that selects everything: no matchLabels and no matchExpressions. */
export function isEmptySelector(selector: LabelSelector | undefined): boolean {
  return !!selector && Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}

/** A label map as an equality selector, keys sorted (labels.SelectorFromSet(...).String()): `a=b,c=d`. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  return Object.keys(labels ?? {})
    .sort()
    .map((k) => `${k}=${labels![k]}`)
    .join(',');
}

/** The string form: `a=b,c in (x,y),!d`. */
export function formatLabelSelector(selector: LabelSelector): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) {
    const values = [...(r.values ?? [])].sort().join(',');
    switch (r.operator) {
      case 'In':
        parts.push(`${r.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${r.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(r.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${r.key}`);
        break;
      case 'Gt':
        parts.push(`${r.key}>${values}`);
        break;
      case 'Lt':
        parts.push(`${r.key}<${values}`);
        break;
    }
  }
  return parts.join(',');
}

export class SelectorParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorParseError';
  }
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

/** Parses the string form (`?labelSelector=`) into a LabelSelector; throws SelectorParseError. */
export function parseLabelSelector(s: string): LabelSelector {
  const matchExpressions: LabelSelectorRequirement[] = [];
  for (const term of splitTerms(s)) {
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=<>()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term))) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
      matchExpressions.push({ key: m[1] ?? '', operator: m[2] === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = /^([^\s!=<>()]+)\s*(==|!=|=)\s*([^\s!=<>(),]*)$/.exec(term))) {
      const op = m[2] === '!=' ? 'NotIn' : 'In';
      matchExpressions.push({ key: m[1] ?? '', operator: op, values: [m[3] ?? ''] });
    } else if ((m = /^([^\s!=<>()]+)\s*([<>])\s*(-?\d+)$/.exec(term))) {
      matchExpressions.push({ key: m[1] ?? '', operator: m[2] === '>' ? 'Gt' : 'Lt', values: [m[3] ?? ''] });
    } else if ((m = /^!\s*([^\s!=<>()]+)$/.exec(term))) {
      matchExpressions.push({ key: m[1] ?? '', operator: 'DoesNotExist' });
    } else if ((m = /^([^\s!=<>()]+)$/.exec(term))) {
      matchExpressions.push({ key: m[1] ?? '', operator: 'Exists' });
    } else {
      throw new SelectorParseError(`unable to parse requirement: ${JSON.stringify(term)}`);
    }
  }
  return matchExpressions.length ? { matchExpressions } : {};
}
