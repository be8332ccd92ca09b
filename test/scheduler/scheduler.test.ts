// The scheduler against a real API server with several Node objects: placement by resources, selectors, affinity,
// taints, spread and preemption; explanations in Kubernetes' words.
import assert from 'node:assert/strict';
import type { Pod, PriorityClass } from '../../api/index.js';
import { EVENTS, type KubeEvent } from '../../client/index.js';
import { DIAGNOSIS_ANNOTATION, readDiagnosis, startScheduler, type RunningScheduler } from '../../scheduler/index.js';
import { waitFor } from '../support/util.js';
import { makeNode, makePod, startTestCluster, withoutUid, type TestCluster } from './cluster.js';

describe('scheduler (integration)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let sched: RunningScheduler;
  let ns = 0;
  let namespace = '';

  before(async () => {
    cluster = await startTestCluster();
    sched = await startScheduler({ rest: cluster.rest });
  });
  after(async () => {
    await sched?.stop();
    await cluster?.close();
  });
  beforeEach(async () => {
    // A namespace and a fresh set of nodes per test: nodes of earlier tests are deleted first.
    for (const n of (await cluster.nodes.list()).items) await cluster.nodes.delete(undefined, n.metadata?.name ?? '');
    namespace = `t${++ns}`;
    await cluster.rest.resource({ group: '', version: 'v1', resource: 'namespaces', namespaced: false }).create(undefined, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    await waitFor(() => sched.scheduler.cache.list().length === 0, { what: 'the cache to drop old nodes' });
  });

  const createPod = (pod: Pod): Promise<Pod> => cluster.pods.create(namespace, withoutUid({ ...pod, metadata: { ...pod.metadata, namespace } }));
  const boundNode = (name: string): Promise<string> =>
    waitFor(async () => (await cluster.pods.get(namespace, name)).spec.nodeName, { what: `pod ${name} to be bound`, timeoutMs: 15_000 });
  const condition = (name: string): Promise<{ reason?: string; message?: string }> =>
    waitFor(
      async () => {
        const p = await cluster.pods.get(namespace, name);
        const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
        return c ? { ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) } : undefined;
      },
      { what: `pod ${name} PodScheduled=False` },
    );

  it('places a pod where its requests fit and binds it through pods/binding', async () => {
    await cluster.nodes.create(undefined, makeNode('small', { cpu: '1' }));
    await cluster.nodes.create(undefined, makeNode('big', { cpu: '8' }));
    await createPod(makePod('web', { cpu: '2' }));
    assert.equal(await boundNode('web'), 'big');
    const p = await cluster.pods.get(namespace, 'web');
    assert.equal(p.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status, 'True');
    const events = await cluster.rest.resource<KubeEvent>(EVENTS).list(namespace);
    assert.ok(events.items.some((e) => e.reason === 'Scheduled' && e.message === `Successfully assigned ${namespace}/web to big`), 'Scheduled event');
  });

  it('honours nodeSelector and required node affinity', async () => {
    await cluster.nodes.create(undefined, makeNode('hdd', { labels: { disk: 'hdd' } }));
    await cluster.nodes.create(undefined, makeNode('ssd', { labels: { disk: 'ssd', zone: 'b' } }));
    await createPod(makePod('sel', { spec: { nodeSelector: { disk: 'ssd' } } }));
    await createPod(
      makePod('aff', {
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }] }] },
            },
          },
        },
      }),
    );
    assert.equal(await boundNode('sel'), 'ssd');
    assert.equal(await boundNode('aff'), 'hdd');
  });

  it('keeps pods off tainted nodes unless they tolerate the taint', async () => {
    const taints = [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' as const }];
    await cluster.nodes.create(undefined, makeNode('gpu', { taints, cpu: '16' }));
    await cluster.nodes.create(undefined, makeNode('plain', { cpu: '1' }));
    await createPod(makePod('plain-pod'));
    await createPod(makePod('gpu-pod', { cpu: '4', spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] } }));
    assert.equal(await boundNode('plain-pod'), 'plain');
    assert.equal(await boundNode('gpu-pod'), 'gpu');
  });

  it('explains an unschedulable pod in Kubernetes words, keeps per-node reasons, and schedules it when a node is added', async () => {
    await cluster.nodes.create(undefined, makeNode('a', { cpu: '1' }));
    await cluster.nodes.create(undefined, makeNode('b', { cpu: '1' }));
    await cluster.nodes.create(undefined, makeNode('gpu', { cpu: '16', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }));
    await createPod(makePod('hungry', { cpu: '2' }));
    const want =
      '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. ' +
      'preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.';
    const c = await condition('hungry');
    assert.equal(c.reason, 'Unschedulable');
    assert.equal(c.message, want);
    const ev = await waitFor(async () => (await cluster.rest.resource<KubeEvent>(EVENTS).list(namespace)).items.find((e) => e.reason === 'FailedScheduling'), {
      what: 'FailedScheduling event',
    });
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message, want);
    const diag = await waitFor(async () => readDiagnosis(await cluster.pods.get(namespace, 'hungry')), { what: 'diagnosis annotation' });
    assert.deepEqual(diag, { a: ['Insufficient cpu'], b: ['Insufficient cpu'], gpu: ['node(s) had untolerated taint {dedicated: gpu}'] });
    // Unschedulable pods wait for an event, not a timer: a new node that fits is one.
    assert.equal(sched.scheduler.queue.pending.unschedulable, 1);
    await cluster.nodes.create(undefined, makeNode('c', { cpu: '4' }));
    assert.equal(await boundNode('hungry'), 'c');
    await waitFor(async () => (await cluster.pods.get(namespace, 'hungry')).metadata?.annotations?.[DIAGNOSIS_ANNOTATION] === undefined, {
      what: 'the diagnosis to be cleared after binding',
    });
  });

  it('spreads pods across zones under a DoNotSchedule topology spread constraint', async () => {
    for (const [n, zone] of [['z1a', 'z1'], ['z1b', 'z1'], ['z2a', 'z2'], ['z3a', 'z3']] as const) {
      await cluster.nodes.create(undefined, makeNode(n, { labels: { 'topology.kubernetes.io/zone': zone } }));
    }
    const spread = {
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' as const, labelSelector: { matchLabels: { app: 'spread' } } },
      ],
    };
    for (let i = 0; i < 6; i++) {
      await createPod(makePod(`s${i}`, { labels: { app: 'spread' }, spec: spread }));
      await boundNode(`s${i}`);
    }
    const zones: Record<string, number> = {};
    for (let i = 0; i < 6; i++) {
      const node = await boundNode(`s${i}`);
      const zone = node.slice(0, 2);
      zones[zone] = (zones[zone] ?? 0) + 1;
    }
    assert.deepEqual(zones, { z1: 2, z2: 2, z3: 2 });
  });

  it('co-locates pods with required pod affinity and separates them with anti-affinity', async () => {
    for (const n of ['n1', 'n2', 'n3']) await cluster.nodes.create(undefined, makeNode(n));
    await createPod(makePod('db', { labels: { app: 'db' } }));
    const dbNode = await boundNode('db');
    const host = 'kubernetes.io/hostname';
    await createPod(
      makePod('cache', {
        spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: host, labelSelector: { matchLabels: { app: 'db' } } }] } } },
      }),
    );
    assert.equal(await boundNode('cache'), dbNode);
    const anti = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: host, labelSelector: { matchLabels: { app: 'web' } } }] } };
    for (let i = 0; i < 3; i++) await createPod(makePod(`web${i}`, { labels: { app: 'web' }, spec: { affinity: anti } }));
    const nodes = await Promise.all([0, 1, 2].map((i) => boundNode(`web${i}`)));
    assert.deepEqual([...nodes].sort(), ['n1', 'n2', 'n3']);
    await createPod(makePod('web3', { labels: { app: 'web' }, spec: { affinity: anti } }));
    const c = await condition('web3');
    assert.match(c.message ?? '', /^0\/3 nodes are available: 3 node\(s\) didn't match pod anti-affinity rules\./);
  });

  /** Pods get their priority from a PriorityClass (priority admission refuses a bare spec.priority). */
  const priorityClass = async (name: string, value: number, preemptionPolicy?: 'Never'): Promise<void> => {
    await cluster.rest
      .resource<PriorityClass>({ group: 'scheduling.k8s.io', version: 'v1', resource: 'priorityclasses', namespaced: false })
      .create(undefined, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...(preemptionPolicy ? { preemptionPolicy } : {}) })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
  };

  it('preempts the lowest-priority pod on one node for a pod that fits nowhere', async () => {
    await priorityClass('prio-10', 10);
    await priorityClass('prio-50', 50);
    await priorityClass('prio-1000', 1000);
    await cluster.nodes.create(undefined, makeNode('p1', { cpu: '2' }));
    await cluster.nodes.create(undefined, makeNode('p2', { cpu: '2' }));
    const quick = { terminationGracePeriodSeconds: 0 };
    await createPod(makePod('low', { cpu: '1500m', spec: { ...quick, priorityClassName: 'prio-10' } }));
    await createPod(makePod('mid', { cpu: '1500m', spec: { ...quick, priorityClassName: 'prio-50' } }));
    const lowNode = await boundNode('low');
    const midNode = await boundNode('mid');
    assert.notEqual(lowNode, midNode);
    await createPod(makePod('vip', { cpu: '1500m', spec: { priorityClassName: 'prio-1000' } }));
    assert.equal((await cluster.pods.get(namespace, 'vip')).spec.priority, 1000);
    assert.equal(await boundNode('vip'), lowNode, 'the node of the lowest-priority victim');
    await waitFor(async () => !(await cluster.pods.list(namespace)).items.some((p) => p.metadata?.name === 'low'), { what: 'the victim to be gone' });
    const vip = await cluster.pods.get(namespace, 'vip');
    assert.equal(vip.status?.nominatedNodeName, lowNode);
    assert.equal((await cluster.pods.get(namespace, 'mid')).spec.nodeName, midNode, 'the other pod stays');
    const events = (await cluster.rest.resource<KubeEvent>(EVENTS).list(namespace)).items;
    assert.ok(events.some((e) => e.reason === 'Preempted' && e.involvedObject.name === 'low'), 'Preempted event on the victim');
  });

  it('does not preempt for a pod with preemptionPolicy Never', async () => {
    await priorityClass('polite-100', 100, 'Never');
    await cluster.nodes.create(undefined, makeNode('q1', { cpu: '1' }));
    await createPod(makePod('occupant', { cpu: '800m' }));
    await boundNode('occupant');
    await createPod(makePod('polite', { cpu: '800m', spec: { priorityClassName: 'polite-100' } }));
    const c = await condition('polite');
    assert.equal(c.message, '0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.');
    assert.equal((await cluster.pods.get(namespace, 'occupant')).spec.nodeName, 'q1');
  });
});
