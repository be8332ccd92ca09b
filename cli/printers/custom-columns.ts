// -o custom-columns=HEADER:.path,... and -o custom-columns-file=FILE (a header line, then a line of paths).
import { readFileSync } from 'node:fs';
import { CliError } from '../errors.js';
import { JsonPath, printValue } from './jsonpath.js';
import { formatColumns } from './table.js';

export interface CustomColumn {
  header: string;
  path: JsonPath;
}

export function parseCustomColumns(spec: string): CustomColumn[] {
  if (!spec) throw new CliError('custom-columns format specified but no custom columns given');
  return spec.split(',').map((part) => {
    const i = part.indexOf(':');
    if (i < 0) throw new CliError(`unexpected custom-columns spec: ${part}, expected <header>:<json-path-expr>`);
    return { header: part.slice(0, i), path: new JsonPath(relaxed(part.slice(i + 1))) };
  });
}

export function parseCustomColumnsFile(path: string): CustomColumn[] {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim());
  const headers = lines[0]?.trim().split(/\s+/) ?? [];
  const paths = lines[1]?.trim().split(/\s+/) ?? [];
  if (headers.length !== paths.length) throw new CliError(`expected ${headers.length} columns, found ${paths.length}`);
  return headers.map((header, i) => ({ header, path: new JsonPath(relaxed(paths[i]!)) }));
}

/** `.a.b` and `a.b` become `{.a.b}`, as kubectl's RelaxedJSONPathExpression. */
function relaxed(p: string): string {
  let s = p.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  if (!s.startsWith('.') && !s.startsWith('$') && !s.startsWith('[')) s = '.' + s;
  return `{${s}}`;
}

export function printCustomColumns(cols: CustomColumn[], objs: unknown[], noHeaders: boolean): string {
  const rows: string[][] = noHeaders ? [] : [cols.map((c) => c.header)];
  for (const o of objs) {
    rows.push(
      cols.map((c) => {
        const v = c.path.values(o).filter((x) => x !== undefined && x !== null);
        return v.length ? v.map(printValue).join(',') : '<none>';
      }),
    );
  }
  return formatColumns(rows);
}
