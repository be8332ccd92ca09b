// The agent's status writer against a real API server: conditions it does not own (DisruptionTarget, a readiness
// gate's) survive its writes, also when they were written after the copy of the pod it computed from.
import { strict as assert } from 'node:assert';
import type { Pod, PodCondition } from '../api/index.js';
import type { ResourceClient } from '../client/index.js';
import { FakeClock } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import type { ContainerStatus as CriStatus } from './cri/index.js';
import { PODS } from './resources.js';
import { PodState, type Observed } from './pod-state.js';
import { writePodStatus, type StatusWriterContext } from './pod-status-writer.js';
import { startTestApiServer, type TestApiServer } from '../test/support/cluster.js';

const DISRUPTED: PodCondition = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting', lastTransitionTime: '2026-01-01T00:00:00Z' };

/** The runtime's view: the one container running since the clock's start, ready. */
const running = (clock: FakeClock): Observed => ({
  init: new Map(),
  app: new Map([['main', { current: { id: 'c1', state: 'CONTAINER_RUNNING', startedAt: String(BigInt(clock.now()) * 1_000_000n), exitCode: 0 } as CriStatus, ready: true, started: true }]]),
  podIP: '10.0.0.5',
});

const cond = (p: Pod, type: string): PodCondition | undefined => p.status?.conditions?.find((c) => c.type === type);

describe('pod status writer (kubelet status manager: conditions it does not own are kept)', function () {
  this.timeout(30_000);
  let cluster: TestApiServer;
  let pods: ResourceClient<Pod>;
  let ctx: StatusWriterContext;
  let serial = 0;
  const clock = new FakeClock();

  before(async () => {
    cluster = await startTestApiServer();
    pods = cluster.rest.resource<Pod>(PODS);
    ctx = { pods, clock, hostIP: '192.0.2.10', runtimeName: 'ketch' };
  });
  after(() => cluster?.stop());

  const createPod = (spec: Partial<Pod['spec']> = {}): Promise<Pod> =>
    pods.create('default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `w-${++serial}`, namespace: 'default' }, spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'busybox' }], ...spec } } as Pod);
  /** What the eviction API does first: DisruptionTarget in the pod's status, on a fresh read. */
  const disrupt = async (p: Pod): Promise<Pod> => {
    const fresh = await pods.get('default', p.metadata.name ?? '');
    return pods.updateStatus({ ...fresh, status: { ...fresh.status, conditions: [...(fresh.status?.conditions ?? []), DISRUPTED] } });
  };

  it('keeps a DisruptionTarget written after the copy the agent computed from (the write conflicts and is computed again)', async () => {
    const created = await createPod();
    const state = new PodState(created, logger('status-writer-test'), () => undefined);
    await disrupt(created);
    // The agent's copy is older than the condition: its write must not take it away.
    assert.equal(cond(state.pod, 'DisruptionTarget'), undefined);
    const status = await writePodStatus(ctx, state, running(clock));
    assert.equal(status.phase, 'Running');
    const now = await pods.get('default', created.metadata.name ?? '');
    assert.equal(now.status?.phase, 'Running');
    assert.equal(cond(now, 'Ready')?.status, 'True');
    assert.deepEqual(cond(now, 'DisruptionTarget'), DISRUPTED);
    assert.deepEqual(cond(state.pod, 'DisruptionTarget'), DISRUPTED, 'the agent keeps the pod it wrote');
  });

  it('keeps the conditions it does not own and replaces those it does, from a current copy', async () => {
    const created = await createPod({ readinessGates: [{ conditionType: 'example.com/lb' }] });
    const fresh = await pods.get('default', created.metadata.name ?? '');
    const other = await pods.updateStatus({
      ...fresh,
      status: {
        conditions: [
          { type: 'Ready', status: 'False', reason: 'SomeoneElse', lastTransitionTime: '2026-01-01T00:00:00Z' },
          { type: 'example.com/lb', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' },
          DISRUPTED,
        ],
      },
    });
    const state = new PodState(other, logger('status-writer-test'), () => undefined);
    await writePodStatus(ctx, state, running(clock));
    const now = await pods.get('default', created.metadata.name ?? '');
    assert.deepEqual(now.status?.conditions?.map((c) => c.type).sort(), ['ContainersReady', 'DisruptionTarget', 'Initialized', 'PodScheduled', 'Ready', 'example.com/lb']);
    assert.equal(cond(now, 'Ready')?.status, 'True', 'Ready is the agent\'s: the gate is True and the container ready');
    assert.equal(cond(now, 'Ready')?.reason, undefined);
    assert.deepEqual(cond(now, 'DisruptionTarget'), DISRUPTED);
    assert.equal(cond(now, 'example.com/lb')?.status, 'True');
  });

  it('never moves a pod the API has as Failed back to Pending (a deleted pod met again with nothing observed)', async () => {
    const created = await createPod({ restartPolicy: 'Never' });
    const fresh = await pods.get('default', created.metadata.name ?? '');
    const failed = await pods.updateStatus({ ...fresh, status: { phase: 'Failed', conditions: [DISRUPTED], containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'Error' } } }] } });
    const state = new PodState(failed, logger('status-writer-test'), () => undefined);
    const status = await writePodStatus(ctx, state, { init: new Map(), app: new Map() });
    assert.equal(status.phase, 'Failed');
    const now = await pods.get('default', created.metadata.name ?? '');
    assert.equal(now.status?.phase, 'Failed');
    assert.equal(now.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 137);
    assert.equal(now.metadata.resourceVersion, failed.metadata.resourceVersion, 'nothing written');
  });
});
