// `ketch controller-manager` and `ketch scheduler`: the control-plane components alone, against any API server;
// `ketch server` and `ketch up` host the same components in one process through startControlPlaneComponents().
import type { Command } from 'commander';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { addControllerManagerFlags, controllerManagerOptionsFromFlags } from '../../controllers/flags.js';
import { startControllerManager } from '../../controllers/manager.js';
import { SCHEDULER_FLAGS, schedulerOptionsFromFlags, startScheduler, type SchedulerFlags } from '../../scheduler/index.js';
import { untilSignal } from './server.js';

/** Commander's parsed values of the controller manager's flags (Kubernetes' names, camel-cased). */
export type ControllerManagerFlags = Record<string, unknown>;

const restFrom = (kubeconfig: string | undefined, agent: string): RestClient =>
  new RestClient(loadClientConfig(kubeconfig ? { kubeconfig } : {}), agent);

/** Adds the scheduler's flags; hosted in `ketch server` it shares the server's kubeconfig and --leader-elect. */
export function withSchedulerFlags(cmd: Command, hosted = false): Command {
  for (const f of SCHEDULER_FLAGS) if (!(hosted && /^--(kubeconfig|leader-elect)/.test(f.flags))) cmd.option(f.flags, f.description);
  return cmd;
}

/** Adds the controller manager's flags; hosted, without --kubeconfig. */
export function withControllerManagerFlags(cmd: Command, hosted = false): Command {
  return addControllerManagerFlags(cmd, hosted ? { skip: ['--kubeconfig'] } : {});
}

export interface ComponentSet {
  stop(): Promise<void>;
}

/**
 * Starts the controller manager and the scheduler against an API server (in-process hosting for server/up). Each gets
 * its own client, so that the controllers' many watches never hold the sockets the scheduler binds with.
 */
export async function startControlPlaneComponents(
  newClient: (userAgent: string) => RestClient,
  flags: ControllerManagerFlags & SchedulerFlags & { disableControllerManager?: boolean; disableScheduler?: boolean },
): Promise<ComponentSet> {
  const stops: Array<() => Promise<void>> = [];
  const { options } = controllerManagerOptionsFromFlags(flags);
  try {
    if (!flags.disableControllerManager) {
      const cm = await startControllerManager({ rest: newClient('ketch-controller-manager'), ...options });
      stops.push(() => cm.stop());
    }
    if (!flags.disableScheduler) {
      const sched = await startScheduler({ ...schedulerOptionsFromFlags(flags, newClient('ketch-scheduler')), leaderElect: options.leaderElect ?? true });
      stops.push(() => sched.stop());
    }
  } catch (err) {
    await Promise.all(stops.map((s) => s()));
    throw err;
  }
  return { stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

export function register(program: Command): void {
  withControllerManagerFlags(
    program
      .command('controller-manager')
      .description('run the controllers (ReplicaSet, Deployment, GC, Namespace, node lifecycle, node IPAM) against an API server'),
  ).action(async (flags: ControllerManagerFlags) => {
    const { kubeconfig, options } = controllerManagerOptionsFromFlags(flags);
    const cm = await startControllerManager({ rest: restFrom(kubeconfig, 'ketch-controller-manager'), ...options });
    console.error('ketch controller-manager running');
    await untilSignal();
    await cm.stop();
  });

  withSchedulerFlags(program.command('scheduler').description('run the scheduler against an API server')).action(
    async (flags: SchedulerFlags & { kubeconfig?: string }) => {
      const sched = await startScheduler(schedulerOptionsFromFlags(flags, restFrom(flags.kubeconfig, 'ketch-scheduler')));
      console.error('ketch scheduler running');
      await untilSignal();
      await sched.stop();
    },
  );
}
