// -o: parse the flag and print objects as yaml, json, name, jsonpath or custom-columns (tables are the get verb's).
import { readFileSync } from 'node:fs';
import type { ObjectLike } from '../../client/rest.js';
import { CliError } from '../errors.js';
import { kindPrefix, type ApiResource } from '../resources.js';
import { parseCustomColumns, parseCustomColumnsFile, printCustomColumns, type CustomColumn } from './custom-columns.js';
import { toJson, toYaml } from './data.js';
import { JsonPath } from './jsonpath.js';

export type OutputFormat =
  | { kind: 'table'; wide: boolean }
  | { kind: 'yaml' }
  | { kind: 'json' }
  | { kind: 'name' }
  | { kind: 'jsonpath'; path: JsonPath }
  | { kind: 'custom-columns'; columns: CustomColumn[] };

export const OUTPUT_HELP = 'output format: json|yaml|name|wide|jsonpath=...|jsonpath-file=...|custom-columns=...|custom-columns-file=...';

export function parseOutput(o: string | undefined, allowed: string[] = ['json', 'yaml', 'name', 'wide', 'jsonpath', 'custom-columns']): OutputFormat {
  if (!o) return { kind: 'table', wide: false };
  const eq = o.indexOf('=');
  const name = eq < 0 ? o : o.slice(0, eq);
  const arg = eq < 0 ? '' : o.slice(eq + 1);
  const base = name.replace(/-file$/, '').replace(/^jsonpath-as-json$/, 'jsonpath');
  if (!allowed.includes(base)) {
    throw new CliError(`unable to match a printer suitable for the output format "${o}", allowed formats are: ${allowed.join(',')}`);
  }
  switch (name) {
    case 'wide':
      return { kind: 'table', wide: true };
    case 'yaml':
    case 'json':
    case 'name':
      return { kind: name };
    case 'jsonpath':
    case 'jsonpath-as-json':
      if (!arg) throw new CliError('template format specified but no template given');
      return { kind: 'jsonpath', path: new JsonPath(arg) };
    case 'jsonpath-file':
      return { kind: 'jsonpath', path: new JsonPath(readFileText(arg)) };
    case 'custom-columns':
      return { kind: 'custom-columns', columns: parseCustomColumns(arg) };
    case 'custom-columns-file':
      return { kind: 'custom-columns', columns: parseCustomColumnsFile(arg) };
    default:
      throw new CliError(`unable to match a printer suitable for the output format "${o}", allowed formats are: ${allowed.join(',')}`);
  }
}

function readFileText(path: string): string {
  return readFileSync(path, 'utf8').replace(/\n$/, '');
}

/** `pod/web`, `deployment.apps/web`. */
export function objectName(o: ObjectLike, res?: Pick<ApiResource, 'group' | 'kind'>): string {
  const prefix = res ? kindPrefix(res) : kindPrefixOf(o);
  return `${prefix}/${o.metadata?.name ?? ''}`;
}

function kindPrefixOf(o: ObjectLike): string {
  const av = o.apiVersion ?? '';
  const group = av.includes('/') ? av.slice(0, av.indexOf('/')) : '';
  return kindPrefix({ group, kind: o.kind ?? '' });
}

/** What kubectl prints for objects: a single object as itself, several as a v1 List. */
export function printObjects(fmt: OutputFormat, objs: ObjectLike[], asList: boolean, noHeaders = false): string {
  const doc: unknown = asList || objs.length !== 1 ? { apiVersion: 'v1', items: objs, kind: 'List', metadata: { resourceVersion: '' } } : objs[0];
  switch (fmt.kind) {
    case 'yaml':
      return toYaml(doc);
    case 'json':
      return toJson(doc);
    case 'name':
      return objs.map((o) => objectName(o) + '\n').join('');
    case 'jsonpath':
      return fmt.path.execute(doc);
    case 'custom-columns':
      return printCustomColumns(fmt.columns, objs, noHeaders);
    case 'table':
      return objs.map((o) => objectName(o) + '\n').join('');
  }
}
