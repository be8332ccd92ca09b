// `ketch apply -f`: create or update objects from files, directories, URLs or stdin. Client-side (the default) keeps
// the last applied configuration in an annotation and sends a three-way merge patch; --server-side sends an apply patch.
// --prune -l deletes the objects of earlier applies that the files no longer hold.
import type { Command } from 'commander';
import { isNotFound } from '../../api/errors.js';
import type { ObjectLike } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun, type DryRun } from '../flags.js';
import { readManifests, type Manifest } from '../manifests.js';
import { threeWayMergePatch, type Json } from '../merge.js';
import { OUTPUT_HELP, objectName, parseOutput, printObjects } from '../printers/index.js';
import { kindPrefix, type ApiResource } from '../resources.js';
import { withKind } from '../select.js';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

interface ApplyFlags {
  filename?: string[];
  recursive?: boolean;
  serverSide?: boolean;
  forceConflicts?: boolean;
  fieldManager: string;
  prune?: boolean;
  selector?: string;
  all?: boolean;
  pruneAllowlist?: string[];
  dryRun?: string | boolean;
  output?: string;
  validate?: string;
}

/** kubectl's default prune set (core and apps kinds it knows to be safe to prune). */
const DEFAULT_PRUNE = ['/v1/ConfigMap', '/v1/Endpoints', '/v1/Namespace', '/v1/PersistentVolumeClaim', '/v1/PersistentVolume', '/v1/Pod', '/v1/ReplicationController', '/v1/Secret', '/v1/Service', 'batch/v1/Job', 'batch/v1/CronJob', 'networking.k8s.io/v1/Ingress', 'apps/v1/DaemonSet', 'apps/v1/Deployment', 'apps/v1/ReplicaSet', 'apps/v1/StatefulSet'];

export function register(program: Command): void {
  program
    .command('apply')
    .description('apply a configuration to resources from files or stdin')
    .option('-f, --filename <file...>', 'files, directories, URLs or - (stdin) holding the configuration')
    .option('-R, --recursive', 'process directories recursively')
    .option('--server-side', 'apply on the server (server-side apply)')
    .option('--force-conflicts', 'with --server-side, take ownership of fields other managers own')
    .option('--field-manager <name>', 'the name of the manager tracking field ownership', 'kubectl-client-side-apply')
    .option('--prune', 'delete objects that an earlier apply made and that are not in the files (needs -l or --all)')
    .option('-l, --selector <selector>', 'label selector for --prune')
    .option('--all', 'with --prune, consider every object of the prunable types')
    .option('--prune-allowlist <gvk...>', 'group/version/kind of the types to prune, e.g. core/v1/ConfigMap')
    .option('--dry-run [mode]', 'none, client or server')
    .option('--validate <mode>', 'strict, warn or ignore (fieldValidation)', 'strict')
    .option('-o, --output <format>', OUTPUT_HELP)
    .action(async (flags: ApplyFlags, cmd: Command) => {
      await apply(cliOf(cmd), flags, cmd.getOptionValueSource('fieldManager') === 'default');
    });
}

async function apply(cli: Cli, flags: ApplyFlags, defaultManager: boolean): Promise<void> {
  if (!flags.filename?.length) throw new CliError('must specify one of -f and -k');
  if (flags.prune && !flags.selector && !flags.all) throw new CliError('all resources selected for prune without explicitly passing --all. To prune all resources, pass the --all flag. If you did not mean to prune all resources, specify a label selector');
  if (flags.forceConflicts && !flags.serverSide) throw new CliError('--force-conflicts only works with --server-side');
  const dryRun = parseDryRun(flags.dryRun);
  const fmt = flags.output ? parseOutput(flags.output) : undefined;
  const manager = flags.serverSide && defaultManager ? 'kubectl' : flags.fieldManager;
  const manifests = await readManifests(cli.io, flags.filename, flags.recursive, 'apply');
  const resolver = await cli.resolver();
  const applied = new Set<string>();
  const visited = new Set<string>();
  const printed: ObjectLike[] = [];
  for (const m of manifests) {
    const res = resolver.byKind(m.obj.apiVersion ?? '', m.obj.kind ?? '');
    if (!res) {
      cli.fail(new CliError(`resource mapping not found for name: "${m.obj.metadata?.name ?? ''}" namespace: "${m.obj.metadata?.namespace ?? ''}" from "${m.source}": no matches for kind "${m.obj.kind}" in version "${m.obj.apiVersion}"\nensure CRDs are installed first`));
      continue;
    }
    try {
      const out = await applyOne(cli, res, m, { serverSide: !!flags.serverSide, force: !!flags.forceConflicts, manager, dryRun, validate: flags.validate ?? 'strict' });
      if (out.obj.metadata?.uid) applied.add(out.obj.metadata.uid);
      if (res.namespaced) visited.add(out.obj.metadata?.namespace ?? cli.namespace);
      if (fmt) printed.push(withKind(out.obj, res));
      else cli.out(`${kindPrefix(res)}/${m.obj.metadata?.name ?? out.obj.metadata?.name ?? ''} ${out.action}${dryRunSuffix(dryRun)}`);
    } catch (e) {
      cli.fail(e);
    }
  }
  if (fmt && printed.length) cli.io.stdout.write(printObjects(fmt, printed, printed.length > 1));
  if (flags.prune) await prune(cli, flags, applied, visited, dryRun);
}

