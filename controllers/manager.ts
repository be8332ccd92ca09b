// The controller manager: runs the enabled controllers over shared informers while it holds the
// kube-system/kube-controller-manager Lease (so two managers can run and one acts), as kube-controller-manager does.
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { EventBroadcaster } from '../client/events.js';
import { InformerFactory } from '../client/informer.js';
import { controllerCacheForm } from '../client/informer-transform.js';
import { LeaderElector, type Lease } from '../client/leader-election.js';
import { LEASES } from '../client/resources.js';
import type { RestClient } from '../client/rest.js';
import { Registry } from 'prom-client';
import { realClock, type Clock } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import { CONTROLLER_SERVICE_ACCOUNTS } from '../api/controller-accounts.js';
import type { Controller, ControllerContext } from './framework/controller.js';
import { serviceAccountClients } from './service-account-credentials.js';
import { queueNameOf, WorkQueueMetrics } from './framework/workqueue-metrics.js';
import { ClusterRoleAggregationController } from './clusterroleaggregation/clusterroleaggregation-controller.js';
import { DeploymentController } from './deployment/deployment-controller.js';
import { EndpointsController } from './endpoints/endpoints-controller.js';
import { EndpointSliceController } from './endpointslice/endpointslice-controller.js';
import { GarbageCollector } from './garbagecollector/garbagecollector.js';
import { NamespaceController } from './namespace/namespace-controller.js';
import { NodeIpamController } from './nodeipam/nodeipam-controller.js';
import { NodeLifecycleController } from './nodelifecycle/nodelifecycle-controller.js';
import { PodGcController } from './podgc/podgc-controller.js';
import { EphemeralVolumeController } from './volume/ephemeral/ephemeral-controller.js';
import { ExpandController } from './volume/expand/expand-controller.js';
import { PersistentVolumeController } from './volume/persistentvolume/pv-controller.js';
import { PvProtectionController } from './volume/protection/pv-protection-controller.js';
import { PvcProtectionController } from './volume/protection/pvc-protection-controller.js';
import { ReplicaSetController, REPLICATIONCONTROLLER_KIND } from './replicaset/replicaset-controller.js';
import { DaemonSetController } from './daemonset/daemonset-controller.js';
import { StatefulSetController } from './statefulset/statefulset-controller.js';
import { JobController } from './job/job-controller.js';
import { CronJobController } from './cronjob/cronjob-controller.js';
import { TtlAfterFinishedController } from './ttlafterfinished/ttlafterfinished-controller.js';
import { BootstrapSignerController } from './bootstrap/bootstrapsigner-controller.js';
import { TokenCleanerController } from './bootstrap/tokencleaner-controller.js';
import { CsrApprovingController } from './certificates/approver-controller.js';
import { CsrSigningController } from './certificates/signer-controller.js';
import { ServiceLbController } from './servicelb/servicelb-controller.js';
import { DisruptionController } from './disruption/disruption-controller.js';
import { HorizontalController, type HorizontalOptions } from './podautoscaler/horizontal-controller.js';

export interface ControllerManagerOptions {
  rest: RestClient;
  /** Leader-election identity; default `<hostname>_<uuid>`. */
  identity?: string;
  /** Default true; false runs the controllers at once. */
  leaderElect?: boolean;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  leaderElectNamespace?: string;
  leaderElectName?: string;
  clock?: Clock;
  /** kube-controller-manager's --controllers: '*' (all on-by-default), 'name', '-name'. Default ['*']. */
  controllers?: string[];
  /** Node IPAM: the pod network (default 10.42.0.0/16) cut into per-node subnets of nodeCidrMaskSize (default 24). */
  clusterCidr?: string;
  nodeCidrMaskSize?: number;
  /** Default true, as k3s runs it. */
  allocateNodeCidrs?: boolean;
  /** A node whose Lease is not renewed within this is marked Unknown (default 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** How often node health is checked (default 5 s). */
  nodeMonitorPeriodMs?: number;
  /** Workers per controller. */
  concurrentReplicaSetSyncs?: number;
  concurrentDeploymentSyncs?: number;
  concurrentGcSyncs?: number;
  concurrentNamespaceSyncs?: number;
  concurrentDaemonSetSyncs?: number;
  concurrentStatefulSetSyncs?: number;
  concurrentRcSyncs?: number;
  concurrentJobSyncs?: number;
  concurrentCronJobSyncs?: number;
  concurrentTtlAfterFinishedSyncs?: number;
  concurrentServiceEndpointSyncs?: number;
  concurrentEndpointSyncs?: number;
  /** Endpoints in one EndpointSlice (default 100, at most 1000). */
  maxEndpointsPerSlice?: number;
  /** Terminated pods kept before pod GC deletes the oldest (default 12500; 0 disables). */
  terminatedPodGcThreshold?: number;
  /** The CA the CSR signer signs with (--cluster-signing-cert-file/--cluster-signing-key-file); without it csrsigning does not run. */
  clusterSigning?: { certFile: string; keyFile: string };
  /** The longest validity the CSR signer issues (--cluster-signing-duration, default one year). */
  clusterSigningDurationMs?: number;
  /**
   * --use-service-account-credentials: each controller writes as its own service account in kube-system (tokens asked
   * through `rest`); the shared informers and events stay on `rest`'s credential. Default false.
   */
  useServiceAccountCredentials?: boolean;
  /** The --horizontal-pod-autoscaler-* flags. */
  hpa?: Omit<HorizontalOptions, 'metrics' | 'workers'>;
  /** Where the work queues' metrics go (default: a registry of this manager's own). */
  metrics?: Registry;
}

