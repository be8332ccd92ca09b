import assert from 'node:assert/strict';
import { parseControllerManagerFlags } from './flags.js';
import { enabledControllers } from './manager.js';

describe('controller manager flags', () => {
  it('has kube-controller-manager defaults', () => {
    const { kubeconfig, options } = parseControllerManagerFlags([]);
    assert.equal(kubeconfig, undefined);
    assert.equal(options.leaderElect, true);
    assert.equal(options.nodeMonitorGracePeriodMs, 40_000);
    assert.equal(options.clusterCidr, '10.42.0.0/16');
    assert.equal(options.nodeCidrMaskSize, 24);
    assert.deepEqual(options.controllers, ['*']);
    assert.equal(options.leaderElectName, 'kube-controller-manager');
    assert.equal(options.identity, undefined, 'the manager picks <hostname>_<uuid>');
    assert.equal(options.concurrentDaemonSetSyncs, 2);
    assert.equal(options.concurrentStatefulSetSyncs, 5);
    assert.equal(options.concurrentRcSyncs, 5);
    assert.equal(options.concurrentServiceEndpointSyncs, 5);
    assert.equal(options.concurrentEndpointSyncs, 5);
    assert.equal(options.maxEndpointsPerSlice, 100);
  });

  it('takes the endpoint controllers\' flags and bounds --max-endpoints-per-slice', () => {
    const { options } = parseControllerManagerFlags(['--concurrent-service-endpoint-syncs=2', '--concurrent-endpoint-syncs', '3', '--max-endpoints-per-slice=1000']);
    assert.equal(options.concurrentServiceEndpointSyncs, 2);
    assert.equal(options.concurrentEndpointSyncs, 3);
    assert.equal(options.maxEndpointsPerSlice, 1000);
    assert.throws(() => parseControllerManagerFlags(['--max-endpoints-per-slice=1001']), /between 1 and 1000/);
  });

  it('parses --flag=value, --flag value and booleans; rejects unknown flags', () => {
    const { kubeconfig, options } = parseControllerManagerFlags([
      '--kubeconfig', '/tmp/k', '--leader-elect=false', '--controllers=*,-nodeipam', '--cluster-cidr', '10.0.0.0/8', '--node-monitor-grace-period=1m', '--concurrent-gc-syncs', '3',
      '--leader-elect-identity=cm-a',
    ]);
    assert.equal(kubeconfig, '/tmp/k');
    assert.equal(options.leaderElect, false);
    assert.deepEqual(options.controllers, ['*', '-nodeipam']);
    assert.equal(options.clusterCidr, '10.0.0.0/8');
    assert.equal(options.nodeMonitorGracePeriodMs, 60_000);
    assert.equal(options.concurrentGcSyncs, 3);
    assert.equal(options.identity, 'cm-a');
    assert.throws(() => parseControllerManagerFlags(['--bogus']), /unknown flag: --bogus/);
    assert.throws(() => parseControllerManagerFlags(['--leader-elect=maybe']), /invalid argument "maybe" for "--leader-elect" flag/);
    assert.throws(() => parseControllerManagerFlags(['--cluster-cidr']), /needs an argument/);
    assert.throws(() => parseControllerManagerFlags(['--node-monitor-period=5']), /invalid argument "5" for "--node-monitor-period" flag: time: missing unit/);
    assert.throws(() => parseControllerManagerFlags(['--concurrent-gc-syncs=-1']), /invalid argument "-1" for "--concurrent-gc-syncs"/);
  });

  it('takes kube-controller-manager\'s batch flags: 20 Job and CronJob workers by default (kube: 5), 5 ttl-after-finished', () => {
    const { options } = parseControllerManagerFlags(['--concurrent-job-syncs=7', '--concurrent-ttl-after-finished-syncs', '2']);
    assert.equal(options.concurrentJobSyncs, 7);
    assert.equal(options.concurrentCronJobSyncs, 20);
    assert.equal(parseControllerManagerFlags([]).options.concurrentJobSyncs, 20);
    assert.equal(options.concurrentTtlAfterFinishedSyncs, 2);
  });

  it('takes the --horizontal-pod-autoscaler-* flags with kube\'s defaults', () => {
    assert.deepEqual(parseControllerManagerFlags([]).options.hpa, { syncPeriodMs: 15_000, tolerance: 0.1, downscaleStabilizationMs: 300_000, cpuInitializationPeriodMs: 300_000, initialReadinessDelayMs: 30_000 });
    const { options } = parseControllerManagerFlags(['--horizontal-pod-autoscaler-sync-period=30s', '--horizontal-pod-autoscaler-tolerance=0.05', '--horizontal-pod-autoscaler-downscale-stabilization=1m']);
    assert.deepEqual([options.hpa?.syncPeriodMs, options.hpa?.tolerance, options.hpa?.downscaleStabilizationMs], [30_000, 0.05, 60_000]);
    assert.throws(() => parseControllerManagerFlags(['--horizontal-pod-autoscaler-tolerance=lots']), /invalid argument "lots" for "--horizontal-pod-autoscaler-tolerance" flag/);
  });

  it('selects controllers as --controllers does', () => {
    const volume = ['ephemeral-volume', 'persistentvolume-binder', 'persistentvolume-expander', 'pv-protection', 'pvc-protection'];
    assert.deepEqual([...enabledControllers(['*'])].sort(), [...volume, 'bootstrapsigner', 'clusterrole-aggregation', 'cronjob', 'csrapproving', 'csrsigning', 'daemonset', 'deployment', 'disruption', 'endpoint', 'endpointslice', 'garbagecollector', 'horizontalpodautoscaling', 'job', 'namespace', 'nodeipam', 'nodelifecycle', 'podgc', 'replicaset', 'replicationcontroller', 'servicelb', 'statefulset', 'tokencleaner', 'ttl-after-finished'].sort());
    assert.deepEqual([...enabledControllers(['*', '-garbagecollector', '-nodeipam', '-daemonset', '-statefulset', '-replicationcontroller', '-clusterrole-aggregation', '-ttl-after-finished', '-servicelb', '-endpoint', '-disruption', '-horizontalpodautoscaling', ...volume.map((v) => `-${v}`), '-csrapproving', '-csrsigning', '-tokencleaner', '-bootstrapsigner'])].sort(), ['cronjob', 'deployment', 'endpointslice', 'job', 'namespace', 'nodelifecycle', 'podgc', 'replicaset']);
    assert.deepEqual(enabledControllers(['deployment']), ['deployment']);
    assert.throws(() => enabledControllers(['bogus']), /not in the list of known controllers/);
  });
});
