// Aligned columns as kubectl prints them (Go's tabwriter: min width 6, padding 3, the last column unpadded),
// and the server's meta/v1 Table turned into such rows.
import type { ObjectLike } from '../../client/rest.js';

export interface TableColumn {
  name: string;
  type?: string;
  format?: string;
  priority?: number;
}

export interface TableRow {
  cells: unknown[];
  object?: ObjectLike;
}

export interface ServerTable {
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumn[] | null;
  rows: TableRow[] | null;
}

export function formatColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => i < r.length - 1 && (widths[i] = Math.max(widths[i] ?? 0, Math.max(6, width(c) + 3))));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c + ' '.repeat((widths[i] ?? 0) - width(c)) : c)).join('')).join('\n') + (rows.length ? '\n' : '');
}

// eslint-disable-next-line no-control-regex
const width = (s: string): number => [...s.replace(/\u001b\[[0-9;]*m/g, '')].length;

export interface TableOptions {
  wide?: boolean;
  showLabels?: boolean;
  /** -L: one column per label key. */
  labelColumns?: string[];
  /** -A: a NAMESPACE column first. */
  withNamespace?: boolean;
  /** Prefix names with `pod/` (several resource types in one get). */
  kindPrefix?: string;
  noHeaders?: boolean;
}

export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '<none>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The header and rows of a server Table, as string cells. */
export function tableRows(t: ServerTable, opts: TableOptions, withHeader = !opts.noHeaders): string[][] {
  const cols = (t.columnDefinitions ?? []).map((c, i) => ({ c, i })).filter(({ c }) => opts.wide || !c.priority);
  const nameIdx = (t.columnDefinitions ?? []).findIndex((c) => c.format === 'name');
  const out: string[][] = [];
  if (withHeader) {
    const h = cols.map(({ c }) => c.name.toUpperCase());
    for (const l of opts.labelColumns ?? []) h.push(l.split('/').pop()!.toUpperCase());
    if (opts.showLabels) h.push('LABELS');
    out.push(opts.withNamespace ? ['NAMESPACE', ...h] : h);
  }
  for (const row of t.rows ?? []) {
    const labels = row.object?.metadata?.labels ?? {};
    const cells = cols.map(({ i }) => {
      const s = cellText(row.cells[i]);
      return i === nameIdx && opts.kindPrefix ? `${opts.kindPrefix}/${s}` : s;
    });
    for (const l of opts.labelColumns ?? []) cells.push(labels[l] ?? '');
    if (opts.showLabels) cells.push(formatLabels(labels));
    out.push(opts.withNamespace ? [row.object?.metadata?.namespace ?? '', ...cells] : cells);
  }
  return out;
}

export function formatLabels(labels: Record<string, string> | undefined): string {
  const e = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}