interface ApplyOptions {
  serverSide: boolean;
  force: boolean;
  manager: string;
  dryRun: DryRun;
  validate: string;
}

async function applyOne(cli: Cli, res: ApiResource, m: Manifest, o: ApplyOptions): Promise<{ action: string; obj: ObjectLike }> {
  const name = m.obj.metadata?.name;
  const ns = res.namespaced ? (m.obj.metadata?.namespace ?? cli.namespace) : undefined;
  if (res.namespaced && cli.flags.namespace && m.obj.metadata?.namespace && m.obj.metadata.namespace !== cli.flags.namespace) {
    throw new CliError(`the namespace from the provided object "${m.obj.metadata.namespace}" does not match the namespace "${cli.flags.namespace}". You must pass '--namespace=${m.obj.metadata.namespace}' to perform this operation.`);
  }
  const c = cli.client(res);
  const query = { ...(o.dryRun === 'server' ? { dryRun: 'All' } : {}), fieldValidation: fieldValidation(o.validate) };
  if (o.serverSide) {
    if (!name) throw new CliError(`error when retrieving current configuration of ${m.source}: resource name may not be empty`);
    const body = { ...m.obj, metadata: { ...m.obj.metadata, ...(ns ? { namespace: ns } : {}) } };
    if (o.dryRun === 'client') return { action: 'serverside-applied', obj: body };
    const obj = await c.patch(ns, name, body, 'apply', { query: { ...query, fieldManager: o.manager, ...(o.force ? { force: 'true' } : {}) } });
    return { action: 'serverside-applied', obj };
  }
  const modified = withLastApplied(m.obj);
  let current: ObjectLike | undefined;
  if (name) {
    try {
      current = await c.get(ns, name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  if (!current) {
    if (o.dryRun === 'client') return { action: 'created', obj: modified };
    const obj = await c.create(ns, { ...modified, metadata: { ...modified.metadata, ...(ns ? { namespace: ns } : {}) } }, { ...query, fieldManager: o.manager });
    return { action: 'created', obj };
  }
  const lastText = current.metadata?.annotations?.[LAST_APPLIED];
  let original: unknown;
  if (lastText) {
    try {
      original = JSON.parse(lastText);
    } catch {
      original = undefined;
    }
  }
  const patch = threeWayMergePatch(original, modified as unknown as { [k: string]: Json }, current);
  if (!patch) return { action: 'unchanged', obj: current };
  if (o.dryRun === 'client') return { action: 'configured', obj: current };
  const obj = await c.patch(ns, name!, patch, 'merge', { query: { ...query, fieldManager: o.manager } });
  return { action: 'configured', obj };
}

const fieldValidation = (v: string): string => ({ strict: 'Strict', warn: 'Warn', ignore: 'Ignore', true: 'Strict', false: 'Ignore' })[v.toLowerCase()] ?? 'Strict';

/** The configuration with the annotation holding its own JSON, as kubectl writes it. */
export function withLastApplied(obj: Manifest['obj']): Manifest['obj'] {
  const annotations = { ...(obj.metadata?.annotations ?? {}) };
  delete annotations[LAST_APPLIED];
  const meta = { ...obj.metadata, annotations };
  if (!Object.keys(annotations).length) delete (meta as { annotations?: unknown }).annotations;
  const config = JSON.stringify({ ...obj, metadata: meta }) + '\n';
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...annotations, [LAST_APPLIED]: config } } };
}

async function prune(cli: Cli, flags: ApplyFlags, applied: Set<string>, visited: Set<string>, dryRun: DryRun): Promise<void> {
  const resolver = await cli.resolver();
  const allow = (flags.pruneAllowlist?.length ? flags.pruneAllowlist : DEFAULT_PRUNE).map((g) => g.replace(/^core\//, '/'));
  const types = resolver.resources.filter((r) => allow.includes(`${r.group}/${r.version}/${r.kind}`) && r.verbs.includes('delete'));
  if (!visited.size) visited.add(cli.namespace);
  for (const res of types) {
    const namespaces = res.namespaced ? [...visited] : [undefined];
    for (const ns of namespaces) {
      const list = await cli.client(res).listAll(ns, flags.selector ? { labelSelector: flags.selector } : {});
      for (const o of list.items) {
        if (!o.metadata?.uid || applied.has(o.metadata.uid) || o.metadata.deletionTimestamp) continue;
        if (!isApplied(o, !!flags.serverSide)) continue;
        try {
          if (dryRun !== 'client') await cli.client(res).delete(ns, o.metadata.name ?? '', { propagationPolicy: 'Background', ...(dryRun === 'server' ? { dryRun: true } : {}) });
          cli.out(`${objectName(o, res)} pruned${dryRunSuffix(dryRun)}`);
        } catch (e) {
          if (!isNotFound(e)) cli.fail(e);
        }
      }
    }
  }
}

/** Whether an apply made the object: the annotation (client-side) or an Apply entry in managedFields (server-side). */
function isApplied(o: ObjectLike, serverSide: boolean): boolean {
  if (o.metadata?.annotations?.[LAST_APPLIED]) return true;
  const mf = (o.metadata?.managedFields ?? []) as { operation?: string }[];
  return serverSide && mf.some((f) => f.operation === 'Apply');
}
