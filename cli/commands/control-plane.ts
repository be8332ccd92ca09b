// `ketch controller-manager` and `ketch scheduler`: the control-plane components alone, against any API server;
// `ketch server` and `ketch up` host the same components in their process through startControlPlaneComponents(), each
// in a worker thread of its own (component-thread.ts) unless --single-process.
import type { Command } from 'commander';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { CONTROLLER_MANAGER_FLAGS, controllerManagerOptionsFromFlags } from '../../controllers/flags.js';
import { startControllerManager } from '../../controllers/manager.js';
import { adjustFlags, readFlags, type FlagInput, type FlagTable } from '../../lib/flags.js';
import { SCHEDULER_FLAGS, schedulerOptionsFromFlags, startScheduler } from '../../scheduler/index.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { startComponentThread, type HostedComponent, type HostedThread } from './component-thread.js';
import { untilSignal } from '../signals.js';

const restFrom = (kubeconfig: string | undefined, agent: string): RestClient =>
  new RestClient(loadClientConfig(kubeconfig ? { kubeconfig } : {}), agent);

/** Whether `ketch server` and `ketch up` run each hosted component. */
export const HOSTING_FLAGS: FlagTable = [
  { name: '--disable-controller-manager', kind: 'bool', description: 'do not run the controller manager in this process' },
  { name: '--disable-scheduler', kind: 'bool', description: 'do not run the scheduler in this process' },
  {
    name: '--single-process',
    kind: 'bool',
    description: "run the controller manager and the scheduler on the API server's thread (one event loop) instead of a worker thread each",
  },
];

/**
 * The hosted components' flags in `ketch server` and `ketch up`: they share the server's credentials (no --kubeconfig),
 * and the scheduler follows the controller manager's --leader-elect and --leader-elect-identity.
 */
export const HOSTED_COMPONENT_FLAGS: FlagTable = [
  ...adjustFlags(CONTROLLER_MANAGER_FLAGS, {}, ['--kubeconfig']),
  ...HOSTING_FLAGS,
  ...adjustFlags(SCHEDULER_FLAGS, {}, ['--kubeconfig', '--leader-elect']),
];

export interface ComponentSet {
  /** The components and where they run (for `<data-dir>/components.json`). */
  readonly threads: readonly HostedThread[];
  /** Rejects when a component's thread fails after it started; never settles otherwise. */
  readonly failed: Promise<never>;
  stop(): Promise<void>;
}

/** The kubeconfig of each hosted component: its own credential. */
export type ComponentKubeconfigs = Readonly<Record<HostedComponent, string>>;

/** Starts one hosted component on the calling thread, from the flags given (HOSTED_COMPONENT_FLAGS). */
export async function startHostedComponent(which: HostedComponent, kubeconfig: string, input: FlagInput): Promise<{ stop(): Promise<void> }> {
  const { options } = controllerManagerOptionsFromFlags(input);
  const rest = new RestClient(loadClientConfig({ kubeconfig }), `ketch-${which}`);
  if (which === 'controller-manager') return startControllerManager({ rest, ...options });
  // The hosted scheduler campaigns under the server's --leader-elect-identity too (a Lease names which server leads).
  return startScheduler({ rest, ...schedulerOptionsFromFlags(input), leaderElect: options.leaderElect ?? true, ...(options.identity ? { identity: options.identity } : {}) });
}

/**
 * Starts the controller manager and the scheduler against an API server (hosting for server/up), from the flags given
 * (HOSTED_COMPONENT_FLAGS). Each reaches the API server as any client does, over loopback HTTPS with its own kubeconfig's
 * credentials and a client of its own (the controllers' many watches never hold the sockets the scheduler binds with).
 * By default each runs in a worker thread of its own (an event loop and a heap per component, so the three use every
 * core); --single-process keeps them on the calling thread.
 */
export async function startControlPlaneComponents(kubeconfigs: ComponentKubeconfigs, input: FlagInput): Promise<ComponentSet> {
  const hosting = readFlags(HOSTING_FLAGS, input);
  const wanted = (['controller-manager', 'scheduler'] as const).filter((c) => !hosting.bool(`--disable-${c}`));
  const threaded = !hosting.bool('--single-process');
  const started: Array<{ thread: HostedThread; stop(): Promise<void>; failed?: Promise<never> }> = [];
  try {
    for (const name of wanted) {
      if (threaded) started.push(await startComponentThread(name, kubeconfigs[name], input));
      else {
        const c = await startHostedComponent(name, kubeconfigs[name], input);
        started.push({ thread: { name, pid: process.pid }, stop: () => c.stop() });
      }
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
  const failed = Promise.race(started.flatMap((s) => (s.failed ? [s.failed] : [new Promise<never>(() => undefined)])));
  failed.catch(() => undefined); // the thread logged it; a caller that does not race it must not die of an unhandled rejection
  return {
    threads: started.map((s) => s.thread),
    failed,
    stop: async () => void (await Promise.all(started.map((s) => s.stop()))),
  };
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
