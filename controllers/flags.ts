// kube-controller-manager's flags (same names and defaults) for `ketch controller-manager` and `ketch server`: a flag
// table (the CLI turns it into options), and the conversion of the values given to ControllerManagerOptions.
import { DEFAULT_CLUSTER_CIDR } from '../api/network.js';
import { FlagError, parseFlagArgs, readFlags, type FlagInput, type FlagTable } from '../lib/flags.js';
import type { ControllerManagerOptions } from './manager.js';

export const CONTROLLER_MANAGER_FLAGS: FlagTable = [
  { name: '--kubeconfig', kind: 'string', arg: 'file', description: 'path to a kubeconfig with the API server and credentials' },
  { name: '--leader-elect', kind: 'bool', default: 'true', description: 'elect a leader on a Lease before running the controllers (for replicated managers)' },
  { name: '--leader-elect-lease-duration', kind: 'duration', default: '15s', description: 'how long non-leaders wait before taking over an unrenewed lease' },
  { name: '--leader-elect-renew-deadline', kind: 'duration', default: '10s', description: 'how long the leader keeps trying to renew before it stops leading' },
  { name: '--leader-elect-retry-period', kind: 'duration', default: '2s', description: 'how long to wait between attempts to acquire or renew' },
  { name: '--leader-elect-resource-namespace', kind: 'string', default: 'kube-system', description: 'namespace of the leader-election Lease' },
  { name: '--leader-elect-resource-name', kind: 'string', default: 'kube-controller-manager', description: 'name of the leader-election Lease' },
  // Not a kube-controller-manager flag (it always uses <hostname>_<uuid>): replicas on one host are told apart by it.
  { name: '--leader-elect-identity', kind: 'string', description: 'holder identity written to the leader-election Lease (default <hostname>_<uuid>)' },
  { name: '--controllers', kind: 'list', default: '*', description: "controllers to enable: '*' for all, 'foo' to enable foo, '-foo' to disable foo (replicaset, deployment, job, cronjob, ttl-after-finished, disruption, horizontalpodautoscaling, daemonset, statefulset, replicationcontroller, endpointslice, endpoint, servicelb, garbagecollector, namespace, nodelifecycle, nodeipam, podgc, clusterrole-aggregation, persistentvolume-binder, persistentvolume-expander, pvc-protection, pv-protection, ephemeral-volume, csrapproving, csrsigning, tokencleaner, bootstrapsigner)" },
  { name: '--cluster-cidr', kind: 'string', default: DEFAULT_CLUSTER_CIDR, description: 'CIDR range for pods in the cluster' },
  { name: '--allocate-node-cidrs', kind: 'bool', default: 'true', description: 'allocate a pod CIDR to each node from --cluster-cidr' },
  { name: '--node-cidr-mask-size', kind: 'int', default: '24', description: 'mask size of each node\'s pod CIDR' },
  { name: '--node-monitor-grace-period', kind: 'duration', default: '40s', description: 'how long a node may go without renewing its Lease before it is marked unhealthy' },
  { name: '--node-monitor-period', kind: 'duration', default: '5s', description: 'how often node health is checked' },
  { name: '--concurrent-replicaset-syncs', kind: 'int', default: '5', description: 'ReplicaSets synced at once' },
  { name: '--concurrent-deployment-syncs', kind: 'int', default: '5', description: 'Deployments synced at once' },
  { name: '--concurrent-daemonset-syncs', kind: 'int', default: '2', description: 'DaemonSets synced at once' },
  { name: '--concurrent-statefulset-syncs', kind: 'int', default: '5', description: 'StatefulSets synced at once' },
  { name: '--concurrent-rc-syncs', kind: 'int', default: '5', description: 'ReplicationControllers synced at once' },
  { name: '--concurrent-gc-syncs', kind: 'int', default: '20', description: 'garbage collector workers' },
  { name: '--concurrent-namespace-syncs', kind: 'int', default: '10', description: 'namespaces synced at once' },
  { name: '--concurrent-job-syncs', kind: 'int', default: '20', description: 'Jobs synced at once' },
  { name: '--concurrent-cron-job-syncs', kind: 'int', default: '20', description: 'CronJobs synced at once' },
  { name: '--concurrent-ttl-after-finished-syncs', kind: 'int', default: '5', description: 'finished Jobs checked for deletion at once (ttl-after-finished)' },
  { name: '--concurrent-service-endpoint-syncs', kind: 'int', default: '5', description: 'services whose EndpointSlices are synced at once' },
  { name: '--concurrent-endpoint-syncs', kind: 'int', default: '5', description: 'services whose Endpoints are synced at once' },
  { name: '--max-endpoints-per-slice', kind: 'int', default: '100', description: 'endpoints in one EndpointSlice (at most 1000)' },
  { name: '--cluster-signing-cert-file', kind: 'string', arg: 'file', description: 'CA certificate the CSR signer (csrsigning) signs with; without it csrsigning does not run (ketch server: the cluster CA)' },
  { name: '--cluster-signing-key-file', kind: 'string', arg: 'file', description: 'key of --cluster-signing-cert-file' },
  { name: '--cluster-signing-duration', kind: 'duration', default: '8760h0m0s', description: 'the longest validity of a certificate the CSR signer issues' },
  // kube's default is false; ketch's is true, as kubeadm and k3s run it: system:kube-controller-manager alone may not write workloads' pods.
  { name: '--use-service-account-credentials', kind: 'bool', default: 'true', description: 'run each controller as its own service account in kube-system (system:controller:NAME roles)' },
  { name: '--horizontal-pod-autoscaler-sync-period', kind: 'duration', default: '15s', description: 'how often each HorizontalPodAutoscaler is reconciled' },
  { name: '--horizontal-pod-autoscaler-tolerance', kind: 'string', default: '0.1', description: 'the least ratio of usage to target, away from 1.0, for which the autoscaler scales' },
  { name: '--horizontal-pod-autoscaler-downscale-stabilization', kind: 'duration', default: '5m0s', description: 'how far back the autoscaler looks for higher recommendations before scaling down' },
  { name: '--horizontal-pod-autoscaler-cpu-initialization-period', kind: 'duration', default: '5m0s', description: 'after a pod starts, how long its CPU samples are checked against its readiness' },
  { name: '--horizontal-pod-autoscaler-initial-readiness-delay', kind: 'duration', default: '30s', description: 'after a pod starts, how long its readiness changes count as its first readiness' },
  { name: '--terminated-pod-gc-threshold', kind: 'int', default: '12500', description: 'terminated pods kept before the pod garbage collector deletes the oldest (0 disables)' },
];

