// The scheduler component: startScheduler() for `ketch server` and `ketch scheduler`, its flags, and the framework
// for out-of-tree plugins.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { LEASES, LeaderElector, type Lease, type RestClient } from '../client/index.js';
import type { Clock } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import { configDurationMs, type Profile, type SchedulerConfiguration } from './config.js';
import { Scheduler, type ScheduledInfo } from './scheduler.js';
import type { PluginFactory } from './framework/types.js';

export * from './config.js';
export * from './flags.js';
export * from './diagnosis.js';
export * from './framework/types.js';
export { FitError } from './framework/fit-error.js';
export { NodeInfo, PodInfo } from './framework/node-info.js';
export { Scheduler, type ScheduledInfo, type SchedulerOptions } from './scheduler.js';
export { IN_TREE_PLUGINS } from './plugins/registry.js';

export interface StartSchedulerOptions {
  rest: RestClient;
  /** Overrides the (single default) profile's schedulerName; default "default-scheduler". */
  schedulerName?: string;
  /** Campaign for the kube-system/kube-scheduler Lease and schedule only while holding it. */
  leaderElect?: boolean;
  /** This instance's name in the Lease; default hostname_uuid. */
  identity?: string;
  clock?: Clock;
  random?: () => number;
  /** A whole KubeSchedulerConfiguration... */
  config?: SchedulerConfiguration;
  /** ...or just one profile. */
  profile?: Profile;
  plugins?: Readonly<Record<string, PluginFactory>>;
  bindConcurrency?: number;
  onScheduled?(info: ScheduledInfo): void;
}

export interface RunningScheduler {
  stop(): Promise<void>;
  /** For tests and benchmarks: the running instance (queue, cache). */
  readonly scheduler: Scheduler;
}

/** Starts the informers at once and schedules (when leader, with leaderElect) until stop(). */
export async function startScheduler(opts: StartSchedulerOptions): Promise<RunningScheduler> {
  const log = logger('scheduler');
  const config: SchedulerConfiguration = { ...(opts.config ?? {}) };
  if (opts.profile) config.profiles = [opts.profile];
  if (opts.schedulerName) {
    const profiles = config.profiles?.length ? config.profiles : [{}];
    if (profiles.length > 1) throw new Error('schedulerName cannot be combined with a configuration of several profiles');
    config.profiles = [{ ...profiles[0], schedulerName: opts.schedulerName }];
  }
  const scheduler = new Scheduler({
    rest: opts.rest,
    config,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.plugins ? { plugins: opts.plugins } : {}),
    ...(opts.bindConcurrency ? { bindConcurrency: opts.bindConcurrency } : {}),
    ...(opts.onScheduled ? { onScheduled: opts.onScheduled } : {}),
  });
  const abort = new AbortController();
  scheduler.startInformers();
  const le = config.leaderElection ?? {};
  const leaderElect = opts.leaderElect ?? le.leaderElect ?? false;
  let running: Promise<void>;
  if (leaderElect) {
    const elector = new LeaderElector({
      leases: opts.rest.resource<Lease>(LEASES),
      namespace: le.resourceNamespace ?? 'kube-system',
      name: le.resourceName ?? 'kube-scheduler',
      identity: opts.identity ?? `${hostname()}_${randomUUID()}`,
      leaseDurationMs: configDurationMs(le.leaseDuration, 15_000),
      renewDeadlineMs: configDurationMs(le.renewDeadline, 10_000),
      retryPeriodMs: configDurationMs(le.retryPeriod, 2_000),
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
    running = elector.run({ onStartedLeading: (signal) => scheduler.run(signal) }, abort.signal);
  } else running = scheduler.run(abort.signal);
  running = running.catch((err: unknown) => {
    if (!abort.signal.aborted) log.error('scheduler stopped', { error: String(err) });
  });
  return {
    scheduler,
    async stop() {
      abort.abort(new Error('scheduler stopped'));
      await running;
      await scheduler.stop();
    },
  };
}
