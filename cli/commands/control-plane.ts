// `ketch controller-manager` and `ketch scheduler`: the control-plane components alone, against any API server;
// `ketch server` and `ketch up` host the same components in one process through startControlPlaneComponents().
import type { Command } from 'commander';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { CONTROLLER_MANAGER_FLAGS, controllerManagerOptionsFromFlags } from '../../controllers/flags.js';
import { startControllerManager } from '../../controllers/manager.js';
import { adjustFlags, readFlags, type FlagInput, type FlagTable } from '../../lib/flags.js';
import { SCHEDULER_FLAGS, schedulerOptionsFromFlags, startScheduler } from '../../scheduler/index.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { untilSignal } from '../signals.js';

const restFrom = (kubeconfig: string | undefined, agent: string): RestClient =>
  new RestClient(loadClientConfig(kubeconfig ? { kubeconfig } : {}), agent);

/** Whether `ketch server` and `ketch up` run each hosted component. */
export const HOSTING_FLAGS: FlagTable = [
  { name: '--disable-controller-manager', kind: 'bool', description: 'do not run the controller manager in this process' },
  { name: '--disable-scheduler', kind: 'bool', description: 'do not run the scheduler in this process' },
];

/**
 * The hosted components' flags in `ketch server` and `ketch up`: they share the server's credentials (no --kubeconfig),
 * and the scheduler follows the controller manager's --leader-elect.
 */
export const HOSTED_COMPONENT_FLAGS: FlagTable = [
  ...adjustFlags(CONTROLLER_MANAGER_FLAGS, {}, ['--kubeconfig']),
  ...HOSTING_FLAGS,
  ...adjustFlags(SCHEDULER_FLAGS, {}, ['--kubeconfig', '--leader-elect']),
];

export interface ComponentSet {
  stop(): Promise<void>;
}

/** A client per hosted component, each with that component's own credential (its kubeconfig). */
export interface ComponentClients {
  controllerManager(userAgent: string): RestClient;
  scheduler(userAgent: string): RestClient;
}

/**
 * Starts the controller manager and the scheduler against an API server (in-process hosting for server/up), from the
 * flags given (HOSTED_COMPONENT_FLAGS). Each gets its own client, so that the controllers' many watches never hold
 * the sockets the scheduler binds with.
 */
export async function startControlPlaneComponents(clients: ComponentClients, input: FlagInput): Promise<ComponentSet> {
  const stops: Array<() => Promise<void>> = [];
  const { options } = controllerManagerOptionsFromFlags(input);
  const hosting = readFlags(HOSTING_FLAGS, input);
  try {
    if (!hosting.bool('--disable-controller-manager')) {
      const cm = await startControllerManager({ rest: clients.controllerManager('ketch-controller-manager'), ...options });
      stops.push(() => cm.stop());
    }
    if (!hosting.bool('--disable-scheduler')) {
      const sched = await startScheduler({ rest: clients.scheduler('ketch-scheduler'), ...schedulerOptionsFromFlags(input), leaderElect: options.leaderElect ?? true });
      stops.push(() => sched.stop());
    }
  } catch (err) {
    await Promise.all(stops.map((s) => s()));
    throw err;
  }
  return { stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

export function register(program: Command): void {
  const cm = program
    .command('controller-manager')
    .description('run the controllers (ReplicaSet, Deployment, GC, Namespace, node lifecycle, node IPAM) against an API server');
  addFlags(cm, CONTROLLER_MANAGER_FLAGS).action(async (_opts: unknown, cmd: Command) => {
    const { kubeconfig, options } = controllerManagerOptionsFromFlags(givenFlags(cmd));
    const running = await startControllerManager({ rest: restFrom(kubeconfig, 'ketch-controller-manager'), ...options });
    console.error('ketch controller-manager running');
    await untilSignal();
    await running.stop();
  });

  const sched = program.command('scheduler').description('run the scheduler against an API server');
  addFlags(sched, SCHEDULER_FLAGS).action(async (_opts: unknown, cmd: Command) => {
    const input = givenFlags(cmd);
    const kubeconfig = readFlags(SCHEDULER_FLAGS, input).optional('--kubeconfig');
    const running = await startScheduler({ rest: restFrom(kubeconfig, 'ketch-scheduler'), ...schedulerOptionsFromFlags(input) });
    console.error('ketch scheduler running');
    await untilSignal();
    await running.stop();
  });
}
