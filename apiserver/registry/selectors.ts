// Query selectors: labelSelector (parsing and matching from api/selectors) and fieldSelector, matched against objects.
import { errors, formatLabelSelector, matchesLabelSelector, parseLabelSelector, SelectorParseError, type Labels, type LabelSelector } from '../../api/index.js';

/** A matcher for `?labelSelector=` (parsed by api/selectors); a malformed selector is a 400. */
export function labelMatcher(sel: string | undefined | null): ((labels: Labels) => boolean) | undefined {
  if (!sel) return undefined;
  let parsed: LabelSelector;
  try {
    parsed = parseLabelSelector(sel);
  } catch (err) {
    if (err instanceof SelectorParseError) throw errors.badRequest(`unable to parse labelSelector ${JSON.stringify(sel)}: ${err.message}`);
    throw err;
  }
  return (labels) => matchesLabelSelector(parsed, labels);
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** Field selector values may escape `\,` `\=` `\\`. */
export function parseFieldSelector(sel: string | undefined | null): FieldRequirement[] {
  if (!sel) return [];
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < sel.length; i++) {
    const c = sel[i];
    if (c === '\\' && i + 1 < sel.length) {
      cur += c + sel[++i];
    } else if (c === ',') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => {
      const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(p);
      if (!m) throw errors.badRequest(`invalid selector: '${sel}'; can't understand '${p}'`);
      return { field: (m[1] ?? '').trim(), op: m[2] === '!=' ? '!=' : '=', value: (m[3] ?? '').replace(/\\(.)/g, '$1') };
    });
}

/** fields: the selectable field values of one object (strategy.fieldsOf). */
export function matchFields(reqs: FieldRequirement[], fields: Record<string, string>): boolean {
  // A loop, not every(): run for each selecting watcher on each change.
  for (let i = 0; i < reqs.length; i++) {
    const r = reqs[i]!;
    const v = fields[r.field] ?? '';
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}

/** Rejects selectors on fields the kind does not support, like kube-apiserver does (400). */
export function checkFieldsSupported(reqs: FieldRequirement[], supported: ReadonlySet<string>): void {
  for (const r of reqs) {
    if (!supported.has(r.field)) throw errors.badRequest(`field label not supported: ${r.field}`);
  }
}

/** A LabelSelector object printed as a selector string, '<none>' when absent or empty (kubectl's table cells). */
export function selectorCell(sel: unknown): string {
  if (!sel || typeof sel !== 'object') return '<none>';
  return formatLabelSelector(sel as LabelSelector) || '<none>';
}
