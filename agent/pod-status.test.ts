import { strict as assert } from 'node:assert';
import type { Pod } from '../api/index.js';
import { computePodStatus, type ContainerObservation } from './pod-status.js';
import type { ContainerStatus as CriStatus } from './cri/index.js';

const T0 = 1_700_000_000_000n * 1_000_000n;

function cri(id: string, state: CriStatus['state'], attempt: number, exitCode = 0): CriStatus {
  return {
    id,
    metadata: { name: 'c', attempt },
    state,
    createdAt: String(T0),
    startedAt: String(T0),
    finishedAt: state === 'CONTAINER_EXITED' ? String(T0 + 1_000_000_000n) : '0',
    exitCode,
    image: null,
    imageRef: 'sha256:abc',
    reason: state === 'CONTAINER_EXITED' ? (exitCode === 0 ? 'Completed' : 'Error') : '',
    message: '',
    labels: {},
    annotations: {},
    mounts: [],
    logPath: '',
    resources: null,
    imageId: 'sha256:abc',
  };
}

const pod = (restartPolicy: 'Always' | 'OnFailure' | 'Never', init = false): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u' },
    spec: { restartPolicy, containers: [{ name: 'c', image: 'busybox' }], ...(init ? { initContainers: [{ name: 'i', image: 'busybox' }] } : {}) },
  }) as Pod;

const status = (p: Pod, app: ContainerObservation | undefined, init?: ContainerObservation) =>
  computePodStatus({
    pod: p,
    hostIP: '192.0.2.2',
    podIP: '10.0.0.5',
    startTime: '2024-01-01T00:00:00Z',
    runtimeName: 'test',
    init: new Map(init ? [['i', init]] : []),
    app: new Map(app ? [['c', app]] : []),
    now: new Date(0),
  });

describe('pod status', () => {
  it('is Pending with ContainerCreating before any container exists', () => {
    const s = status(pod('Always'), undefined);
    assert.equal(s.phase, 'Pending');
    assert.equal(s.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
    assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  });

  it('is Running and Ready with a ready running container', () => {
    const s = status(pod('Always'), { current: cri('a', 'CONTAINER_RUNNING', 0), ready: true, started: true });
    assert.equal(s.phase, 'Running');
    assert.equal(s.podIP, '10.0.0.5');
    assert.deepEqual(s.conditions?.map((c) => `${c.type}=${c.status}`), ['PodScheduled=True', 'Initialized=True', 'ContainersReady=True', 'Ready=True']);
    assert.equal(s.containerStatuses?.[0]?.containerID, 'test://a');
  });

  it('follows restartPolicy for exited containers', () => {
    const ok = { current: cri('a', 'CONTAINER_EXITED', 0, 0), ready: false, started: false };
    const bad = { current: cri('a', 'CONTAINER_EXITED', 0, 2), ready: false, started: false };
    assert.equal(status(pod('Never'), ok).phase, 'Succeeded');
    assert.equal(status(pod('Never'), bad).phase, 'Failed');
    assert.equal(status(pod('OnFailure'), ok).phase, 'Succeeded');
    assert.equal(status(pod('OnFailure'), bad).phase, 'Running');
    assert.equal(status(pod('Always'), ok).phase, 'Running');
  });

  it('shows CrashLoopBackOff as waiting with the last termination in lastState', () => {
    const s = status(pod('Always'), { current: cri('b', 'CONTAINER_EXITED', 3, 1), previous: cri('a', 'CONTAINER_EXITED', 2, 1), waiting: { reason: 'CrashLoopBackOff', message: 'back-off' }, ready: false, started: false });
    const cs = s.containerStatuses?.[0];
    assert.equal(cs?.state?.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(cs?.lastState?.terminated?.exitCode, 1);
    assert.equal(cs?.lastState?.terminated?.containerID, 'test://b');
    assert.equal(cs?.restartCount, 3);
    assert.equal(s.phase, 'Running');
  });

  it('is Pending while init containers run, Failed when one fails under Never', () => {
    const running = status(pod('Never', true), undefined, { current: cri('i', 'CONTAINER_RUNNING', 0), ready: false, started: false });
    assert.equal(running.phase, 'Pending');
    assert.equal(running.containerStatuses?.[0]?.state?.waiting?.reason, 'PodInitializing');
    assert.equal(running.conditions?.find((c) => c.type === 'Initialized')?.status, 'False');
    const failed = status(pod('Never', true), undefined, { current: cri('i', 'CONTAINER_EXITED', 0, 1), ready: false, started: false });
    assert.equal(failed.phase, 'Failed');
  });
});
