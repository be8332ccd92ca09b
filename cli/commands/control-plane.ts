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
import { startComponentThread, THREAD_FLAGS, type ComponentThread, type HostedComponent, type HostedThread } from './component-thread.js';
import { hostedControllerManager, hostedScheduler, startHostedComponent, type ComponentClient, type HostedRunning, type HostedStarters } from './hosted-component.js';
import { untilSignal } from '../signals.js';
import { serveComponentMetrics, servingFlags } from '../metrics-server.js';
import { logger } from '../../lib/logger.js';

const restFrom = (kubeconfig: string | undefined, agent: string): RestClient =>
  new RestClient(loadClientConfig(kubeconfig ? { kubeconfig } : {}), agent);

/** Whether `ketch server` and `ketch up` run each hosted component. */
export const HOSTING_FLAGS: FlagTable = [
  { name: '--disable-controller-manager', kind: 'bool', description: 'do not run the controller manager in this process' },
  { name: '--disable-scheduler', kind: 'bool', description: 'do not run the scheduler in this process' },
  {
    name: '--hosted-components-over-tls',
    kind: 'bool',
    description:
      "the controller manager and the scheduler reach the API server over loopback TLS with their client certificates, as other clients do, instead of plain HTTP on the server's local socket (<data-dir>/local/apiserver.sock, owner only) with a token each",
  },
  {
    name: '--single-process',
    kind: 'bool',
    description: "run the controller manager and the scheduler on the API server's thread (one event loop) instead of a worker thread each",
  },
  ...THREAD_FLAGS,
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
  /** Each component's metrics in the Prometheus text format (appended to the API server's /metrics). */
  readonly metrics: ReadonlyArray<{ name: HostedComponent; text(): Promise<string> }>;
  /** The components on threads of their own (their isolates' memory and heap snapshots; none with --single-process). */
  readonly threaded: readonly ComponentThread[];
  stop(): Promise<void>;
}

/** How each hosted component reaches the API server, with its own credential. */
export type ComponentClients = Readonly<Record<HostedComponent, ComponentClient>>;

/** The components as this thread starts them (already loaded: the CLI's commands import them). */
const STARTERS: HostedStarters = { controllerManager: startControllerManager, scheduler: startScheduler };

/**
 * Starts the controller manager and the scheduler against an API server (hosting for server/up), from the flags given
 * (HOSTED_COMPONENT_FLAGS). Each reaches the API server with its own credentials and a client of its own: over the
 * server's local socket with a token, or over loopback HTTPS with its kubeconfig (ComponentClient) (the controllers' many watches never hold the sockets the scheduler binds with).
 * By default each runs in a worker thread of its own (an event loop and a heap per component, so the three use every
 * core); --single-process keeps them on the calling thread.
 */
export async function startControlPlaneComponents(clients: ComponentClients, input: FlagInput): Promise<ComponentSet> {
  const hosting = readFlags(HOSTING_FLAGS, input);
  const wanted = (['controller-manager', 'scheduler'] as const).filter((c) => !hosting.bool(`--disable-${c}`));
  const threaded = !hosting.bool('--single-process');
  const started: Array<HostedRunning & { thread: HostedThread; failed?: Promise<never> }> = [];
  const threadedOnes: ComponentThread[] = [];
  try {
    for (const name of wanted) {
      if (threaded) {
        const t = await startComponentThread(name, clients[name], input);
        started.push(t);
        threadedOnes.push(t);
      }
      else {
        const c = await startHostedComponent(name, clients[name], input, STARTERS);
        started.push({ thread: { name, pid: process.pid }, stop: () => c.stop(), metrics: () => c.metrics() });
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
    metrics: started.map((s) => ({ name: s.thread.name, text: () => s.metrics() })),
    threaded: threadedOnes,
    stop: async () => void (await Promise.all(started.map((s) => s.stop()))),
  };
}

/** kube-controller-manager's and kube-scheduler's secure ports. */
const CONTROLLER_MANAGER_SERVING = servingFlags(10257);
const SCHEDULER_SERVING = servingFlags(10259);

/**
 * Runs a component apart until a signal: its secure port (/metrics, /healthz) unless --secure-port 0, then stop.
 * `start` starts the component and says how to read its metrics.
 */
async function runApart(name: string, rest: RestClient, serving: FlagInput, start: () => Promise<HostedRunning>): Promise<void> {
  const running = await start();
  const f = readFlags(name === 'kube-scheduler' ? SCHEDULER_SERVING : CONTROLLER_MANAGER_SERVING, serving);
  const port = f.int('--secure-port');
  const server = port === 0 ? undefined : await serveComponentMetrics({ rest, name, port, address: f.string('--bind-address'), metrics: () => running.metrics(), log: logger(name) }).catch(async (err: unknown) => {
    await running.stop();
    throw err;
  });
  console.error(`ketch ${name.replace(/^kube-/, '')} running${server ? `, /metrics on port ${server.port}` : ''}`);
  await untilSignal();
  await server?.close();
  await running.stop();
}

export function register(program: Command): void {
  const cm = program
    .command('controller-manager')
    .description('run the controllers (ReplicaSet, Deployment, GC, Namespace, node lifecycle, node IPAM) against an API server');
  addFlags(cm, [...CONTROLLER_MANAGER_FLAGS, ...CONTROLLER_MANAGER_SERVING]).action(async (_opts: unknown, cmd: Command) => {
    const input = givenFlags(cmd);
    const { kubeconfig, options } = controllerManagerOptionsFromFlags(input);
    const rest = restFrom(kubeconfig, 'ketch-controller-manager');
    await runApart('kube-controller-manager', rest, input, async () => hostedControllerManager(await startControllerManager({ rest, ...options })));
  });

  const sched = program.command('scheduler').description('run the scheduler against an API server');
  addFlags(sched, [...SCHEDULER_FLAGS, ...SCHEDULER_SERVING]).action(async (_opts: unknown, cmd: Command) => {
    const input = givenFlags(cmd);
    const kubeconfig = readFlags(SCHEDULER_FLAGS, input).optional('--kubeconfig');
    const rest = restFrom(kubeconfig, 'ketch-scheduler');
    await runApart('kube-scheduler', rest, input, async () => hostedScheduler(await startScheduler({ rest, ...schedulerOptionsFromFlags(input) })));
  });
}