export interface ControllerManager {
  /** True while this manager holds the lease and runs controllers. */
  readonly leading: boolean;
  /** The manager's Prometheus metrics (the work queues'), as kube-controller-manager serves them at /metrics. */
  readonly metrics: Registry;
  /** Stops the controllers and gives up the lease. */
  stop(): Promise<void>;
}

type Factory = (ctx: ControllerContext, o: ControllerManagerOptions) => Controller;

/** Every controller by its kube-controller-manager name; all are on by default. */
export const CONTROLLERS: Record<string, Factory> = {
  replicaset: (ctx, o) => new ReplicaSetController(ctx, { ...(o.concurrentReplicaSetSyncs ? { workers: o.concurrentReplicaSetSyncs } : {}) }),
  nodelifecycle: (ctx, o) =>
    new NodeLifecycleController(ctx, {
      ...(o.nodeMonitorGracePeriodMs !== undefined ? { gracePeriodMs: o.nodeMonitorGracePeriodMs } : {}),
      ...(o.nodeMonitorPeriodMs !== undefined ? { monitorPeriodMs: o.nodeMonitorPeriodMs } : {}),
    }),
  nodeipam: (ctx, o) =>
    new NodeIpamController(ctx, {
      ...(o.clusterCidr !== undefined ? { clusterCidr: o.clusterCidr } : {}),
      ...(o.nodeCidrMaskSize !== undefined ? { nodeCidrMaskSize: o.nodeCidrMaskSize } : {}),
    }),
  namespace: (ctx, o) => new NamespaceController(ctx, { ...(o.concurrentNamespaceSyncs ? { workers: o.concurrentNamespaceSyncs } : {}) }),
  garbagecollector: (ctx, o) => new GarbageCollector(ctx, { ...(o.concurrentGcSyncs ? { workers: o.concurrentGcSyncs } : {}) }),
  podgc: (ctx, o) => new PodGcController(ctx, { ...(o.terminatedPodGcThreshold !== undefined ? { terminatedPodGcThreshold: o.terminatedPodGcThreshold } : {}) }),
  deployment: (ctx, o) => new DeploymentController(ctx, { ...(o.concurrentDeploymentSyncs ? { workers: o.concurrentDeploymentSyncs } : {}) }),
  'persistentvolume-binder': (ctx) => new PersistentVolumeController(ctx),
  'persistentvolume-expander': (ctx) => new ExpandController(ctx),
  'pvc-protection': (ctx) => new PvcProtectionController(ctx),
  'pv-protection': (ctx) => new PvProtectionController(ctx),
  'ephemeral-volume': (ctx) => new EphemeralVolumeController(ctx),
  'clusterrole-aggregation': (ctx) => new ClusterRoleAggregationController(ctx),
  daemonset: (ctx, o) => new DaemonSetController(ctx, { ...(o.concurrentDaemonSetSyncs ? { workers: o.concurrentDaemonSetSyncs } : {}) }),
  statefulset: (ctx, o) => new StatefulSetController(ctx, { ...(o.concurrentStatefulSetSyncs ? { workers: o.concurrentStatefulSetSyncs } : {}) }),
  replicationcontroller: (ctx, o) => new ReplicaSetController(ctx, { kind: REPLICATIONCONTROLLER_KIND, ...(o.concurrentRcSyncs ? { workers: o.concurrentRcSyncs } : {}) }),
  job: (ctx, o) => new JobController(ctx, { ...(o.concurrentJobSyncs ? { workers: o.concurrentJobSyncs } : {}) }),
  cronjob: (ctx, o) => new CronJobController(ctx, { ...(o.concurrentCronJobSyncs ? { workers: o.concurrentCronJobSyncs } : {}) }),
  disruption: (ctx) => new DisruptionController(ctx),
  horizontalpodautoscaling: (ctx, o) => new HorizontalController(ctx, o.hpa ?? {}),
  'ttl-after-finished': (ctx, o) => new TtlAfterFinishedController(ctx, { ...(o.concurrentTtlAfterFinishedSyncs ? { workers: o.concurrentTtlAfterFinishedSyncs } : {}) }),
  csrapproving: (ctx) => new CsrApprovingController(ctx),
  csrsigning: (ctx, o) => new CsrSigningController(ctx, { ...o.clusterSigning!, ...(o.clusterSigningDurationMs ? { durationMs: o.clusterSigningDurationMs } : {}) }),
  tokencleaner: (ctx) => new TokenCleanerController(ctx),
  bootstrapsigner: (ctx) => new BootstrapSignerController(ctx),
  endpointslice: (ctx, o) =>
    new EndpointSliceController(ctx, {
      ...(o.concurrentServiceEndpointSyncs ? { workers: o.concurrentServiceEndpointSyncs } : {}),
      ...(o.maxEndpointsPerSlice ? { maxEndpointsPerSlice: o.maxEndpointsPerSlice } : {}),
    }),
  endpoint: (ctx, o) => new EndpointsController(ctx, { ...(o.concurrentEndpointSyncs ? { workers: o.concurrentEndpointSyncs } : {}) }),
  // k3s's name for its LoadBalancer-without-a-cloud controller.
  servicelb: (ctx) => new ServiceLbController(ctx),
};

