// `ketch get`: tables as the server renders them (the columns kubectl shows), or -o yaml|json|name|jsonpath|custom-columns;
// -l, --field-selector, -A, --show-labels, -L, --sort-by, and -w (watch).
import type { Command } from 'commander';
import { readWatchEvents, type ObjectLike } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { readManifests } from '../manifests.js';
import { JsonPath, printValue } from '../printers/jsonpath.js';
import { OUTPUT_HELP, parseOutput, printObjects, type OutputFormat } from '../printers/index.js';
import { formatColumns, tableRows, type ServerTable, type TableOptions } from '../printers/table.js';
import { toYaml } from '../printers/data.js';
import { kindPrefix, parseTargets, type ApiResource, type Target } from '../resources.js';
import { noResources, withKind } from '../select.js';

export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

interface GetFlags {
  output?: string;
  selector?: string;
  fieldSelector?: string;
  allNamespaces?: boolean;
  watch?: boolean;
  watchOnly?: boolean;
  outputWatchEvents?: boolean;
  showLabels?: boolean;
  labelColumns?: string[];
  noHeaders?: boolean;
  sortBy?: string;
  ignoreNotFound?: boolean;
  filename?: string[];
  recursive?: boolean;
  chunkSize: string;
  showKind?: boolean;
}

export function register(program: Command): void {
  program
    .command('get')
    .description('display one or many resources')
    .argument('[args...]', 'TYPE[,TYPE...] [NAME...] or TYPE/NAME...')
    .option('-o, --output <format>', OUTPUT_HELP)
    .option('-l, --selector <selector>', 'label selector (e.g. -l key1=value1,key2=value2)')
    .option('--field-selector <selector>', 'field selector (e.g. --field-selector status.phase=Running)')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-w, --watch', 'after listing, watch for changes')
    .option('--watch-only', 'watch for changes without listing first')
    .option('--output-watch-events', 'add the event type (ADDED, MODIFIED, DELETED) to watch output')
    .option('--show-labels', 'show all labels as the last column')
    .option('-L, --label-columns <keys...>', 'one column per label key')
    .option('--no-headers', "don't print headers")
    .option('--sort-by <jsonpath>', 'sort by a field, e.g. .metadata.name')
    .option('--ignore-not-found', "don't report objects that don't exist")
    .option('--show-kind', 'prefix names with the resource type')
    .option('-f, --filename <file...>', 'files identifying the resources to get')
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option('--chunk-size <n>', 'list in pages of this size (0: one request)', '500')
    .action(async (args: string[], flags: GetFlags, cmd: Command) => {
      await get(cliOf(cmd), args, flags);
    });
}

async function targetsOf(cli: Cli, args: string[], flags: GetFlags): Promise<Target[]> {
  const resolver = await cli.resolver();
  if (flags.filename?.length) {
    const ms = await readManifests(cli.io, flags.filename, flags.recursive, 'get');
    return ms.map((m) => {
      const res = resolver.byKind(m.obj.apiVersion ?? '', m.obj.kind ?? '');
      if (!res) throw new CliError(`no matches for kind "${m.obj.kind}" in version "${m.obj.apiVersion}"`);
      return { res, name: m.obj.metadata?.name ?? '' };
    });
  }
  if (!args.length) {
    throw new CliError(
      'You must specify the type of resource to get. Use "ketch api-resources" for a complete list of supported resources.',
    );
  }
  return parseTargets(resolver, args);
}

/** Consecutive targets of one resource type, each printed as one table. */
function groupByResource(targets: Target[]): { res: ApiResource; names: string[] | undefined }[] {
  const groups: { res: ApiResource; names: string[] | undefined }[] = [];
  for (const t of targets) {
    const last = groups.at(-1);
    if (last && last.res === t.res && last.names && t.name !== undefined) last.names.push(t.name);
    else groups.push({ res: t.res, names: t.name === undefined ? undefined : [t.name] });
  }
  return groups;
}

