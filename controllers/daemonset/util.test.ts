import assert from 'node:assert/strict';
import type { DaemonSet, Node, Pod } from '../framework/types.js';
import { CONTROLLER_REVISION_HASH } from '../history/revisions.js';
import * as u from './util.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

function ds(spec: Partial<DaemonSet['spec']> = {}, podSpec: Partial<Pod['spec']> = {}): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'ns', uid: 'ds-uid' },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...podSpec } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      ...spec,
    },
  };
}

function node(name: string, o: { labels?: Record<string, string>; taints?: NonNullable<Node['spec']>['taints'] } = {}): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } }, spec: { ...(o.taints ? { taints: o.taints } : {}) } };
}

let seq = 0;
/** A daemon pod on node at revision hash, ready since readyAt (undefined: not ready), created at created. */
function pod(nodeName: string, hash: string, o: { readyAt?: number; created?: number; phase?: string; deleting?: boolean } = {}): Pod {
  const n = ++seq;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `agent-${n}`,
      namespace: 'ns',
      uid: `uid-${n}`,
      labels: { app: 'agent', [CONTROLLER_REVISION_HASH]: hash },
      creationTimestamp: iso(o.created ?? T0 + n * 1000),
      ...(o.deleting ? { deletionTimestamp: iso(T0) } : {}),
    },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] },
    status: {
      phase: (o.phase ?? 'Running') as 'Running',
      ...(o.readyAt !== undefined ? { conditions: [{ type: 'Ready', status: 'True' as const, lastTransitionTime: iso(o.readyAt) }] } : {}),
    },
  };
}

const names = (pods: Pod[]): string[] => pods.map((p) => p.metadata.name ?? '');
const noHooks: u.NodePodsHooks = { deleteFailed: () => true, succeeded: () => undefined };