/** The controllers that --controllers selects, in a stable order. */
export function enabledControllers(spec: string[] = ['*'], known: string[] = Object.keys(CONTROLLERS)): string[] {
  const items = spec.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const s of items) {
    const name = s.replace(/^-/, '');
    if (name !== '*' && !known.includes(name)) throw new Error(`"${name}" is not in the list of known controllers (${known.join(', ')})`);
  }
  const star = items.includes('*');
  return known.filter((n) => !items.includes(`-${n}`) && (star || items.includes(n)));
}

export async function startControllerManager(opts: ControllerManagerOptions): Promise<ControllerManager> {
  const clock = opts.clock ?? realClock;
  const identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
  // As kube-controller-manager, node IPAM runs only with --allocate-node-cidrs, and the CSR signer only with a CA to sign with.
  const names = enabledControllers(opts.controllers).filter((n) => (n !== 'nodeipam' || opts.allocateNodeCidrs !== false) && (n !== 'csrsigning' || opts.clusterSigning));
  const log = logger('controller-manager', { identity });
  const abort = new AbortController();
  let leading = false;
  const metrics = opts.metrics ?? new Registry();
  const queueMetrics = new WorkQueueMetrics(metrics, clock);

  const runControllers = async (signal: AbortSignal): Promise<void> => {
    setMaxListeners(0, signal); // every controller and informer wait listens to it
    let own: Map<string, RestClient> | undefined;
    if (opts.useServiceAccountCredentials) {
      const accounts = Object.fromEntries(names.map((n) => [n, CONTROLLER_SERVICE_ACCOUNTS[n] ?? `${n}-controller`]));
      try {
        own = await serviceAccountClients(opts.rest, accounts, { clock, log, signal });
      } catch (err) {
        if (signal.aborted) return; // stopped (or no longer leading) before the credentials were ready
        throw err;
      }
    }
    leading = true;
    // No controller reads field ownership: the caches do without it (a third of a pod's size), and hold each repeated
    // string once (a third of what is left); pods keep of their spec what controllers read (controllerPodForm).
    const informers = new InformerFactory(opts.rest, { clock, transform: controllerCacheForm });
    const events = new EventBroadcaster(opts.rest, clock);
    const ctx: ControllerContext = {
      rest: opts.rest,
      informers,
      clock,
      recorder: (component) => events.recorder({ component }),
      metrics,
    };
    const controllers = names.map((n) => {
      const c = CONTROLLERS[n]!(own ? { ...ctx, rest: own.get(n)! } : ctx, opts);
      c.queue.instrument(queueMetrics.forQueue(queueNameOf(n)));
      return c;
    });
    informers.start();
    log.info('starting controllers', { controllers: names, serviceAccountCredentials: !!own });
    try {
      await Promise.all(controllers.map((c) => c.run(signal)));
    } finally {
      await informers.stop();
      leading = false;
    }
  };

  let done: Promise<void>;
  if (opts.leaderElect === false) {
    done = runControllers(abort.signal);
  } else {
    const elector = new LeaderElector({
      leases: opts.rest.resource<Lease>(LEASES),
      namespace: opts.leaderElectNamespace ?? 'kube-system',
      name: opts.leaderElectName ?? 'kube-controller-manager',
      identity,
      clock,
      ...(opts.leaseDurationMs !== undefined ? { leaseDurationMs: opts.leaseDurationMs } : {}),
      ...(opts.renewDeadlineMs !== undefined ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
      ...(opts.retryPeriodMs !== undefined ? { retryPeriodMs: opts.retryPeriodMs } : {}),
    });
    done = elector.run(
      {
        onStartedLeading: (signal) => runControllers(signal),
        onNewLeader: (holder) => log.info('new leader', { holder }),
      },
      abort.signal,
    );
  }
  return {
    metrics,
    get leading() {
      return leading;
    },
    async stop() {
      abort.abort(new Error('controller manager stopped'));
      await done;
    },
  };
}
