import { strict as assert } from 'node:assert';
import type { Container, Pod, PodSpec } from '../api/index.js';
import type { ContainerStatus as CriStatus } from './cri/index.js';
import { computePodActions, restartBackOffKey, type BackOffView, type ContainerFacts, type PodActions, type PodRuntimeState, type SandboxSummary } from './pod-actions.js';
import { CONTAINER_HASH_ANNOTATION, containerHash } from './pod-config.js';
import type { ProbeFailure } from './probes.js';

const UID = 'uid-1';
const c = (name: string, extra: Partial<Container> = {}): Container => ({ name, image: 'busybox:1.36', ...extra });

function pod(spec: Partial<PodSpec>, meta: Partial<Pod['metadata']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: UID, ...meta }, spec: { containers: [c('app')], ...spec } } as Pod;
}

type State = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

/** A container of the current sandbox: id `<name>-<attempt>`, its state, exit code and (by default) its spec's hash. */
function ctr(container: Container, state: State, o: { attempt?: number; exitCode?: number; hash?: string | null } = {}): CriStatus {
  const attempt = o.attempt ?? 0;
  const hash = o.hash === undefined ? containerHash(container) : o.hash;
  return {
    id: `${container.name}-${attempt}`,
    metadata: { name: container.name, attempt },
    state,
    exitCode: o.exitCode ?? 0,
    annotations: hash === null ? {} : { [CONTAINER_HASH_ANNOTATION]: hash },
  } as unknown as CriStatus;
}

const READY: SandboxSummary = { id: 'sb-1', ready: true, attempt: 1 };

function runtime(containers: CriStatus[], sandboxes: SandboxSummary[] = [READY]): PodRuntimeState {
  return { sandboxes, containers: new Map(containers.map((x) => [x.metadata!.name, x])) };
}

/** A back-off that is pending for the keys given (delay in ms), and records what it was asked. */
function backOff(pending: Record<string, number> = {}): BackOffView & { asked: [string, number | undefined][] } {
  const asked: [string, number | undefined][] = [];
  return {
    asked,
    check(key, since) {
      asked.push([key, since]);
      const delayMs = pending[key];
      return delayMs === undefined ? undefined : { remainingMs: 1, delayMs };
    },
  };
}

function facts(o: Partial<ContainerFacts> = {}): ContainerFacts {
  return { probeFailures: new Map(), started: new Set(), exitedAt: new Map(), backOff: backOff(), ...o };
}

/** The actions in a compact form: what a table row compares. */
function summary(a: PodActions): Record<string, unknown> {
  return {
    ...(a.killPod ? { killPod: true } : {}),
    ...(a.createSandbox ? { createSandbox: a.attempt, remove: a.sandboxesToRemove } : { sandbox: a.sandboxId }),
    start: a.containersToStart.map((s) => `${s.kind}:${s.container.name}#${s.attempt}${s.createdId ? ` created=${s.createdId}` : ''}${s.backOffKey ? ' backoff' : ''}`),
    kill: a.containersToKill.map((k) => `${k.container.name}:${k.reason}:${k.gracePeriodSeconds}s`),
    backingOff: a.backingOff.map((b) => `${b.kind}:${b.container.name}:${b.delayMs}`),
    ...(a.initFailed ? { initFailed: true } : {}),
  };
}

const none = { start: [], kill: [], backingOff: [] };

