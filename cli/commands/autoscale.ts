// `ketch autoscale`: a HorizontalPodAutoscaler for a workload with a scale subresource, as kubectl autoscale makes it
// (min, max, and a CPU utilization target when --cpu-percent is given).
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun } from '../flags.js';
import { addSelectFlags, selectInfos, type SelectFlags } from '../select.js';

interface AutoscaleFlags extends SelectFlags {
  min: string;
  max: string;
  cpuPercent: string;
  name?: string;
  dryRun?: string | boolean;
}

export function register(program: Command): void {
  addSelectFlags(program.command('autoscale').description('create a HorizontalPodAutoscaler for a deployment, replica set, stateful set or replication controller'), 'autoscale')
    .argument('[args...]', 'TYPE NAME or TYPE/NAME')
    .option('--min <n>', 'the lower limit of pods (-1: the server default, 1)', '-1')
    .option('--max <n>', 'the upper limit of pods (required)', '-1')
    .option('--cpu-percent <n>', 'the target average CPU utilization in percent of the requests (-1: the server default, 80)', '-1')
    .option('--name <name>', 'the name of the autoscaler (default: the workload\'s)')
    .option('--dry-run [mode]', 'none, client or server')
    .action(async (args: string[], flags: AutoscaleFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const [min, max, cpu] = [Number(flags.min), Number(flags.max), Number(flags.cpuPercent)];
      if (!Number.isInteger(max) || max < 1) throw new CliError(`--max=MAXPODS is required and must be at least 1, max: ${flags.max}`);
      if (min > max) throw new CliError(`--max=MAXPODS must be larger or equal to --min=MINPODS, max: ${max}, min: ${min}`);
      const dryRun = parseDryRun(flags.dryRun);
      const infos = await selectInfos(cli, args, flags, { verb: 'autoscale', fetch: true });
      if (!infos.length && !cli.failed) throw new CliError('no objects passed to autoscale');
      const hpaRes = (await cli.resolver()).byKind('autoscaling/v2', 'HorizontalPodAutoscaler');
      if (!hpaRes) throw new CliError('the server does not serve autoscaling/v2 HorizontalPodAutoscalers');
      for (const info of infos) {
        try {
          if (!info.res.subresources.includes('scale')) throw new CliError(`cannot autoscale a ${info.res.kind}: it has no scale subresource`);
          const name = flags.name ?? info.name;
          const hpa = {
            apiVersion: 'autoscaling/v2',
            kind: 'HorizontalPodAutoscaler',
            metadata: { name, namespace: info.namespace },
            spec: {
              scaleTargetRef: { apiVersion: info.res.group ? `${info.res.group}/${info.res.version}` : info.res.version, kind: info.res.kind, name: info.name },
              ...(min >= 1 ? { minReplicas: min } : {}),
              maxReplicas: max,
              ...(cpu >= 0 ? { metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } }] } : {}),
            },
          };
          if (dryRun !== 'client') await cli.client(hpaRes).create(info.namespace, hpa, dryRun === 'server' ? { dryRun: 'All' } : {});
          cli.out(`horizontalpodautoscaler.autoscaling/${name} autoscaled${dryRunSuffix(dryRun)}`);
        } catch (e) {
          cli.fail(e);
        }
      }
    });
}
