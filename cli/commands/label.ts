// `ketch label`: add (key=value), change (--overwrite) or remove (key-) labels; `annotate` shares the machinery.
import type { Command } from 'commander';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun } from '../flags.js';
import { objectName, parseOutput, printObjects } from '../printers/index.js';
import { addSelectFlags, selectInfos, withKind, type SelectFlags } from '../select.js';

interface MetaFlags extends SelectFlags {
  overwrite?: boolean;
  list?: boolean;
  resourceVersion?: string;
  dryRun?: string | boolean;
  output?: string;
}

type Field = 'labels' | 'annotations';

export function register(program: Command): void {
  registerMetaVerb(program, 'label', 'labels', 'labeled');
}

export function registerMetaVerb(program: Command, verb: string, field: Field, past: string): void {
  addSelectFlags(program.command(verb).description(`update the ${field} of resources`), verb, { all: true, fieldSelector: true })
    .argument('<args...>', `TYPE NAME... KEY_1=VAL_1 ... KEY_N- (or TYPE/NAME)`)
    .option('--overwrite', `allow ${field} to be changed, not only added`)
    .option('--list', `print the current ${field}`)
    .option('--resource-version <rv>', 'only update if the resource is at this version')
    .option('--dry-run [mode]', 'none, client or server')
    .option('-o, --output <format>', 'json, yaml, name, ...')
    .action(async (args: string[], flags: MetaFlags, cmd: Command) => {
      await updateMeta(cliOf(cmd), args, flags, field, verb, past);
    });
}

/** Splits `pods web a=b c-` into resource args and changes. */
export function parseChanges(args: string[], verb: string): { resources: string[]; set: Record<string, string>; remove: string[] } {
  const resources: string[] = [];
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) set[a.slice(0, eq)] = a.slice(eq + 1);
    else if (a.endsWith('-') && a.length > 1 && (resources.length > 0)) remove.push(a.slice(0, -1));
    else if (Object.keys(set).length || remove.length) throw new CliError(`all resources must be specified before ${verb} changes: ${a}`);
    else resources.push(a);
  }
  for (const k of remove) if (k in set) throw new CliError(`can not both modify and remove the following ${verb === 'label' ? 'label' : 'annotation'}(s) in the same command: ${k}`);
  for (const k of Object.keys(set)) {
    if (verb === 'label' && !/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(k)) throw new CliError(`invalid label spec: ${k}=${set[k]}`);
  }
  return { resources, set, remove };
}

async function updateMeta(cli: Cli, args: string[], flags: MetaFlags, field: Field, verb: string, past: string): Promise<void> {
  const { resources, set, remove } = parseChanges(args, verb);
  if (!flags.list && !Object.keys(set).length && !remove.length) throw new CliError(`at least one ${field === 'labels' ? 'label' : 'annotation'} update is required`);
  const dryRun = parseDryRun(flags.dryRun);
  const fmt = flags.output ? parseOutput(flags.output) : undefined;
  const infos = await selectInfos(cli, resources, flags, { fetch: true, verb });
  for (const info of infos) {
    const obj = info.obj ?? {};
    const cur = obj.metadata?.[field] ?? {};
    if (flags.list) {
      for (const [k, v] of Object.entries(cur)) cli.out(`${k}=${v}`);
      continue;
    }
    try {
      if (!flags.overwrite) {
        for (const [k, v] of Object.entries(set)) {
          if (k in cur && cur[k] !== v) throw new CliError(`'${k}' already has a value (${cur[k]}), and --overwrite is false`);
        }
      }
      const changes: Record<string, string | null> = { ...set };
      for (const k of remove) if (k in cur) changes[k] = null;
      const changed = Object.entries(changes).some(([k, v]) => (v === null ? k in cur : cur[k] !== v));
      const patch = { metadata: { [field]: changes, ...(flags.resourceVersion ? { resourceVersion: flags.resourceVersion } : {}) } };
      let out = obj;
      if (changed && dryRun !== 'client') {
        out = (await cli.client(info.res).patch(info.namespace, info.name, patch, 'merge', { query: dryRun === 'server' ? { dryRun: 'All' } : {} })) as typeof obj;
      }
      if (fmt) cli.io.stdout.write(printObjects(fmt, [withKind(out, info.res)], false));
      else cli.out(`${objectName(out, info.res)} ${changed || verb !== 'label' ? past : `not ${past}`}${dryRunSuffix(dryRun)}`);
    } catch (e) {
      cli.fail(e);
    }
  }
}