describe('computePodActions (kubelet computePodActions: pure, from the spec and the runtime state)', () => {
  const i1 = c('init-1');
  const i2 = c('init-2');
  const app = c('app');
  const side = c('side');
  const sidecar = c('side-1', { restartPolicy: 'Always' });
  const sidecar2 = c('side-2', { restartPolicy: 'Always' });
  const probedSidecar = c('side-1', { restartPolicy: 'Always', startupProbe: { exec: { command: ['true'] } } });

  const rows: { name: string; pod: Pod; runtime: PodRuntimeState; facts?: ContainerFacts; want: Record<string, unknown> }[] = [
    {
      name: 'fresh pod: a sandbox (attempt 0), then every app container',
      pod: pod({ containers: [app, side] }),
      runtime: runtime([], []),
      want: { createSandbox: 0, remove: [], ...none, start: ['app:app#0', 'app:side#0'] },
    },
    {
      name: 'fresh pod with init containers: a sandbox, then only the first init container',
      pod: pod({ initContainers: [i1, i2] }),
      runtime: runtime([], []),
      want: { createSandbox: 0, remove: [], ...none, start: ['init:init-1#0'] },
    },
    {
      name: 'sandbox died: the dead ones removed, a new one (next attempt), everything again from attempt 0',
      pod: pod({ containers: [app] }),
      runtime: runtime([ctr(app, 'CONTAINER_RUNNING', { attempt: 3 })], [{ id: 'sb-1', ready: false, attempt: 0 }, { id: 'sb-2', ready: false, attempt: 1 }]),
      want: { createSandbox: 2, remove: ['sb-1', 'sb-2'], ...none, start: ['app:app#0'] },
    },
    {
      name: 'of several sandboxes the ready one of the highest attempt is used; the others are left alone',
      pod: pod({}),
      runtime: runtime([ctr(app, 'CONTAINER_RUNNING')], [{ id: 'old', ready: true, attempt: 0 }, { id: 'dead', ready: false, attempt: 2 }, { id: 'new', ready: true, attempt: 1 }]),
      want: { sandbox: 'new', ...none },
    },
    {
      name: 'init containers in order: the first done, the second next; no app container yet',
      pod: pod({ initContainers: [i1, i2] }),
      runtime: runtime([ctr(i1, 'CONTAINER_EXITED', { exitCode: 0 })]),
      want: { sandbox: 'sb-1', ...none, start: ['init:init-2#0'] },
    },
    {
      name: 'an init container running holds everything back',
      pod: pod({ initContainers: [i1, i2] }),
      runtime: runtime([ctr(i1, 'CONTAINER_RUNNING')]),
      want: { sandbox: 'sb-1', ...none },
    },
    {
      name: 'init containers all done: the app containers start',
      pod: pod({ initContainers: [i1, i2] }),
      runtime: runtime([ctr(i1, 'CONTAINER_EXITED'), ctr(i2, 'CONTAINER_EXITED')]),
      want: { sandbox: 'sb-1', ...none, start: ['app:app#0'] },
    },
    {
      name: 'init container failed, restartPolicy Never: the pod has failed, nothing runs',
      pod: pod({ restartPolicy: 'Never', initContainers: [i1, i2] }),
      runtime: runtime([ctr(i1, 'CONTAINER_EXITED', { exitCode: 2 })]),
      want: { sandbox: 'sb-1', ...none, initFailed: true },
    },
    {
      name: 'init container failed, restartPolicy OnFailure: restarted (next attempt, with back-off recorded)',
      pod: pod({ restartPolicy: 'OnFailure', initContainers: [i1] }),
      runtime: runtime([ctr(i1, 'CONTAINER_EXITED', { exitCode: 2, attempt: 1 })]),
      want: { sandbox: 'sb-1', ...none, start: ['init:init-1#2 backoff'] },
    },
    {
      name: 'init container failed, restartPolicy Always: restarted too',
      pod: pod({ restartPolicy: 'Always', initContainers: [i1] }),
      runtime: runtime([ctr(i1, 'CONTAINER_EXITED', { exitCode: 1 })]),
      want: { sandbox: 'sb-1', ...none, start: ['init:init-1#1 backoff'] },
    },
    {
      name: 'init container failed and backing off: nothing starts, the back-off is reported',
      pod: pod({ initContainers: [i1] }),
      runtime: runtime([ctr(i1, 'CONTAINER_EXITED', { exitCode: 1 })]),
      facts: facts({ backOff: backOff({ [restartBackOffKey(UID, 'init-1')]: 20_000 }) }),
      want: { sandbox: 'sb-1', ...none, backingOff: ['init:init-1:20000'] },
    },
    {
      name: 'an init container created but never started (a pass that failed half way): started as it is',
      pod: pod({ initContainers: [i1] }),
      runtime: runtime([ctr(i1, 'CONTAINER_CREATED', { attempt: 1 })]),
      want: { sandbox: 'sb-1', ...none, start: ['init:init-1#1 created=init-1-1'] },
    },
    {
      name: 'app container exited 0 under Always: restarted',
      pod: pod({ restartPolicy: 'Always' }),
      runtime: runtime([ctr(app, 'CONTAINER_EXITED', { exitCode: 0 })]),
      want: { sandbox: 'sb-1', ...none, start: ['app:app#1 backoff'] },
    },
    {
      name: 'app container exited 0 under OnFailure: left done',
      pod: pod({ restartPolicy: 'OnFailure' }),
      runtime: runtime([ctr(app, 'CONTAINER_EXITED', { exitCode: 0 })]),
      want: { sandbox: 'sb-1', ...none },
    },
    {
      name: 'app container exited 1 under OnFailure: restarted',
      pod: pod({ restartPolicy: 'OnFailure' }),
      runtime: runtime([ctr(app, 'CONTAINER_EXITED', { exitCode: 1, attempt: 4 })]),
      want: { sandbox: 'sb-1', ...none, start: ['app:app#5 backoff'] },
    },
    {
      name: 'app container exited 1 under Never: left failed',
      pod: pod({ restartPolicy: 'Never' }),
      runtime: runtime([ctr(app, 'CONTAINER_EXITED', { exitCode: 1 })]),
      want: { sandbox: 'sb-1', ...none },
    },
    {
      name: 'app container exited, back-off pending: reported, not restarted; the other container starts',
      pod: pod({ containers: [app, side] }),
      runtime: runtime([ctr(app, 'CONTAINER_EXITED', { exitCode: 1 })]),
      facts: facts({ backOff: backOff({ [restartBackOffKey(UID, 'app')]: 10_000 }) }),
      want: { sandbox: 'sb-1', ...none, start: ['app:side#0'], backingOff: ['app:app:10000'] },
    },
    {
      name: 'app container in an unknown state: left for the runtime to settle',
      pod: pod({}),
      runtime: runtime([ctr(app, 'CONTAINER_UNKNOWN')]),
      want: { sandbox: 'sb-1', ...none },
    },
    {
      name: 'running app container whose spec hash changed (new image): killed and started again, even under Never',
      pod: pod({ restartPolicy: 'Never', terminationGracePeriodSeconds: 7, containers: [c('app', { image: 'busybox:1.37' })] }),
      runtime: runtime([ctr(app, 'CONTAINER_RUNNING', { attempt: 2 })]),
      want: { sandbox: 'sb-1', ...none, kill: ['app:SpecChanged:7s'], start: ['app:app#3'] },
    },
    {
      name: 'running app container without a recorded hash (made by an older agent): kept',
      pod: pod({ containers: [c('app', { image: 'busybox:1.37' })] }),
      runtime: runtime([ctr(app, 'CONTAINER_RUNNING', { hash: null })]),
      want: { sandbox: 'sb-1', ...none },
    },
    {
      name: 'liveness probe failed: killed with the probe grace period; the restart comes when it is seen exited',
      pod: pod({ terminationGracePeriodSeconds: 30, containers: [c('app', { livenessProbe: { exec: { command: ['false'] }, terminationGracePeriodSeconds: 3 } })] }),
      runtime: runtime([ctr(app, 'CONTAINER_RUNNING')]),
      facts: facts({ probeFailures: new Map<string, ProbeFailure>([['app-0', { kind: 'liveness', message: 'Liveness probe failed: x' }]]) }),
      want: { sandbox: 'sb-1', ...none, kill: ['app:LivenessProbe:3s'] },
    },
    {
      name: 'startup probe failed: killed with the pod grace period',
      pod: pod({ terminationGracePeriodSeconds: 9, containers: [c('app', { startupProbe: { exec: { command: ['false'] } } })] }),
      runtime: runtime([ctr(app, 'CONTAINER_RUNNING')]),
      facts: facts({ probeFailures: new Map<string, ProbeFailure>([['app-0', { kind: 'startup', message: 'Startup probe failed: x' }]]) }),
      want: { sandbox: 'sb-1', ...none, kill: ['app:StartupProbe:9s'] },
    },
    // ---- sidecars (init containers with restartPolicy Always) ----
    {
      name: 'sidecar first: started alone, nothing after it yet',
      pod: pod({ initContainers: [sidecar, i2] }),
      runtime: runtime([]),
      want: { sandbox: 'sb-1', ...none, start: ['init:side-1#0'] },
    },
    {
      name: 'sidecar running (no startup probe): the next init container starts, the sidecar is left running',
      pod: pod({ initContainers: [sidecar, i2] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_RUNNING')]),
      want: { sandbox: 'sb-1', ...none, start: ['init:init-2#0'] },
    },
    {
      name: 'sidecar running, startup probe not passed yet: the pod waits for it',
      pod: pod({ initContainers: [probedSidecar, i2] }),
      runtime: runtime([ctr(probedSidecar, 'CONTAINER_RUNNING')]),
      want: { sandbox: 'sb-1', ...none },
    },
    {
      name: 'sidecar running, startup probe passed: the next init container starts',
      pod: pod({ initContainers: [probedSidecar, i2] }),
      runtime: runtime([ctr(probedSidecar, 'CONTAINER_RUNNING')]),
      facts: facts({ started: new Set(['side-1-0']) }),
      want: { sandbox: 'sb-1', ...none, start: ['init:init-2#0'] },
    },
    {
      name: 'sidecar running and the init containers after it done: the app containers start beside it',
      pod: pod({ initContainers: [sidecar, i2] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_RUNNING'), ctr(i2, 'CONTAINER_EXITED')]),
      want: { sandbox: 'sb-1', ...none, start: ['app:app#0'] },
    },
    {
      name: 'two sidecars in order: the second starts once the first runs',
      pod: pod({ initContainers: [sidecar, sidecar2] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_RUNNING')]),
      want: { sandbox: 'sb-1', ...none, start: ['init:side-2#0'] },
    },
    {
      name: 'sidecar exited before the pod was initialized: restarted (back-off recorded), even under restartPolicy Never',
      pod: pod({ restartPolicy: 'Never', initContainers: [sidecar, i2] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_EXITED', { exitCode: 1 })]),
      want: { sandbox: 'sb-1', ...none, start: ['init:side-1#1 backoff'] },
    },
    {
      name: 'sidecar exited beside running app containers: restarted, the app left running',
      pod: pod({ restartPolicy: 'Never', initContainers: [sidecar, i2] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_EXITED', { exitCode: 0, attempt: 2 }), ctr(i2, 'CONTAINER_EXITED'), ctr(app, 'CONTAINER_RUNNING')]),
      want: { sandbox: 'sb-1', ...none, start: ['init:side-1#3 backoff'] },
    },
    {
      name: 'sidecar exited and backing off beside running app containers: the back-off is reported, the app goes on',
      pod: pod({ initContainers: [sidecar] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_EXITED', { exitCode: 1 }), ctr(app, 'CONTAINER_RUNNING')]),
      facts: facts({ backOff: backOff({ [restartBackOffKey(UID, 'side-1')]: 40_000 }) }),
      want: { sandbox: 'sb-1', ...none, backingOff: ['init:side-1:40000'] },
    },
    {
      name: 'after initialization a regular init container whose record is gone is not run again; the sidecar is restarted',
      pod: pod({ initContainers: [i1, sidecar] }),
      runtime: runtime([ctr(app, 'CONTAINER_RUNNING')]),
      want: { sandbox: 'sb-1', ...none, start: ['init:side-1#0'] },
    },
    {
      name: 'sidecar fails its liveness probe: killed with the probe grace period; the restart comes when it is seen exited',
      pod: pod({ initContainers: [c('side-1', { restartPolicy: 'Always', livenessProbe: { exec: { command: ['false'] }, terminationGracePeriodSeconds: 4 } })] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_RUNNING', { hash: null }), ctr(app, 'CONTAINER_RUNNING')]),
      facts: facts({ probeFailures: new Map<string, ProbeFailure>([['side-1-0', { kind: 'liveness', message: 'Liveness probe failed: x' }]]) }),
      want: { sandbox: 'sb-1', ...none, kill: ['side-1:LivenessProbe:4s'] },
    },
    {
      name: 'sidecar definition changed (new image): killed and restarted at once, the app left running',
      pod: pod({ initContainers: [c('side-1', { restartPolicy: 'Always', image: 'busybox:1.37' })] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_RUNNING', { attempt: 1 }), ctr(app, 'CONTAINER_RUNNING')]),
      want: { sandbox: 'sb-1', ...none, kill: ['side-1:SpecChanged:30s'], start: ['init:side-1#2'] },
    },
    {
      name: 'restartPolicy Never, every app container done: the sidecars are stopped last to first, nothing restarts',
      pod: pod({ restartPolicy: 'Never', terminationGracePeriodSeconds: 5, initContainers: [sidecar, i2, sidecar2], containers: [app, c('second')] }),
      runtime: runtime([
        ctr(sidecar, 'CONTAINER_RUNNING'),
        ctr(i2, 'CONTAINER_EXITED'),
        ctr(sidecar2, 'CONTAINER_RUNNING'),
        ctr(app, 'CONTAINER_EXITED', { exitCode: 0 }),
        ctr(c('second'), 'CONTAINER_EXITED', { exitCode: 3 }),
      ]),
      want: { sandbox: 'sb-1', ...none, kill: ['side-2:PodCompleted:5s', 'side-1:PodCompleted:5s'] },
    },
    {
      name: 'restartPolicy OnFailure, the app container exited 0: sidecars stopped; an exited sidecar is not restarted',
      pod: pod({ restartPolicy: 'OnFailure', initContainers: [sidecar, sidecar2] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_EXITED', { exitCode: 137 }), ctr(sidecar2, 'CONTAINER_RUNNING'), ctr(app, 'CONTAINER_EXITED', { exitCode: 0 })]),
      want: { sandbox: 'sb-1', ...none, kill: ['side-2:PodCompleted:30s'] },
    },
    {
      name: 'restartPolicy OnFailure, the app container failed: it is restarted and the sidecar kept',
      pod: pod({ restartPolicy: 'OnFailure', initContainers: [sidecar] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_RUNNING'), ctr(app, 'CONTAINER_EXITED', { exitCode: 1 })]),
      want: { sandbox: 'sb-1', ...none, start: ['app:app#1 backoff'] },
    },
    {
      name: 'restartPolicy Always: app containers exited are restarted, sidecars never stopped for it',
      pod: pod({ restartPolicy: 'Always', initContainers: [sidecar] }),
      runtime: runtime([ctr(sidecar, 'CONTAINER_RUNNING'), ctr(app, 'CONTAINER_EXITED', { exitCode: 0 })]),
      want: { sandbox: 'sb-1', ...none, start: ['app:app#1 backoff'] },
    },
    {
      name: 'pod being deleted: kill the pod, nothing made or started',
      pod: pod({ initContainers: [i1] }, { deletionTimestamp: '2024-01-01T00:00:00Z' }),
      runtime: runtime([], []),
      want: { killPod: true, sandbox: undefined, ...none },
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(summary(computePodActions(row.pod, row.runtime, row.facts ?? facts())), row.want);
    });
  }

  it('asks the back-off about an exited container from when its exit was first seen', () => {
    const b = backOff();
    computePodActions(pod({}), runtime([ctr(app, 'CONTAINER_EXITED', { exitCode: 1 })]), facts({ backOff: b, exitedAt: new Map([['app-0', 1234]]) }));
    assert.deepEqual(b.asked, [[restartBackOffKey(UID, 'app'), 1234]]);
  });

  it('is pure: the same input gives the same actions, and the input is left as it was', () => {
    const p = pod({ initContainers: [i1], containers: [app, side] });
    const rt = runtime([ctr(i1, 'CONTAINER_EXITED'), ctr(app, 'CONTAINER_EXITED', { exitCode: 1 })]);
    const before = JSON.stringify({ p, rt: [...rt.containers], s: rt.sandboxes });
    const first = computePodActions(p, rt, facts());
    assert.deepEqual(computePodActions(p, rt, facts()), first);
    assert.equal(JSON.stringify({ p, rt: [...rt.containers], s: rt.sandboxes }), before);
  });
});