/** Options from the flags given (by name, as the CLI or parseFlagArgs gives them), defaults filled in. */
export function controllerManagerOptionsFromFlags(input: FlagInput): { kubeconfig?: string; options: Omit<ControllerManagerOptions, 'rest'> } {
  const f = readFlags(CONTROLLER_MANAGER_FLAGS, input);
  const kubeconfig = f.optional('--kubeconfig');
  const identity = f.optional('--leader-elect-identity');
  const maxEndpointsPerSlice = f.int('--max-endpoints-per-slice');
  const hpaTolerance = Number(f.string('--horizontal-pod-autoscaler-tolerance'));
  if (!Number.isFinite(hpaTolerance) || hpaTolerance < 0) throw new Error(`invalid argument "${f.string('--horizontal-pod-autoscaler-tolerance')}" for "--horizontal-pod-autoscaler-tolerance" flag: must be a number >= 0`);
  // kube-controller-manager checks the range too.
  if (maxEndpointsPerSlice < 1 || maxEndpointsPerSlice > 1000) {
    throw new Error(`invalid argument "${maxEndpointsPerSlice}" for "--max-endpoints-per-slice" flag: must be between 1 and 1000`);
  }
  const signingCert = f.optional('--cluster-signing-cert-file');
  const signingKey = f.optional('--cluster-signing-key-file');
  if (!signingCert !== !signingKey) throw new FlagError('--cluster-signing-cert-file and --cluster-signing-key-file go together');
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    options: {
      ...(identity ? { identity } : {}),
      leaderElect: f.bool('--leader-elect'),
      leaseDurationMs: f.durationMs('--leader-elect-lease-duration'),
      renewDeadlineMs: f.durationMs('--leader-elect-renew-deadline'),
      retryPeriodMs: f.durationMs('--leader-elect-retry-period'),
      leaderElectNamespace: f.string('--leader-elect-resource-namespace'),
      leaderElectName: f.string('--leader-elect-resource-name'),
      controllers: f.list('--controllers'),
      clusterCidr: f.string('--cluster-cidr'),
      allocateNodeCidrs: f.bool('--allocate-node-cidrs'),
      nodeCidrMaskSize: f.int('--node-cidr-mask-size'),
      nodeMonitorGracePeriodMs: f.durationMs('--node-monitor-grace-period'),
      nodeMonitorPeriodMs: f.durationMs('--node-monitor-period'),
      concurrentReplicaSetSyncs: f.int('--concurrent-replicaset-syncs'),
      concurrentDeploymentSyncs: f.int('--concurrent-deployment-syncs'),
      concurrentDaemonSetSyncs: f.int('--concurrent-daemonset-syncs'),
      concurrentStatefulSetSyncs: f.int('--concurrent-statefulset-syncs'),
      concurrentRcSyncs: f.int('--concurrent-rc-syncs'),
      concurrentGcSyncs: f.int('--concurrent-gc-syncs'),
      concurrentNamespaceSyncs: f.int('--concurrent-namespace-syncs'),
      concurrentJobSyncs: f.int('--concurrent-job-syncs'),
      concurrentCronJobSyncs: f.int('--concurrent-cron-job-syncs'),
      concurrentTtlAfterFinishedSyncs: f.int('--concurrent-ttl-after-finished-syncs'),
      concurrentServiceEndpointSyncs: f.int('--concurrent-service-endpoint-syncs'),
      concurrentEndpointSyncs: f.int('--concurrent-endpoint-syncs'),
      maxEndpointsPerSlice,
      terminatedPodGcThreshold: f.int('--terminated-pod-gc-threshold'),
      ...(signingCert && signingKey ? { clusterSigning: { certFile: signingCert, keyFile: signingKey } } : {}),
      clusterSigningDurationMs: f.durationMs('--cluster-signing-duration'),
      useServiceAccountCredentials: f.bool('--use-service-account-credentials'),
      hpa: {
        syncPeriodMs: f.durationMs('--horizontal-pod-autoscaler-sync-period'),
        tolerance: hpaTolerance,
        downscaleStabilizationMs: f.durationMs('--horizontal-pod-autoscaler-downscale-stabilization'),
        cpuInitializationPeriodMs: f.durationMs('--horizontal-pod-autoscaler-cpu-initialization-period'),
        initialReadinessDelayMs: f.durationMs('--horizontal-pod-autoscaler-initial-readiness-delay'),
      },
    },
  };
}

/** Parses raw arguments (`--flag=value`, `--flag value`, `--bool`, `--bool=false`); unknown flags are an error. */
export function parseControllerManagerFlags(argv: string[]): { kubeconfig?: string; options: Omit<ControllerManagerOptions, 'rest'> } {
  return controllerManagerOptionsFromFlags(parseFlagArgs(CONTROLLER_MANAGER_FLAGS, argv));
}