describe('daemonset util', () => {
  it('gives daemon pods the tolerations kube adds, replacing a matching one that has tolerationSeconds', () => {
    const tols = u.daemonTolerations({ tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { key: 'gpu', operator: 'Exists' }] });
    assert.deepEqual(tols.map((t) => `${t.key}:${t.effect ?? ''}:${t.tolerationSeconds ?? '-'}`), [
      'node.kubernetes.io/not-ready:NoExecute:-',
      'gpu::-',
      'node.kubernetes.io/unreachable:NoExecute:-',
      'node.kubernetes.io/disk-pressure:NoSchedule:-',
      'node.kubernetes.io/memory-pressure:NoSchedule:-',
      'node.kubernetes.io/pid-pressure:NoSchedule:-',
      'node.kubernetes.io/unschedulable:NoSchedule:-',
    ]);
    assert.ok(!tols.some((t) => t.key === 'node.kubernetes.io/network-unavailable'));
    assert.ok(u.daemonTolerations({ hostNetwork: true }).some((t) => t.key === 'node.kubernetes.io/network-unavailable' && t.effect === 'NoSchedule'));
  });

  it('makes the pod template with tolerations and both revision labels, leaving the DaemonSet alone', () => {
    const d = ds();
    const t = u.createPodTemplate(d.spec.template, 3, 'abc');
    assert.equal(t.metadata?.labels?.[CONTROLLER_REVISION_HASH], 'abc');
    assert.equal(t.metadata?.labels?.[u.TEMPLATE_GENERATION_LABEL], '3');
    assert.equal(t.spec.tolerations?.length, 6);
    assert.equal(d.spec.template.spec.tolerations, undefined, 'the DaemonSet is not changed');
  });

  it('pins a pod to its node by a required metadata.name term, replacing other required terms and keeping preferred ones', () => {
    const preferred = [{ weight: 1, preference: { matchExpressions: [{ key: 'zone', operator: 'In' as const, values: ['a'] }] } }];
    const a = u.withNodeNameAffinity(
      { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'Exists' }] }] }, preferredDuringSchedulingIgnoredDuringExecution: preferred } },
      'n1',
    );
    assert.deepEqual(a.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] });
    assert.deepEqual(a.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution, preferred);
    const p = pod('', 'h');
    delete p.spec.nodeName;
    assert.equal(u.targetNodeName(p), undefined);
    p.spec.affinity = a;
    assert.equal(u.targetNodeName(p), 'n1');
    p.spec.nodeName = 'n2';
    assert.equal(u.targetNodeName(p), 'n2', 'once bound, the node it is on');
  });

  it('decides per node from nodeSelector, affinity, nodeName and taints (NodeShouldRunDaemonPod)', () => {
    const place = new u.DaemonPlacement(ds({}, { nodeSelector: { role: 'edge' } }));
    assert.deepEqual(place.fit(node('a', { labels: { role: 'edge' } })), { shouldRun: true, shouldContinueRunning: true });
    assert.deepEqual(place.fit(node('b')), { shouldRun: false, shouldContinueRunning: false });
    const edge = { labels: { role: 'edge' } };
    assert.deepEqual(place.fit(node('c', { ...edge, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] })), { shouldRun: false, shouldContinueRunning: true });
    assert.deepEqual(place.fit(node('d', { ...edge, taints: [{ key: 'dedicated', effect: 'NoExecute' }] })), { shouldRun: false, shouldContinueRunning: false });
    // The tolerations kube adds: a cordoned or not-ready node still runs its daemons.
    assert.equal(place.fit(node('e', { ...edge, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] })).shouldRun, true);
    const tolerant = new u.DaemonPlacement(ds({}, { tolerations: [{ key: 'dedicated', operator: 'Exists' }] }));
    assert.equal(tolerant.fit(node('f', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] })).shouldRun, true);
    const named = new u.DaemonPlacement(ds({}, { nodeName: 'g' }));
    assert.equal(named.fit(node('g')).shouldRun, true);
    assert.equal(named.fit(node('h')).shouldContinueRunning, false);
    const affinity = new u.DaemonPlacement(ds({}, { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }] } } } }));
    assert.equal(affinity.fit(node('i', { labels: { gpu: '1' } })).shouldRun, true);
    assert.equal(affinity.fit(node('j')).shouldRun, false);
  });

  it('scales maxSurge and maxUnavailable of the desired nodes, rounding percentages up; none for OnDelete', () => {
    const d = ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%', maxSurge: '25%' } } });
    assert.equal(u.unavailableCount(d, 15), 2);
    assert.equal(u.surgeCount(d, 15), 4);
    assert.equal(u.surgeCount(d, 0), 0);
    assert.equal(u.allowsSurge(d), true);
    assert.equal(u.allowsSurge(ds()), false);
    const onDelete = ds({ updateStrategy: { type: 'OnDelete' } });
    assert.equal(u.unavailableCount(onDelete, 10), 0);
    assert.equal(u.surgeCount(onDelete, 10), 0);
  });

  describe('podsShouldBeOnNode', () => {
    const run = { shouldRun: true, shouldContinueRunning: true };
    const opts = { surge: false, hash: 'new', minReadySeconds: 0, now: T0 + 100_000 };

    it('creates a pod on a node without one, deletes every pod where the daemon may not stay', () => {
      assert.deepEqual(u.podsShouldBeOnNode(run, undefined, opts, noHooks), { create: true, remove: [] });
      const p = pod('n', 'new');
      const gone = pod('n', 'new', { deleting: true });
      assert.deepEqual(names(u.podsShouldBeOnNode({ shouldRun: false, shouldContinueRunning: false }, [p, gone], opts, noHooks).remove), [p.metadata.name]);
      assert.deepEqual(u.podsShouldBeOnNode({ shouldRun: false, shouldContinueRunning: true }, [p], opts, noHooks).remove, [], 'a NoSchedule taint leaves a running pod');
    });

    it('keeps the oldest of several pods, and waits for a terminating one to go before making another', () => {
      const older = pod('n', 'new', { created: T0 });
      const newer = pod('n', 'new', { created: T0 + 5000 });
      assert.deepEqual(names(u.podsShouldBeOnNode(run, [newer, older], opts, noHooks).remove), [newer.metadata.name]);
      assert.deepEqual(u.podsShouldBeOnNode(run, [pod('n', 'new', { deleting: true })], opts, noHooks), { create: false, remove: [] });
    });

    it('deletes failed pods (through the back-off) and finished ones', () => {
      const failed = pod('n', 'new', { phase: 'Failed' });
      const done = pod('n', 'new', { phase: 'Succeeded' });
      let succeeded = 0;
      const hooks = { deleteFailed: () => false, succeeded: () => void succeeded++ };
      assert.deepEqual(names(u.podsShouldBeOnNode(run, [failed, done], opts, hooks).remove), [done.metadata.name], 'held back by the back-off');
      assert.equal(succeeded, 1);
      assert.deepEqual(names(u.podsShouldBeOnNode(run, [failed], opts, noHooks).remove), [failed.metadata.name]);
    });

    it('when surging, keeps an old and a new pod until the new one is available, then deletes the old one', () => {
      const s = { ...opts, surge: true };
      const old = pod('n', 'old', { readyAt: T0, created: T0 });
      const fresh = pod('n', 'new', { created: T0 + 10_000 });
      assert.deepEqual(u.podsShouldBeOnNode(run, [old, fresh], s, noHooks).remove, []);
      const ready = pod('n', 'new', { created: T0 + 10_000, readyAt: T0 + 20_000 });
      assert.deepEqual(names(u.podsShouldBeOnNode(run, [old, ready], s, noHooks).remove), [old.metadata.name]);
      const unreadyOld = pod('n', 'old', { created: T0 });
      assert.deepEqual(names(u.podsShouldBeOnNode(run, [unreadyOld, fresh], s, noHooks).remove), [unreadyOld.metadata.name], 'an old pod that is not ready goes at once');
      assert.deepEqual(u.podsShouldBeOnNode(run, [pod('n', 'old', { deleting: true })], s, noHooks), { create: true, remove: [] }, 'surging: a node whose only pod is terminating gets a new one');
    });
  });

  describe('rollingUpdatePlan', () => {
    const base = { hash: 'new', desired: 0, minReadySeconds: 0, now: T0 + 1_000_000, shouldRun: () => true };
    const nodes = (n: number, f: (i: number) => Pod[]): Map<string, Pod[]> => new Map(Array.from({ length: n }, (_, i) => [`n${i}`, f(i)]));

    it('without surge deletes available old pods only up to maxUnavailable, counting nodes already unavailable', () => {
      const m = nodes(5, (i) => [pod(`n${i}`, 'old', { readyAt: T0 })]);
      assert.equal(u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 0, maxUnavailable: 2, desired: 5 }).remove.length, 2);
      m.set('n0', [pod('n0', 'new')]); // updated, not ready yet: one unavailable already
      const plan = u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 0, maxUnavailable: 2, desired: 5 });
      assert.equal(plan.remove.length, 1);
      assert.deepEqual(plan.createOn, [], 'the manage step creates the replacements');
      m.set('n1', [pod('n1', 'old')]); // an old pod that is not available is replaced regardless of the budget
      assert.deepEqual(names(u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 0, maxUnavailable: 2, desired: 5 }).remove).includes(m.get('n1')![0]!.metadata.name!), true);
      m.set('n2', []);
      m.set('n3', []);
      assert.equal(u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 0, maxUnavailable: 2, desired: 5 }).remove.length, 1, 'only the unavailable old pod: the budget is spent');
    });

    it('with surge starts new pods beside available old ones on at most maxSurge nodes, and retires an old pod once its new one is available', () => {
      const m = nodes(4, (i) => [pod(`n${i}`, 'old', { readyAt: T0 })]);
      const first = u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 1, maxUnavailable: 0, desired: 4 });
      assert.deepEqual(first, { remove: [], createOn: ['n0'] });
      m.get('n0')!.push(pod('n0', 'new'));
      assert.deepEqual(u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 1, maxUnavailable: 0, desired: 4 }), { remove: [], createOn: [] }, 'the surge is in use');
      const old0 = m.get('n0')![0]!;
      m.set('n0', [old0, pod('n0', 'new', { readyAt: T0 })]);
      const next = u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 1, maxUnavailable: 0, desired: 4 });
      assert.deepEqual(names(next.remove), [old0.metadata.name]);
      assert.deepEqual(next.createOn, ['n1']);
      m.set('n2', [pod('n2', 'old')]); // an unavailable old pod gets its replacement outside the surge budget
      assert.ok(u.rollingUpdatePlan({ ...base, nodeToPods: m, maxSurge: 1, maxUnavailable: 0, desired: 4 }).createOn.includes('n2'));
    });

    it('with surge removes a pod from a node the daemon leaves only once enough others are available', () => {
      const m = nodes(3, (i) => [pod(`n${i}`, 'old', { readyAt: T0 })]);
      const leaving = (n: string): boolean => n !== 'n2';
      assert.deepEqual(u.rollingUpdatePlan({ ...base, shouldRun: leaving, nodeToPods: m, maxSurge: 1, maxUnavailable: 0, desired: 3 }).remove, [], 'three available, three desired');
      const plan = u.rollingUpdatePlan({ ...base, shouldRun: leaving, nodeToPods: m, maxSurge: 1, maxUnavailable: 0, desired: 2 });
      assert.deepEqual(names(plan.remove), [m.get('n2')![0]!.metadata.name]);
    });
  });

  it('counts status per node from the oldest pod there', () => {
    const fits = [
      { name: 'a', fit: { shouldRun: true, shouldContinueRunning: true } },
      { name: 'b', fit: { shouldRun: true, shouldContinueRunning: true } },
      { name: 'c', fit: { shouldRun: true, shouldContinueRunning: true } },
      { name: 'd', fit: { shouldRun: false, shouldContinueRunning: false } },
    ];
    const m = new Map([
      ['a', [pod('a', 'new', { readyAt: T0, created: T0 }), pod('a', 'old', { created: T0 + 1 })]],
      ['b', [pod('b', 'old', { readyAt: T0 + 9000 })]],
      ['d', [pod('d', 'new')]],
    ]);
    assert.deepEqual(u.daemonCounts(fits, m, 'new', 5, T0 + 10_000), {
      desiredNumberScheduled: 3,
      currentNumberScheduled: 2,
      numberMisscheduled: 1,
      numberReady: 2,
      updatedNumberScheduled: 1,
      numberAvailable: 1,
      numberUnavailable: 2,
    });
  });
});
