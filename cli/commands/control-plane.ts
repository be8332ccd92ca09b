// `ketch controller-manager` and `ketch scheduler`: the control-plane components alone, against any API server;
// `ketch server` and `ketch up` host the same components in one process through startControlPlaneComponents().
import type { Command } from 'commander';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { startControllerManager, type ControllerManagerOptions } from '../../controllers/manager.js';
import { SCHEDULER_FLAGS, schedulerOptionsFromFlags, startScheduler, type SchedulerFlags } from '../../scheduler/index.js';
import { untilSignal } from './server.js';

export interface ControllerManagerFlags {
  leaderElect?: boolean;
  controllers?: string;
  clusterCidr?: string;
  nodeCidrMaskSize?: string;
  allocateNodeCidrs?: boolean;
  nodeMonitorGracePeriod?: string;
}

/** Parses a Go-style duration ("40s", "5m", "1m30s", "500ms") into milliseconds. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  if (!s || consumed !== s.length) throw new Error(`invalid duration "${s}" (examples: 40s, 5m, 1m30s)`);
  return total;
}

export function controllerManagerOptions(flags: ControllerManagerFlags, rest: RestClient): ControllerManagerOptions {
  return {
    rest,
    leaderElect: flags.leaderElect ?? true,
    ...(flags.controllers ? { controllers: flags.controllers.split(',').map((c) => c.trim()) } : {}),
    ...(flags.clusterCidr ? { clusterCidr: flags.clusterCidr } : {}),
    ...(flags.nodeCidrMaskSize ? { nodeCidrMaskSize: Number(flags.nodeCidrMaskSize) } : {}),
    ...(flags.allocateNodeCidrs !== undefined ? { allocateNodeCidrs: flags.allocateNodeCidrs } : {}),
    ...(flags.nodeMonitorGracePeriod ? { nodeMonitorGracePeriodMs: parseDuration(flags.nodeMonitorGracePeriod) } : {}),
  };
}

/** Adds the controller manager's flags (Kubernetes' names) to a command. */
export function withControllerManagerFlags(cmd: Command): Command {
  return cmd
    .option('--controllers <list>', "controllers to run: '*' (all), 'name', '-name'", '*')
    .option('--cluster-cidr <cidr>', 'pod network, cut into one subnet per node', '10.42.0.0/16')
    .option('--node-cidr-mask-size <bits>', 'size of each node subnet', '24')
    .option('--no-allocate-node-cidrs', 'do not allocate spec.podCIDR to nodes')
    .option('--node-monitor-grace-period <duration>', 'a node whose lease is older is marked NotReady', '40s');
}

export function withSchedulerFlags(cmd: Command, prefix = ''): Command {
  // Hosted in `ketch server`, the scheduler shares the server's kubeconfig and leader-election flags.
  for (const f of SCHEDULER_FLAGS) if (!(prefix && /^--(kubeconfig|leader-elect)/.test(f.flags))) cmd.option(f.flags, f.description);
  return cmd;
}

export interface ComponentSet {
  stop(): Promise<void>;
}

/** Starts the controller manager and the scheduler against an API server (in-process hosting for server/up). */
export async function startControlPlaneComponents(
  rest: RestClient,
  flags: ControllerManagerFlags & SchedulerFlags & { disableControllerManager?: boolean; disableScheduler?: boolean },
): Promise<ComponentSet> {
  const stops: Array<() => Promise<void>> = [];
  if (!flags.disableControllerManager) {
    const cm = await startControllerManager(controllerManagerOptions(flags, rest));
    stops.push(() => cm.stop());
  }
  if (!flags.disableScheduler) {
    const sched = await startScheduler({ ...schedulerOptionsFromFlags(flags, rest), leaderElect: flags.leaderElect ?? true });
    stops.push(() => sched.stop());
  }
  return { stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

export function register(program: Command): void {
  withControllerManagerFlags(
    program
      .command('controller-manager')
      .description('run the controllers (ReplicaSet, Deployment, GC, Namespace, node lifecycle, node IPAM) against an API server')
      .option('--kubeconfig <file>', 'kubeconfig of the API server')
      .option('--no-leader-elect', 'act without holding the kube-system/kube-controller-manager Lease'),
  ).action(async (flags: ControllerManagerFlags & { kubeconfig?: string }) => {
    const rest = new RestClient(loadClientConfig(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), 'ketch-controller-manager');
    const cm = await startControllerManager(controllerManagerOptions(flags, rest));
    console.error('ketch controller-manager running');
    await untilSignal();
    await cm.stop();
  });

  withSchedulerFlags(program.command('scheduler').description('run the scheduler against an API server')).action(
    async (flags: SchedulerFlags & { kubeconfig?: string }) => {
      const rest = new RestClient(loadClientConfig(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), 'ketch-scheduler');
      const sched = await startScheduler(schedulerOptionsFromFlags(flags, rest));
      console.error('ketch scheduler running');
      await untilSignal();
      await sched.stop();
    },
  );
}
