// `ketch scale`: set replicas through the scale subresource, with --current-replicas and --resource-version preconditions.
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun, parseDuration } from '../flags.js';
import { objectName } from '../printers/index.js';
import { addSelectFlags, selectInfos, type SelectFlags } from '../select.js';
import { pollUntil } from '../wait-util.js';

interface ScaleFlags extends SelectFlags {
  replicas?: string;
  currentReplicas: string;
  resourceVersion?: string;
  timeout: string;
  dryRun?: string | boolean;
}

interface Scale {
  spec?: { replicas?: number };
  status?: { replicas?: number };
  metadata?: { resourceVersion?: string };
}

export function register(program: Command): void {
  addSelectFlags(program.command('scale').description('set a new size for a deployment, replica set or stateful set'), 'scale', { all: true })
    .argument('[args...]', 'TYPE NAME or TYPE/NAME')
    .option('--replicas <n>', 'the new number of replicas')
    .option('--current-replicas <n>', 'only scale if the current replica count is this (-1: any)', '-1')
    .option('--resource-version <rv>', 'only scale if the resource version matches')
    .option('--timeout <duration>', 'wait this long for the scale to be observed (0: no waiting)', '0s')
    .option('--dry-run [mode]', 'none, client or server')
    .action(async (args: string[], flags: ScaleFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      if (flags.replicas === undefined) throw new CliError('required flag(s) "replicas" not set');
      const replicas = Number(flags.replicas);
      if (!Number.isInteger(replicas) || replicas < 0) throw new CliError('The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0');
      const current = Number(flags.currentReplicas);
      const dryRun = parseDryRun(flags.dryRun);
      const infos = await selectInfos(cli, args, flags, { verb: 'scale' });
      if (!infos.length) throw new CliError('no objects passed to scale');
      for (const info of infos) {
        try {
          if (!info.res.subresources.includes('scale')) throw new CliError(`cannot scale ${info.res.resource}: it has no scale subresource`);
          const c = cli.client<Scale & { metadata?: { name?: string } }>(info.res);
          if (current >= 0 || flags.resourceVersion) {
            const s = await c.get(info.namespace, info.name, 'scale');
            if (current >= 0 && (s.spec?.replicas ?? 0) !== current) {
              throw new CliError(`Expected replicas to be ${current}, was ${s.spec?.replicas ?? 0}`);
            }
            if (flags.resourceVersion && s.metadata?.resourceVersion !== flags.resourceVersion) {
              throw new CliError(`Expected resource version to be ${flags.resourceVersion}, was ${s.metadata?.resourceVersion ?? ''}`);
            }
          }
          if (dryRun !== 'client') {
            await c.patch(info.namespace, info.name, { spec: { replicas } }, 'merge', { sub: 'scale', query: dryRun === 'server' ? { dryRun: 'All' } : {} });
          }
          cli.out(`${objectName({ metadata: { name: info.name } }, info.res)} scaled${dryRunSuffix(dryRun)}`);
          const timeout = parseDuration(flags.timeout);
          if (timeout > 0 && dryRun === 'none') {
            const ok = await pollUntil(async () => ((await c.get(info.namespace, info.name, 'scale')).status?.replicas === replicas ? true : undefined), timeout);
            if (!ok) throw new CliError(`timed out waiting for ${objectName({ metadata: { name: info.name } }, info.res)} to reach ${replicas} replicas`);
          }
        } catch (e) {
          cli.fail(e);
        }
      }
    });
}
