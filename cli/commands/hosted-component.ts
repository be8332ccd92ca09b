// One hosted component (the controller manager or the scheduler) started on the calling thread from the flags
// `ketch server` and `ketch up` were given: by the server's thread with --single-process, and by a component thread
// (component-thread-main.ts), which loads only its own component's modules (LOADING_STARTERS).
import { loadClientConfig, type ClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { controllerManagerOptionsFromFlags } from '../../controllers/flags.js';
import type { ControllerManager, ControllerManagerOptions } from '../../controllers/manager.js';
import type { FlagInput } from '../../lib/flags.js';
import { schedulerOptionsFromFlags } from '../../scheduler/flags.js';
import type { RunningScheduler, StartSchedulerOptions } from '../../scheduler/index.js';
import type { HostedComponent } from './component-thread.js';

/**
 * How a hosted component reaches the API server: its kubeconfig (loopback TLS with its own client certificate), or,
 * when the server serves its local socket, that socket with a token made for the component at this start.
 */
export interface ComponentClient {
  kubeconfig: string;
  local?: { socketPath: string; token: string };
}

/** The client configuration of a hosted component (ComponentClient). */
export function componentClientConfig(c: ComponentClient): ClientConfig {
  const cfg = loadClientConfig({ kubeconfig: c.kubeconfig });
  if (!c.local) return cfg;
  const { cert: _cert, key: _key, ...rest } = cfg;
  return { ...rest, socketPath: c.local.socketPath, token: c.local.token };
}

/** A hosted component running (on this thread or its own). */
export interface HostedRunning {
  stop(): Promise<void>;
  /** Its metrics in the Prometheus text format. */
  metrics(): Promise<string>;
}

/** How each component is started (its start function, imported or loaded on use). */
export interface HostedStarters {
  controllerManager(opts: ControllerManagerOptions): Promise<ControllerManager>;
  scheduler(opts: StartSchedulerOptions): Promise<RunningScheduler>;
}

export const hostedControllerManager = (c: ControllerManager): HostedRunning => ({ stop: () => c.stop(), metrics: () => c.metrics.metrics() });
export const hostedScheduler = (s: RunningScheduler): HostedRunning => ({ stop: () => s.stop(), metrics: () => s.scheduler.metrics.registry.metrics() });

/**
 * Starters that load a component's modules when it starts, for the component threads: each thread compiles only its
 * own component (the scheduler's thread held the controllers' modules, ~4 MB of its heap). Not for a thread that
 * already loaded them otherwise (tests run under a CommonJS transform, where a dynamic import loads a second copy).
 */
export const LOADING_STARTERS: HostedStarters = {
  controllerManager: async (opts) => (await import('../../controllers/manager.js')).startControllerManager(opts),
  scheduler: async (opts) => (await import('../../scheduler/index.js')).startScheduler(opts),
};

/** Starts one hosted component on the calling thread, from the flags given (HOSTED_COMPONENT_FLAGS). */
export async function startHostedComponent(which: HostedComponent, client: ComponentClient, input: FlagInput, start: HostedStarters): Promise<HostedRunning> {
  const { options } = controllerManagerOptionsFromFlags(input);
  const rest = new RestClient(componentClientConfig(client), `ketch-${which}`);
  if (which === 'controller-manager') return hostedControllerManager(await start.controllerManager({ rest, ...options }));
  // The hosted scheduler campaigns under the server's --leader-elect-identity too (a Lease names which server leads).
  const opts = { rest, ...schedulerOptionsFromFlags(input), leaderElect: options.leaderElect ?? true, ...(options.identity ? { identity: options.identity } : {}) };
  return hostedScheduler(await start.scheduler(opts));
}