export async function get(cli: Cli, args: string[], flags: GetFlags): Promise<void> {
  const fmt = parseOutput(flags.output);
  const targets = await targetsOf(cli, args, flags);
  const groups = groupByResource(targets);
  const multi = new Set(groups.map((g) => g.res)).size > 1 || (args[0] ?? '').split(',').some((a) => a === 'all') || !!flags.showKind;
  const anyNamed = groups.some((g) => g.names);
  if (flags.watch || flags.watchOnly) {
    if (groups.length !== 1) throw new CliError('you may only specify a single resource type');
    await watch(cli, groups[0]!.res, groups[0]!.names, fmt, flags);
    return;
  }
  if (fmt.kind === 'table') {
    const blocks: string[] = [];
    let empty = true;
    let sharedNamespace = true;
    for (const g of groups) {
      const table = await fetchTable(cli, g.res, g.names, flags);
      if (!table || !table.rows?.length) continue;
      empty = false;
      if (!g.res.namespaced) sharedNamespace = false;
      if (flags.sortBy) sortRows(table, flags.sortBy);
      const opts: TableOptions = {
        wide: fmt.wide,
        showLabels: !!flags.showLabels,
        labelColumns: flags.labelColumns ?? [],
        withNamespace: !!flags.allNamespaces && g.res.namespaced,
        noHeaders: !!flags.noHeaders,
        ...(multi ? { kindPrefix: kindPrefix(g.res) } : {}),
      };
      blocks.push(formatColumns(tableRows(table, opts)));
    }
    if (blocks.length) cli.out(blocks.join('\n'));
    if (empty && !anyNamed) cli.err(noResources(cli, sharedNamespace && groups.every((g) => g.res.namespaced), flags.allNamespaces));
    return;
  }
  const objs: ObjectLike[] = [];
  for (const g of groups) objs.push(...(await fetchObjects(cli, g.res, g.names, flags)));
  if (flags.sortBy) sortObjects(objs, flags.sortBy);
  const single = groups.length === 1 && groups[0]!.names?.length === 1;
  if (!objs.length && !anyNamed && fmt.kind !== 'json' && fmt.kind !== 'yaml') {
    cli.err(noResources(cli, groups.every((g) => g.res.namespaced), flags.allNamespaces));
    return;
  }
  if (!objs.length && single) return;
  cli.io.stdout.write(printObjects(fmt, objs, !single, !!flags.noHeaders));
}

function listQuery(flags: GetFlags): Record<string, string | undefined> {
  return { labelSelector: flags.selector, fieldSelector: flags.fieldSelector };
}

/** The server's Table for the named objects, or for a list (paged, rows merged). */
async function fetchTable(cli: Cli, res: ApiResource, names: string[] | undefined, flags: GetFlags): Promise<ServerTable | undefined> {
  const c = cli.client(res);
  const include = flags.sortBy ? 'Object' : 'Metadata';
  if (names) {
    let table: ServerTable | undefined;
    for (const name of names) {
      try {
        const t = await cli.rest.request<ServerTable>('GET', c.path(cli.nsFor(res), name), { accept: TABLE_ACCEPT, query: { includeObject: include } });
        if (!table) table = t;
        else table.rows = [...(table.rows ?? []), ...(t.rows ?? [])];
      } catch (e) {
        if (!(flags.ignoreNotFound && (e as { code?: number }).code === 404)) cli.fail(e);
      }
    }
    return table;
  }
  const ns = res.namespaced && !flags.allNamespaces ? cli.namespace : undefined;
  const limit = Number(flags.chunkSize) || undefined;
  let table: ServerTable | undefined;
  let cont: string | undefined;
  do {
    const t: ServerTable = await cli.rest.request<ServerTable>('GET', c.path(ns), {
      accept: TABLE_ACCEPT,
      query: { ...listQuery(flags), includeObject: include, limit, continue: cont },
    });
    if (!table) table = t;
    else table.rows = [...(table.rows ?? []), ...(t.rows ?? [])];
    cont = t.metadata?.continue;
  } while (cont);
  return table;
}

async function fetchObjects(cli: Cli, res: ApiResource, names: string[] | undefined, flags: GetFlags): Promise<ObjectLike[]> {
  const c = cli.client(res);
  if (names) {
    const out: ObjectLike[] = [];
    for (const name of names) {
      try {
        out.push(withKind(await c.get(cli.nsFor(res), name), res));
      } catch (e) {
        if (!(flags.ignoreNotFound && (e as { code?: number }).code === 404)) cli.fail(e);
      }
    }
    return out;
  }
  const ns = res.namespaced && !flags.allNamespaces ? cli.namespace : undefined;
  const list = await c.listAll(ns, { ...(flags.selector ? { labelSelector: flags.selector } : {}), ...(flags.fieldSelector ? { fieldSelector: flags.fieldSelector } : {}) }, Number(flags.chunkSize) || 500);
  return list.items.map((o) => withKind(o, res));
}

function sortKey(path: JsonPath, o: unknown): unknown {
  return path.values(o)[0];
}

