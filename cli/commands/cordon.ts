// `ketch cordon` / `uncordon`: mark nodes unschedulable or schedulable again (spec.unschedulable).
import type { Command } from 'commander';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun } from '../flags.js';
import { addSelectFlags, selectInfos, type SelectFlags } from '../select.js';

interface NodeSpec {
  spec?: { unschedulable?: boolean };
}

export function register(program: Command): void {
  for (const [verb, value] of [
    ['cordon', true],
    ['uncordon', false],
  ] as const) {
    program
      .command(verb)
      .description(value ? 'mark nodes as unschedulable' : 'mark nodes as schedulable')
      .argument('[nodes...]', 'node names')
      .option('-l, --selector <selector>', 'label selector of the nodes')
      .option('--dry-run [mode]', 'none, client or server')
      .action(async (nodes: string[], flags: SelectFlags & { dryRun?: string | boolean }, cmd: Command) => {
        await setUnschedulable(cliOf(cmd), nodes, flags, value);
      });
  }
}

/** Sets spec.unschedulable; prints `node/x cordoned` or `node/x already cordoned`. Returns the nodes acted on. */
export async function setUnschedulable(cli: Cli, nodes: string[], flags: SelectFlags & { dryRun?: string | boolean }, value: boolean): Promise<string[]> {
  if (!nodes.length && !flags.selector) throw new CliError(`USAGE: ketch ${value ? 'cordon' : 'uncordon'} NODE [flags]`);
  const dryRun = parseDryRun(flags.dryRun);
  const word = value ? 'cordoned' : 'uncordoned';
  const args = nodes.length ? ['nodes', ...nodes] : ['nodes'];
  const infos = await selectInfos(cli, args, flags, { fetch: true, verb: value ? 'cordon' : 'uncordon' });
  const done: string[] = [];
  for (const info of infos) {
    const cur = !!(info.obj as NodeSpec | undefined)?.spec?.unschedulable;
    try {
      if (cur === value) cli.out(`node/${info.name} already ${word}`);
      else {
        if (dryRun !== 'client') {
          await cli.client(info.res).patch(undefined, info.name, { spec: { unschedulable: value ? true : null } }, 'merge', { query: dryRun === 'server' ? { dryRun: 'All' } : {} });
        }
        cli.out(`node/${info.name} ${word}${dryRunSuffix(dryRun)}`);
      }
      done.push(info.name);
    } catch (e) {
      cli.fail(e);
    }
  }
  return done;
}
