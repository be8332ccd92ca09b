import assert from 'node:assert/strict';
import { ConfigError, configDurationMs, DEFAULT_PLUGINS, parseConfig, resolveProfile } from './config.js';

const allPoints = () => true;

describe('scheduler configuration', () => {
  it('parses a KubeSchedulerConfiguration with profiles, weights and percentageOfNodesToScore', () => {
    const cfg = parseConfig(`
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 20
profiles:
  - schedulerName: default-scheduler
    plugins:
      score:
        disabled: [{ name: ImageLocality }]
        enabled: [{ name: NodeResourcesBalancedAllocation, weight: 5 }]
  - schedulerName: batch
    percentageOfNodesToScore: 50
    pluginConfig:
      - name: NodeResourcesFit
        args: { scoringStrategy: { type: MostAllocated } }
`);
    const isScore = (n: string, p: string) => p !== 'score' || !['NodeUnschedulable', 'NodeName', 'NodePorts', 'DefaultPreemption', 'DefaultBinder'].includes(n);
    const def = resolveProfile(cfg.profiles![0]!, cfg, isScore);
    assert.equal(def.percentageOfNodesToScore, 20);
    assert.ok(!def.points.score.some((s) => s.name === 'ImageLocality'));
    assert.deepEqual(def.points.score.find((s) => s.name === 'NodeResourcesBalancedAllocation'), { name: 'NodeResourcesBalancedAllocation', weight: 5 });
    assert.deepEqual(def.points.score.find((s) => s.name === 'TaintToleration'), { name: 'TaintToleration', weight: 3 });
    const batch = resolveProfile(cfg.profiles![1]!, cfg, isScore);
    assert.equal(batch.schedulerName, 'batch');
    assert.equal(batch.percentageOfNodesToScore, 50);
    assert.deepEqual(batch.args.get('NodeResourcesFit'), { scoringStrategy: { type: 'MostAllocated' } });
  });

  it('keeps the default filter order', () => {
    const r = resolveProfile({}, {}, allPoints);
    assert.deepEqual(r.points.filter, DEFAULT_PLUGINS.map((p) => p.name));
  });

  it('rejects bad documents, duplicate profiles, weights and percentages', () => {
    assert.throws(() => parseConfig('kind: Pod'), ConfigError);
    assert.throws(() => parseConfig('- a'), /mapping/);
    assert.throws(() => parseConfig('profiles: [{schedulerName: a}, {schedulerName: a}]'), /duplicate profile/);
    assert.throws(() => resolveProfile({ plugins: { score: { enabled: [{ name: 'X', weight: -1 }] } } }, {}, allPoints), /weight/);
    assert.throws(() => resolveProfile({ percentageOfNodesToScore: 120 }, {}, allPoints), /between 0 and 100/);
  });

  it('reads duration fields, with a fallback when unset', () => {
    assert.equal(configDurationMs('15s', 0), 15_000);
    assert.equal(configDurationMs('1m30s', 0), 90_000);
    assert.equal(configDurationMs(undefined, 7), 7);
    assert.throws(() => configDurationMs('soon', 0), (e: unknown) => e instanceof ConfigError && /invalid duration "soon"/.test(e.message));
  });
});