function compareValues(a: unknown, b: unknown): number {
  if (a === undefined) return b === undefined ? 0 : -1;
  if (b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = printValue(a);
  const y = printValue(b);
  // Quantities such as 100m or 1Gi sort by value when both parse.
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortRows(t: ServerTable, sortBy: string): void {
  const p = new JsonPath(sortBy.includes('{') ? sortBy : `{${sortBy.startsWith('.') ? sortBy : '.' + sortBy}}`);
  t.rows?.sort((a, b) => compareValues(sortKey(p, a.object), sortKey(p, b.object)));
}

function sortObjects(objs: ObjectLike[], sortBy: string): void {
  const p = new JsonPath(sortBy.includes('{') ? sortBy : `{${sortBy.startsWith('.') ? sortBy : '.' + sortBy}}`);
  objs.sort((a, b) => compareValues(sortKey(p, a), sortKey(p, b)));
}

/** -w: the current state (unless --watch-only), then one line (or document) per change until interrupted. */
async function watch(cli: Cli, res: ApiResource, names: string[] | undefined, fmt: OutputFormat, flags: GetFlags): Promise<void> {
  if (names && names.length > 1) throw new CliError('watch is only supported on individual resources and resource collections, but 2 resources were found');
  const ns = res.namespaced && !flags.allNamespaces ? (names ? cli.nsFor(res) : cli.namespace) : undefined;
  const c = cli.client(res);
  const fieldSelector = [flags.fieldSelector, names ? `metadata.name=${names[0]}` : undefined].filter(Boolean).join(',');
  const query = { labelSelector: flags.selector, fieldSelector: fieldSelector || undefined };
  const opts: TableOptions = {
    wide: fmt.kind === 'table' && fmt.wide,
    showLabels: !!flags.showLabels,
    labelColumns: flags.labelColumns ?? [],
    withNamespace: !!flags.allNamespaces && res.namespaced,
  };
  let widths: number[] = [];
  const printRows = (rows: string[][], event?: string): void => {
    const withEvent = flags.outputWatchEvents ? rows.map((r, i) => [i === 0 && !event ? 'EVENT' : (event ?? ''), ...r]) : rows;
    for (const r of withEvent) r.forEach((cell, i) => i < r.length - 1 && (widths[i] = Math.max(widths[i] ?? 0, cell.length + 3, 6)));
    cli.io.stdout.write(withEvent.map((r) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell)).join('') + '\n').join(''));
  };
  let rv: string | undefined;
  let headerDone = !!flags.noHeaders;
  if (fmt.kind === 'table') {
    const t = await cli.rest.request<ServerTable>('GET', c.path(ns), { accept: TABLE_ACCEPT, query });
    rv = t.metadata?.resourceVersion;
    const rows = tableRows(flags.watchOnly ? { ...t, rows: [] } : t, opts, !headerDone);
    widths = [];
    if (rows.length) printRows(rows);
    headerDone = true;
  } else {
    const list = await c.list(ns, { ...(query.labelSelector ? { labelSelector: query.labelSelector } : {}), ...(query.fieldSelector ? { fieldSelector: query.fieldSelector } : {}) });
    rv = list.metadata.resourceVersion;
    if (!flags.watchOnly) for (const o of list.items) printWatched(cli, fmt, withKind(o, res), undefined, flags);
  }
  // Watch with Table rows for table output; the stream reconnects from the last revision until interrupted.
  for (;;) {
    const stream = await cli.rest.open('GET', c.path(ns), {
      accept: fmt.kind === 'table' ? TABLE_ACCEPT : 'application/json',
      query: { ...query, watch: 'true', resourceVersion: rv, allowWatchBookmarks: 'true' },
    });
    for await (const ev of readWatchEvents<ServerTable & ObjectLike & { code?: number; message?: string }>(stream)) {
      if (ev.type === 'ERROR') throw new CliError(ev.object.message ?? 'watch failed');
      if (ev.type === 'BOOKMARK') {
        rv = ev.object.metadata?.resourceVersion ?? rv;
        continue;
      }
      if (fmt.kind === 'table') {
        const t = ev.object;
        rv = t.metadata?.resourceVersion ?? t.rows?.[0]?.object?.metadata?.resourceVersion ?? rv;
        const rows = tableRows(t, opts, !headerDone);
        headerDone = true;
        printRows(rows, ev.type);
      } else {
        rv = ev.object.metadata?.resourceVersion ?? rv;
        printWatched(cli, fmt, withKind(ev.object, res), ev.type, flags);
      }
    }
  }
}

function printWatched(cli: Cli, fmt: OutputFormat, o: ObjectLike, type: string | undefined, flags: GetFlags): void {
  if (flags.outputWatchEvents && (fmt.kind === 'json' || fmt.kind === 'yaml')) {
    const ev = { type: type ?? 'ADDED', object: o };
    cli.io.stdout.write(fmt.kind === 'yaml' ? `---\n${toYaml(ev)}` : JSON.stringify(ev, null, 4) + '\n');
    return;
  }
  cli.io.stdout.write(fmt.kind === 'yaml' ? `---\n${printObjects(fmt, [o], false)}` : printObjects(fmt, [o], false));
}
