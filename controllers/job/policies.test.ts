import assert from 'node:assert/strict';
import { parseIndexes } from '../../api/indexes.js';
import type { Pod } from '../framework/types.js';
import { matchPodFailurePolicy, matchSuccessPolicy } from './policies.js';
import type { PodFailurePolicy } from './types.js';

function failedPod(codes: Record<string, number>, conditions: Array<{ type: string; status: 'True' | 'False' }> = [], init: Record<string, number> = {}): Pod {
  const st = (m: Record<string, number>) => Object.entries(m).map(([name, exitCode]) => ({ name, ready: false, restartCount: 0, image: 'i', imageID: '', state: { terminated: { exitCode } } }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns' },
    spec: { containers: [] },
    status: { phase: 'Failed', containerStatuses: st(codes), initContainerStatuses: st(init), conditions },
  };
}

describe('pod failure policy', () => {
  const policy: PodFailurePolicy = {
    rules: [
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } },
      { action: 'Count', onExitCodes: { operator: 'NotIn', values: [1, 2] } },
    ],
  };
  it('takes the first matching rule', () => {
    assert.deepEqual(matchPodFailurePolicy(policy, failedPod({ main: 42 }, [{ type: 'DisruptionTarget', status: 'True' }])), { countFailed: false, action: 'Ignore' });
    assert.deepEqual(matchPodFailurePolicy(policy, failedPod({ main: 42 })), {
      failJobMessage: 'Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1',
      countFailed: true,
      action: 'FailJob',
    });
    assert.deepEqual(matchPodFailurePolicy(policy, failedPod({ main: 7 })), { countFailed: true, action: 'Count' });
  });
  it('counts a pod no rule matches, and one of another container or with exit code 0', () => {
    assert.deepEqual(matchPodFailurePolicy(policy, failedPod({ main: 1 })), { countFailed: true });
    assert.deepEqual(matchPodFailurePolicy(policy, failedPod({ side: 42, main: 0 }, [{ type: 'DisruptionTarget', status: 'False' }])).action, 'Count');
    assert.deepEqual(matchPodFailurePolicy(undefined, failedPod({ main: 42 })), { countFailed: true });
  });
  it('looks at init containers after the app containers', () => {
    assert.equal(matchPodFailurePolicy(policy, failedPod({}, [], { main: 42 })).action, 'FailJob');
  });
  it('reports a FailJob on a condition with the condition in the message', () => {
    const p: PodFailurePolicy = { rules: [{ action: 'FailJob', onPodConditions: [{ type: 'ConfigIssue' }] }] };
    assert.equal(matchPodFailurePolicy(p, failedPod({ main: 1 }, [{ type: 'ConfigIssue', status: 'True' }])).failJobMessage, 'Pod ns/p has condition ConfigIssue matching FailJob rule at index 0');
  });
});

describe('success policy', () => {
  const done = (s: string) => parseIndexes(s, 100);
  it('is met when all of a rule\'s indexes succeeded, or succeededCount of them', () => {
    const policy = { rules: [{ succeededIndexes: '0-2,5' }, { succeededIndexes: '10-19', succeededCount: 3 }, { succeededCount: 50 }] };
    assert.equal(matchSuccessPolicy(policy, 100, done('0-2')), undefined);
    assert.equal(matchSuccessPolicy(policy, 100, done('0-3,5')), 'Matched rules at index 0');
    assert.equal(matchSuccessPolicy(policy, 100, done('11,13,15,30-40')), 'Matched rules at index 1');
    assert.equal(matchSuccessPolicy(policy, 100, done('11,13,30-40')), undefined, 'two of 10-19 are not three');
    assert.equal(matchSuccessPolicy(policy, 100, done('40-89')), 'Matched rules at index 2');
    assert.equal(matchSuccessPolicy(undefined, 100, done('0-99')), undefined);
    assert.equal(matchSuccessPolicy(policy, 100, []), undefined);
  });
});
