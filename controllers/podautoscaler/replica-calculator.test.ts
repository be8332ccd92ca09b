import assert from 'node:assert/strict';
import type { Pod } from '../framework/types.js';
import { milliQuantity } from './horizontal-controller.js';
import { podMetricsOf } from './metrics.js';
import { DEFAULT_CALCULATOR_OPTIONS, resourceReplicas, type PodMetrics } from './replica-calculator.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const LONG_AGO = '2026-01-01T11:00:00Z';

function pod(name: string, phase: NonNullable<Pod['status']>['phase'] = 'Running', ready = true, cpu = '100m'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'd' },
    spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu, memory: '100Mi' } } }] },
    status: { phase, startTime: LONG_AGO, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: LONG_AGO }] },
  };
}
const usage = (entries: Record<string, number>): PodMetrics => new Map(Object.entries(entries).map(([n, value]) => [n, { value, timestampMs: NOW, windowMs: 10_000 }]));
const cpu50 = { resource: 'cpu', utilization: 50 };

describe('HPA replica calculator (kube replica_calculator.go)', () => {
  it('proposes ceil(ratio x ready pods), and keeps the count within the 0.1 tolerance', () => {
    const pods = [pod('a'), pod('b')];
    assert.equal(resourceReplicas(2, cpu50, pods, usage({ a: 100, b: 100 }), DEFAULT_CALCULATOR_OPTIONS, NOW).replicas, 4);
    const within = resourceReplicas(2, cpu50, pods, usage({ a: 54, b: 54 }), DEFAULT_CALCULATOR_OPTIONS, NOW);
    assert.equal(within.replicas, 2);
    assert.equal(within.utilization, 54);
    assert.equal(within.rawAverage, 54);
  });

  it('counts a pod without metrics at the target on a scale-down', () => {
    const pods = [pod('a'), pod('b'), pod('c'), pod('d')];
    // 20% on three pods would be 2 replicas; the missing one at 100% makes it 40% over four: 4.
    assert.equal(resourceReplicas(4, cpu50, pods, usage({ a: 20, b: 20, c: 20 }), DEFAULT_CALCULATOR_OPTIONS, NOW).replicas, 4);
  });

  it('counts unready pods at zero on a scale-up, and keeps the count when that flips the direction', () => {
    const pods = [pod('a'), pod('b', 'Pending'), pod('c', 'Pending')];
    assert.equal(resourceReplicas(3, cpu50, pods, usage({ a: 100 }), DEFAULT_CALCULATOR_OPTIONS, NOW).replicas, 3);
    // A CPU sample of a pod that has never been ready (ready changed within the readiness delay of its start) is not used.
    const young = pod('y', 'Running', false);
    young.status!.startTime = LONG_AGO;
    young.status!.conditions![0]!.lastTransitionTime = new Date(Date.parse(LONG_AGO) + 10_000).toISOString();
    assert.equal(resourceReplicas(2, cpu50, [pod('a'), young], usage({ a: 100, y: 100 }), DEFAULT_CALCULATOR_OPTIONS, NOW).replicas, 2);
  });

  it('ignores deleting and failed pods, and fails without requests or metrics', () => {
    const gone = pod('g');
    gone.metadata.deletionTimestamp = LONG_AGO;
    assert.equal(resourceReplicas(2, cpu50, [pod('a'), gone, pod('f', 'Failed')], usage({ a: 100, g: 1000, f: 1000 }), DEFAULT_CALCULATOR_OPTIONS, NOW).replicas, 2);
    const bare = pod('a');
    delete bare.spec.containers[0]!.resources;
    assert.throws(() => resourceReplicas(1, cpu50, [bare], usage({ a: 10 }), DEFAULT_CALCULATOR_OPTIONS, NOW), /missing request for cpu in container c of Pod a/);
    assert.throws(() => resourceReplicas(1, cpu50, [pod('a', 'Pending')], usage({ a: 10 }), DEFAULT_CALCULATOR_OPTIONS, NOW), /did not receive metrics for targeted pods/);
    assert.throws(() => resourceReplicas(1, cpu50, [], usage({}), DEFAULT_CALCULATOR_OPTIONS, NOW), /no pods returned by selector/);
  });

  it('scales on an average value (memory) without requests', () => {
    const mib = 1024 * 1024 * 1000; // milli-bytes
    const r = resourceReplicas(2, { resource: 'memory', averageValue: 100 * mib }, [pod('a'), pod('b')], usage({ a: 300 * mib, b: 100 * mib }), DEFAULT_CALCULATOR_OPTIONS, NOW);
    assert.equal(r.replicas, 4);
    assert.equal(r.utilization, undefined);
    assert.equal(milliQuantity(r.rawAverage), '209715200');
  });

  it('prints milli-units as kube canonical quantities', () => {
    assert.deepEqual([250, 1000, 2_000_000, 1500, 0].map(milliQuantity), ['250m', '1', '2k', '1500m', '0']);
  });
});

describe('HPA pod metrics from metrics.k8s.io', () => {
  const item = (name: string, containers: { name: string; usage: Record<string, string> }[]) => ({ metadata: { name }, timestamp: '2026-01-01T12:00:00Z', window: '10.5s', containers });
  it('sums the containers in milli-units, or takes one container, and leaves out pods lacking the resource', () => {
    const items = [
      item('a', [{ name: 'app', usage: { cpu: '250000000n', memory: '10Mi' } }, { name: 'side', usage: { cpu: '50m', memory: '1Mi' } }]),
      item('b', [{ name: 'app', usage: { memory: '1Mi' } }]),
    ];
    const cpu = podMetricsOf(items, 'cpu');
    assert.deepEqual([...cpu.keys()], ['a']);
    assert.deepEqual(cpu.get('a'), { value: 300, timestampMs: Date.parse('2026-01-01T12:00:00Z'), windowMs: 10_500 });
    assert.equal(podMetricsOf(items, 'memory', 'side').get('a')?.value, 1024 * 1024 * 1000);
    assert.throws(() => podMetricsOf([], 'cpu'), /no metrics returned from resource metrics API/);
  });
});
