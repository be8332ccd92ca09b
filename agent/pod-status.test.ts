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

describe('pod status with sidecars (init containers with restartPolicy Always)', () => {
  const sidecarPod = (restartPolicy: 'Always' | 'OnFailure' | 'Never'): Pod =>
    ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', uid: 'u' },
      spec: { restartPolicy, initContainers: [{ name: 'side', image: 'busybox', restartPolicy: 'Always' }, { name: 'setup', image: 'busybox' }], containers: [{ name: 'c', image: 'busybox' }] },
    }) as Pod;
  const obs = (o: Partial<ContainerObservation>): ContainerObservation => ({ ready: false, started: false, ...o });
  const of = (p: Pod, init: Record<string, ContainerObservation>, app?: ContainerObservation) =>
    computePodStatus({ pod: p, hostIP: '192.0.2.2', startTime: '2024-01-01T00:00:00Z', runtimeName: 'test', init: new Map(Object.entries(init)), app: new Map(app ? [['c', app]] : []), now: new Date(0) });
  const cond = (s: ReturnType<typeof of>, type: string) => {
    const c = s.conditions?.find((x) => x.type === type);
    return `${c?.status}${c?.reason ? ` ${c.reason}` : ''}${c?.message ? `: ${c.message}` : ''}`;
  };

  it('a sidecar not started yet keeps the pod Pending and uninitialized, the next init container not begun', () => {
    const s = of(sidecarPod('Always'), { side: obs({ current: cri('s1', 'CONTAINER_RUNNING', 0) }) });
    assert.equal(s.phase, 'Pending');
    assert.equal(cond(s, 'Initialized'), 'False ContainersNotInitialized: containers with incomplete status: [side setup]');
    assert.deepEqual(s.initContainerStatuses?.map((c) => [c.name, c.started, c.ready]), [['side', false, false], ['setup', false, false]]);
    assert.equal(s.containerStatuses?.[0]?.state?.waiting?.reason, 'PodInitializing');
  });

  it('a started sidecar and the app running: Running; initContainerStatuses show started and ready; readiness of the sidecar counts', () => {
    const setupDone = obs({ current: cri('i1', 'CONTAINER_EXITED', 0, 0) });
    const app = obs({ current: cri('a1', 'CONTAINER_RUNNING', 0), ready: true, started: true });
    const ready = of(sidecarPod('Always'), { side: obs({ current: cri('s1', 'CONTAINER_RUNNING', 0), ready: true, started: true }), setup: setupDone }, app);
    assert.equal(ready.phase, 'Running');
    assert.equal(cond(ready, 'Initialized'), 'True');
    assert.equal(cond(ready, 'Ready'), 'True');
    assert.deepEqual(ready.initContainerStatuses?.map((c) => [c.name, c.started, c.ready, Object.keys(c.state ?? {})[0]]), [['side', true, true, 'running'], ['setup', false, true, 'terminated']]);
    const unready = of(sidecarPod('Always'), { side: obs({ current: cri('s1', 'CONTAINER_RUNNING', 0), ready: false, started: true }), setup: setupDone }, app);
    assert.equal(unready.phase, 'Running');
    assert.equal(cond(unready, 'ContainersReady'), 'False ContainersNotReady: containers with unready status: [side]');
    assert.equal(cond(unready, 'Ready'), 'False ContainersNotReady: containers with unready status: [side]');
  });

  it('a sidecar restarting after the app ran does not put the pod back to Pending or uninitialized', () => {
    const s = of(
      sidecarPod('Always'),
      { side: obs({ current: cri('s2', 'CONTAINER_EXITED', 1, 1), waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } }), setup: obs({ current: cri('i1', 'CONTAINER_EXITED', 0, 0) }) },
      obs({ current: cri('a1', 'CONTAINER_RUNNING', 0), ready: true, started: true }),
    );
    assert.equal(s.phase, 'Running');
    assert.equal(cond(s, 'Initialized'), 'True');
    assert.equal(cond(s, 'Ready'), 'False ContainersNotReady: containers with unready status: [side]');
  });

  it('restartPolicy Never: Running while the sidecar still runs, then the app containers decide (Succeeded or Failed)', () => {
    const setup = obs({ current: cri('i1', 'CONTAINER_EXITED', 0, 0) });
    const running = of(sidecarPod('Never'), { side: obs({ current: cri('s1', 'CONTAINER_RUNNING', 0), ready: true, started: true }), setup }, obs({ current: cri('a1', 'CONTAINER_EXITED', 0, 0) }));
    assert.equal(running.phase, 'Running');
    const stoppedSidecar = obs({ current: cri('s1', 'CONTAINER_EXITED', 0, 143) });
    const ok = of(sidecarPod('Never'), { side: stoppedSidecar, setup }, obs({ current: cri('a1', 'CONTAINER_EXITED', 0, 0) }));
    assert.equal(ok.phase, 'Succeeded', 'the sidecar killed with SIGTERM does not fail the pod');
    assert.equal(cond(ok, 'Initialized'), 'True');
    assert.equal(cond(ok, 'Ready'), 'False PodCompleted');
    assert.equal(of(sidecarPod('Never'), { side: stoppedSidecar, setup }, obs({ current: cri('a1', 'CONTAINER_EXITED', 0, 2) })).phase, 'Failed');
    assert.equal(of(sidecarPod('OnFailure'), { side: stoppedSidecar, setup }, obs({ current: cri('a1', 'CONTAINER_EXITED', 0, 0) })).phase, 'Succeeded');
  });
});
