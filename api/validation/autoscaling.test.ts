import assert from 'node:assert/strict';
import { applyDefaults } from '../defaults.js';
import { hpaToV1, hpaToV2 } from '../hpa-conversion.js';
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerV1 } from '../schemas/autoscaling.js';
import type { KubeObject } from '../schemas/meta.js';
import type { PodDisruptionBudget } from '../schemas/policy.js';
import { examples } from '../../test/support/api-examples.js';
import { validateObject } from './index.js';

const lines = (obj: object): string[] =>
  validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'create' })
    .map((c) => `${c.field}: ${c.message}`)
    .sort();

describe('HorizontalPodAutoscaler (autoscaling/v2)', () => {
  const hpa = examples.horizontalPodAutoscaler;

  it('defaults as kube: minReplicas 1, CPU at 80% without metrics, the behavior filled in (scale-down window left to the controller)', () => {
    const bare = applyDefaults({ ...hpa(), spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 3 } } as HorizontalPodAutoscaler);
    assert.equal(bare.spec.minReplicas, 1);
    assert.deepEqual(bare.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
    assert.equal(bare.spec.behavior, undefined);
    const withBehavior = applyDefaults(hpa());
    assert.deepEqual(withBehavior.spec.behavior, {
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
      scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] },
    });
  });

  it('checks replicas, the target, metric sources and targets, with kube\'s paths and messages', () => {
    const h = hpa();
    h.spec.minReplicas = 0;
    h.spec.maxReplicas = 0;
    assert.deepEqual(lines(h), [
      'spec.maxReplicas: Invalid value: 0: must be greater than 0',
      'spec.minReplicas: Invalid value: 0: must be greater than or equal to 1',
    ]);
    const bad = hpa();
    bad.spec.metrics = [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 0 } } },
      { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue' } } },
      { type: 'Pods', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
      { type: 'Nope' },
    ];
    assert.deepEqual(lines(bad), [
      'spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0',
      'spec.metrics[1].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization',
      'spec.metrics[2].pods: Required value: must populate information for the given metric source',
      'spec.metrics[3].type: Unsupported value: "Nope": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"',
    ]);
    const ref = hpa();
    ref.spec.scaleTargetRef = { kind: '', name: 'a/b' };
    ref.spec.maxReplicas = 1;
    assert.deepEqual(lines(ref), [
      'spec.maxReplicas: Invalid value: 1: must be greater than or equal to `minReplicas`',
      'spec.scaleTargetRef.kind: Required value',
      "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'",
    ], 'a bad target hides the metrics\' errors, as kube');
  });

  it('checks behavior policies', () => {
    const h = hpa();
    h.spec.behavior = { scaleUp: { stabilizationWindowSeconds: 4000, selectPolicy: 'Most', policies: [] }, scaleDown: { policies: [{ type: 'Pods', value: 0, periodSeconds: 1801 }] } };
    assert.deepEqual(lines(h), [
      'spec.behavior.scaleDown.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800',
      'spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero',
      'spec.behavior.scaleUp.policies: Required value: must specify at least one Policy',
      'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most": supported values: "Disabled", "Max", "Min"',
      'spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600',
    ]);
  });
});

describe('HorizontalPodAutoscaler autoscaling/v1 <-> v2 (kube\'s conversion)', () => {
  const v2 = (): HorizontalPodAutoscaler => ({
    ...examples.horizontalPodAutoscaler(),
    status: {
      currentReplicas: 3,
      desiredReplicas: 4,
      lastScaleTime: '2024-01-01T00:00:00Z',
      currentMetrics: [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 70, averageValue: '350m' } } },
        { type: 'Resource', resource: { name: 'memory', current: { averageValue: '100Mi' } } },
      ],
      conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size', lastTransitionTime: '2024-01-01T00:00:00Z' }],
    },
  });

  it('keeps the CPU utilization in v1 fields and everything else in annotations', () => {
    const v1 = hpaToV1(v2());
    assert.equal(v1.apiVersion, 'autoscaling/v1');
    assert.deepEqual(v1.spec, { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 2, maxReplicas: 10, targetCPUUtilizationPercentage: 50 });
    assert.deepEqual(v1.status, { lastScaleTime: '2024-01-01T00:00:00Z', currentReplicas: 3, desiredReplicas: 4, currentCPUUtilizationPercentage: 70 });
    const a = v1.metadata.annotations ?? {};
    assert.deepEqual(JSON.parse(a['autoscaling.alpha.kubernetes.io/metrics'] ?? ''), [{ type: 'Resource', resource: { name: 'memory', targetAverageValue: '200Mi' } }]);
    assert.deepEqual(JSON.parse(a['autoscaling.alpha.kubernetes.io/current-metrics'] ?? '')[1], { type: 'Resource', resource: { name: 'memory', currentAverageValue: '100Mi' } });
    assert.ok(a['autoscaling.alpha.kubernetes.io/behavior'] && a['autoscaling.alpha.kubernetes.io/conditions']);
  });

  it('round-trips through v1 without loss (the CPU metric moves last, as in kube)', () => {
    const back = hpaToV2(hpaToV1(v2()));
    const want = v2();
    want.spec.metrics = [want.spec.metrics![1]!, want.spec.metrics![0]!];
    assert.deepEqual(back, want);
  });

  it('reads a plain v1 object: the CPU target becomes a Utilization metric; garbage in an annotation is ignored', () => {
    const v1: HorizontalPodAutoscalerV1 = {
      apiVersion: 'autoscaling/v1',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'x', annotations: { 'autoscaling.alpha.kubernetes.io/behavior': '{not json', team: 'a' } },
      spec: { scaleTargetRef: { kind: 'Deployment', name: 'x' }, maxReplicas: 4, targetCPUUtilizationPercentage: 40 },
    };
    const out = hpaToV2(v1);
    assert.deepEqual(out.metadata.annotations, { team: 'a' });
    assert.deepEqual(out.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 40 } } }]);
    assert.equal(out.spec.behavior, undefined);
  });
});

describe('PodDisruptionBudget (policy/v1)', () => {
  const pdb = examples.podDisruptionBudget;
  it('refuses minAvailable with maxUnavailable, bad percentages and policies', () => {
    const both: PodDisruptionBudget = { ...pdb(), spec: { minAvailable: 1, maxUnavailable: '120%', selector: { matchLabels: { app: 'web' } } } };
    assert.deepEqual(lines(both), [
      'spec.maxUnavailable: Invalid value: "120%": must not be greater than 100%',
      'spec: Invalid value: {"minAvailable":1,"maxUnavailable":"120%","selector":{"matchLabels":{"app":"web"}}}: minAvailable and maxUnavailable cannot be both set',
    ]);
    const neg: PodDisruptionBudget = { ...pdb(), spec: { minAvailable: -1, unhealthyPodEvictionPolicy: 'Never' } };
    assert.deepEqual(lines(neg), [
      'spec.minAvailable: Invalid value: -1: must be greater than or equal to 0',
      'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"',
    ]);
  });
});
