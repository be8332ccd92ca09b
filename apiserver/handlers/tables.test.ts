import { strict as assert } from 'node:assert';
import type { Obj } from '../registry/object.js';
import { podSummary } from './tables.js';

const NOW = new Date('2024-01-01T00:10:00Z');
const pod = (spec: Record<string, unknown>, status: Record<string, unknown>, meta: Record<string, unknown> = {}): Obj =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ...meta }, spec, status }) as Obj;
const running = (name: string, extra: Record<string, unknown> = {}) => ({ name, state: { running: {} }, ready: true, started: true, restartCount: 0, ...extra });
const spec = {
  initContainers: [{ name: 'side', restartPolicy: 'Always' }, { name: 'setup' }],
  containers: [{ name: 'app' }],
};

describe('pod table READY, STATUS, RESTARTS (kube printPod)', () => {
  it('counts a started sidecar among the containers, and its restarts with how long ago', () => {
    const s = podSummary(
      pod(spec, {
        phase: 'Running',
        conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }],
        initContainerStatuses: [
          running('side', { restartCount: 2, lastState: { terminated: { exitCode: 3, finishedAt: '2024-01-01T00:09:00Z' } } }),
          { name: 'setup', state: { terminated: { exitCode: 0 } }, ready: true, restartCount: 0 },
        ],
        containerStatuses: [running('app')],
      }),
      NOW,
    );
    assert.deepEqual(s, { ready: '2/2', status: 'Running', restarts: '2 (60s ago)' });
  });

  it('shows Init:i/n for the first init container not done (a sidecar not started yet)', () => {
    const s = podSummary(
      pod(spec, {
        phase: 'Pending',
        initContainerStatuses: [{ name: 'side', state: { running: {} }, started: false, ready: false, restartCount: 0 }, { name: 'setup', state: { waiting: { reason: 'PodInitializing' } } }],
        containerStatuses: [{ name: 'app', state: { waiting: { reason: 'PodInitializing' } }, ready: false, restartCount: 0 }],
      }),
      NOW,
    );
    assert.deepEqual(s, { ready: '0/2', status: 'Init:0/2', restarts: '0' });
    const failed = podSummary(pod({ containers: [{ name: 'app' }], initContainers: [{ name: 'i' }] }, { phase: 'Failed', initContainerStatuses: [{ name: 'i', state: { terminated: { exitCode: 2 } }, restartCount: 0 }] }), NOW);
    assert.equal(failed.status, 'Init:ExitCode:2');
  });

  it('a finished Job pod whose sidecar was stopped reads Completed; a deleted running pod Terminating', () => {
    const done = podSummary(
      pod({ restartPolicy: 'Never', ...spec }, {
        phase: 'Succeeded',
        initContainerStatuses: [{ name: 'side', state: { terminated: { exitCode: 143, reason: 'Error' } }, started: false, ready: false, restartCount: 0 }, { name: 'setup', state: { terminated: { exitCode: 0 } } }],
        conditions: [{ type: 'Initialized', status: 'True' }],
        containerStatuses: [{ name: 'app', state: { terminated: { exitCode: 0, reason: 'Completed' } }, ready: false, restartCount: 0 }],
      }, { deletionTimestamp: '2024-01-01T00:00:00Z' }),
      NOW,
    );
    assert.deepEqual(done, { ready: '0/2', status: 'Completed', restarts: '0' }, 'a terminal pod is not shown Terminating');
    const deleting = podSummary(pod({ containers: [{ name: 'app' }] }, { phase: 'Running', containerStatuses: [running('app')] }, { deletionTimestamp: '2024-01-01T00:00:00Z' }), NOW);
    assert.equal(deleting.status, 'Terminating');
  });
});
