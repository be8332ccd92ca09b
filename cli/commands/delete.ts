// `ketch delete`: by name, -f, -l or --all; waits for the objects to be gone (--wait), with --grace-period, --now,
// --force and --cascade=background|foreground|orphan.
import type { Command } from 'commander';
import { isNotFound } from '../../api/errors.js';
import type { DeleteOptions } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseBool, parseDryRun, parseDuration } from '../flags.js';
import { objectName } from '../printers/index.js';
import { qualifiedResource } from '../resources.js';
import { addSelectFlags, selectInfos, type Info, type SelectFlags } from '../select.js';
import { pollUntil, progress } from '../wait-util.js';

interface DeleteFlags extends SelectFlags {
  wait?: string | boolean;
  gracePeriod: string;
  now?: boolean;
  force?: boolean;
  cascade?: string;
  ignoreNotFound?: boolean;
  timeout: string;
  output?: string;
  dryRun?: string | boolean;
}

export function register(program: Command): void {
  addSelectFlags(program.command('delete').description('delete resources by name, file, label selector or --all'), 'delete', { all: true, fieldSelector: true })
    .argument('[args...]', 'TYPE NAME... or TYPE/NAME...')
    .option('--wait [bool]', 'wait for the objects to be gone before returning', 'true')
    .option('--grace-period <seconds>', 'seconds given to the object to end gracefully (-1: its own default)', '-1')
    .option('--now', 'signal the object to end at once (grace period 1)')
    .option('--force', 'delete immediately, without waiting for the node to confirm (with --grace-period=0)')
    .option('--cascade [mode]', 'background, foreground or orphan', 'background')
    .option('--ignore-not-found', "don't report objects that don't exist")
    .option('--timeout <duration>', 'how long to wait before giving up (0: a week)', '0s')
    .option('-o, --output <format>', 'name: print only resource/name')
    .option('--dry-run [mode]', 'none, client or server')
    .action(async (args: string[], flags: DeleteFlags, cmd: Command) => {
      await del(cliOf(cmd), args, flags);
    });
}

function propagation(v: string | undefined): DeleteOptions['propagationPolicy'] {
  switch ((v ?? 'background').toLowerCase()) {
    case 'background':
    case 'true':
      return 'Background';
    case 'foreground':
      return 'Foreground';
    case 'orphan':
    case 'false':
      return 'Orphan';
    default:
      throw new CliError(`invalid cascade value (${v}). Must be "background", "foreground", or "orphan".`);
  }
}

async function del(cli: Cli, args: string[], flags: DeleteFlags): Promise<void> {
  if (args.length === 1 && !args[0]!.includes('/') && !flags.selector && !flags.all && !flags.fieldSelector && !flags.filename?.length) {
    throw new CliError(`resource(s) were provided, but no name was specified`);
  }
  if (flags.all && flags.selector) throw new CliError('cannot set --all and --selector at the same time');
  let grace = Number(flags.gracePeriod);
  if (flags.now) {
    if (grace !== -1) throw new CliError('--now and --grace-period cannot be specified together');
    grace = 1;
  }
  if (flags.force && grace === -1) grace = 0;
  if (grace === 0 && !flags.force) grace = 1; // immediate deletion needs --force, as with kubectl
  if (flags.force) cli.err('Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.');
  const dryRun = parseDryRun(flags.dryRun);
  const wait = parseBool(flags.wait, true, '--wait') && dryRun === 'none';
  const timeoutMs = parseDuration(flags.timeout) || 7 * 24 * 3_600_000;
  const opts: DeleteOptions = { propagationPolicy: propagation(flags.cascade), ...(grace >= 0 ? { gracePeriodSeconds: grace } : {}), ...(dryRun === 'server' ? { dryRun: true } : {}) };
  const infos = await selectInfos(cli, args, flags, { verb: 'delete' });
  if (!infos.length) {
    if (!cli.failed && (flags.selector || flags.all || flags.fieldSelector)) cli.err('No resources found');
    return;
  }
  const deleted: { info: Info; uid: string | undefined }[] = [];
  for (const info of infos) {
    try {
      const uid = info.fromFile ? undefined : info.obj?.metadata?.uid;
      if (dryRun !== 'client') {
        await cli.client(info.res).delete(info.namespace, info.name, { ...opts, ...(uid ? { preconditions: { uid } } : {}) });
      }
      cli.out(flags.output === 'name' ? objectName({ metadata: { name: info.name } }, info.res) : `${info.res.kind.toLowerCase()}${info.res.group ? '.' + info.res.group : ''} "${info.name}" deleted${dryRunSuffix(dryRun)}`);
      deleted.push({ info, uid });
    } catch (e) {
      if (isNotFound(e) && flags.ignoreNotFound) continue;
      cli.fail(e);
    }
  }
  if (!wait || !deleted.length) return;
  const p = progress(cli.io);
  try {
    for (const { info } of deleted) {
      p.update(`waiting for ${qualifiedResource(info.res)} "${info.name}" to be deleted`);
      const gone = await pollUntil(async () => {
        try {
          const o = await cli.client(info.res).get(info.namespace, info.name);
          // A new object with the same name means ours is gone.
          return info.obj?.metadata?.uid && o.metadata?.uid !== info.obj.metadata.uid ? true : undefined;
        } catch (e) {
          if (isNotFound(e)) return true;
          throw e;
        }
      }, timeoutMs, 500);
      if (!gone) throw new CliError(`timed out waiting for the condition on ${qualifiedResource(info.res)}/${info.name}`);
    }
  } finally {
    p.done();
  }
}
