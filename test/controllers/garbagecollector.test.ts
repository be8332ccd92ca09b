// The garbage collector against a real API server: Background, Foreground and Orphan propagation, dangling owners.
import assert from 'node:assert/strict';
import type { ResourceClient } from '../../client/index.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { refFor, DEPLOYMENTS, PODS, REPLICASETS, type Deployment, type OwnerReference, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { isGoneAfter, waitFor } from '../support/util.js';
import { widgetCrd } from '../support/crds.js';
import { createNamespace, deployment, startTestCluster, type TestCluster } from './harness.js';

interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name?: string; namespace?: string; uid?: string; ownerReferences?: OwnerReference[]; finalizers?: string[]; deletionTimestamp?: string; resourceVersion?: string };
  data?: Record<string, string>;
}
const CONFIGMAPS = refFor('v1', 'ConfigMap');

describe('garbage collector', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let cms: ResourceClient<ConfigMap>;

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['garbagecollector', 'replicaset', 'deployment'] });
    cms = cluster.rest.resource<ConfigMap>(CONFIGMAPS);
  });
  after(async () => {
    await cm?.stop();
    await cluster?.close();
  });

  const ref = (o: ConfigMap, block = false): OwnerReference => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name!, uid: o.metadata.uid!, ...(block ? { blockOwnerDeletion: true } : {}) });
  const make = (ns: string, name: string, owners: OwnerReference[] = [], finalizers: string[] = []): Promise<ConfigMap> =>
    cms.create(ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ownerReferences: owners, ...(finalizers.length ? { finalizers } : {}) } });
  const gone = (c: ResourceClient<ConfigMap> | ResourceClient<ReplicaSet> | ResourceClient<Pod> | ResourceClient<Deployment>, ns: string, name: string): Promise<boolean> =>
    isGoneAfter(() => c.get(ns, name));

  it('Background: the owner goes at once, then its dependents (and theirs)', async () => {
    const ns = await createNamespace(cluster.rest);
    const owner = await make(ns, 'owner');
    const child = await make(ns, 'child', [ref(owner)]);
    await make(ns, 'grandchild', [ref(child)]);
    const other = await make(ns, 'other');
    await make(ns, 'kept', [ref(other)]);
    await cms.delete(ns, 'owner', { propagationPolicy: 'Background' });
    assert.ok(await gone(cms, ns, 'owner'));
    await waitFor(async () => (await gone(cms, ns, 'child')) && (await gone(cms, ns, 'grandchild')), { what: 'dependents collected' });
    assert.ok(!(await gone(cms, ns, 'kept')));
  });

  it('collects the dependents of a deleted custom resource', async () => {
    const crds = cluster.rest.resource<{ apiVersion: string; kind: string; metadata: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }>(refFor('apiextensions.k8s.io/v1', 'CustomResourceDefinition'));
    await crds.create(undefined, widgetCrd({ group: 'gc.ketch.dev' }) as never);
    await waitFor(async () => (await crds.get(undefined, 'widgets.gc.ketch.dev')).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'), { what: 'established' });
    const ns = await createNamespace(cluster.rest);
    const widgets = cluster.rest.resource<ConfigMap>({ group: 'gc.ketch.dev', version: 'v1', resource: 'widgets', namespaced: true });
    const w = await widgets.create(ns, { apiVersion: 'gc.ketch.dev/v1', kind: 'Widget', metadata: { name: 'owner' }, spec: { color: 'red' } } as never);
    await make(ns, 'owned', [{ apiVersion: 'gc.ketch.dev/v1', kind: 'Widget', name: 'owner', uid: w.metadata.uid! }]);
    // A dependent whose Widget owner never existed is collected: the collector has seen both dependents by then.
    await make(ns, 'dangling', [{ apiVersion: 'gc.ketch.dev/v1', kind: 'Widget', name: 'never', uid: '00000000-0000-0000-0000-000000000000' }]);
    await waitFor(() => gone(cms, ns, 'dangling'), { what: 'the dependent of a Widget that never existed collected' });
    assert.ok(!(await gone(cms, ns, 'owned')));
    // Only the Widget's deletion, seen by the collector's informer of Widgets, can now collect its dependent.
    await widgets.delete(ns, 'owner');
    await waitFor(() => gone(cms, ns, 'owned'), { what: 'the dependent of the custom resource collected' });
  });

  it('Foreground: the owner waits (foregroundDeletion) until blocking dependents are gone', async () => {
    const ns = await createNamespace(cluster.rest);
    const owner = await make(ns, 'owner');
    // A dependent that cannot go yet: a finalizer of its own holds it.
    await make(ns, 'held', [ref(owner, true)], ['example.com/hold']);
    await make(ns, 'free', [ref(owner, true)]);
    await cms.delete(ns, 'owner', { propagationPolicy: 'Foreground' });
    const deleting = await cms.get(ns, 'owner');
    assert.ok(deleting.metadata.deletionTimestamp);
    assert.ok(deleting.metadata.finalizers?.includes('foregroundDeletion'));
    await waitFor(async () => (await gone(cms, ns, 'free')) && !!(await cms.get(ns, 'held')).metadata.deletionTimestamp, { what: 'dependents deleted' });
    assert.ok(!(await gone(cms, ns, 'owner')), 'owner waits for its blocking dependent');
    await cms.patch(ns, 'held', { metadata: { finalizers: null } });
    await waitFor(async () => (await gone(cms, ns, 'held')) && (await gone(cms, ns, 'owner')), { what: 'owner deleted after its dependents' });
  });

  it('Foreground: a dependent that does not block does not hold the owner', async () => {
    const ns = await createNamespace(cluster.rest);
    const owner = await make(ns, 'owner');
    await make(ns, 'held', [ref(owner, false)], ['example.com/hold']);
    await cms.delete(ns, 'owner', { propagationPolicy: 'Foreground' });
    await waitFor(() => gone(cms, ns, 'owner'), { what: 'owner deleted' });
    assert.ok((await cms.get(ns, 'held')).metadata.deletionTimestamp);
    await cms.patch(ns, 'held', { metadata: { finalizers: null } });
  });

  it('Orphan: dependents stay, without the reference to the owner', async () => {
    const ns = await createNamespace(cluster.rest);
    const owner = await make(ns, 'owner');
    const second = await make(ns, 'second');
    await make(ns, 'a', [ref(owner)]);
    await make(ns, 'b', [ref(owner), ref(second)]);
    await cms.delete(ns, 'owner', { propagationPolicy: 'Orphan' });
    await waitFor(() => gone(cms, ns, 'owner'), { what: 'owner deleted' });
    const a = await cms.get(ns, 'a');
    const b = await cms.get(ns, 'b');
    assert.deepEqual(a.metadata.ownerReferences ?? [], []);
    assert.deepEqual((b.metadata.ownerReferences ?? []).map((r) => r.name), ['second']);
  });

  it('deletes an object whose owner never existed, and keeps one with another live owner', async () => {
    const ns = await createNamespace(cluster.rest);
    const live = await make(ns, 'live');
    const ghost: OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'ghost', uid: '00000000-0000-0000-0000-000000000000' };
    await make(ns, 'dangling', [ghost]);
    await make(ns, 'mixed', [ghost, ref(live)]);
    await waitFor(() => gone(cms, ns, 'dangling'), { what: 'dangling dependent collected' });
    const mixed = await waitFor(async () => {
      const m = await cms.get(ns, 'mixed');
      return (m.metadata.ownerReferences ?? []).length === 1 && m;
    }, { what: 'dangling reference removed' });
    assert.equal(mixed.metadata.ownerReferences?.[0]?.name, 'live');
  });

  for (const policy of ['Background', 'Foreground', 'Orphan'] as const) {
    it(`deletes a Deployment with propagationPolicy ${policy}: its ReplicaSets and pods ${policy === 'Orphan' ? 'stay, released' : 'go'}`, async () => {
      const ns = await createNamespace(cluster.rest);
      const deps = cluster.rest.resource<Deployment>(DEPLOYMENTS);
      const rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
      const pods = cluster.rest.resource<Pod>(PODS);
      const d = await deps.create(ns, deployment('web', 2));
      const [rs] = await waitFor(async () => {
        const sets = (await rss.list(ns)).items;
        return sets.length === 1 && (await pods.list(ns)).items.length === 2 && sets;
      }, { what: 'ReplicaSet and pods' });
      assert.equal(controllerRefOf(rs!)?.uid, d.metadata.uid);
      // The response is the object as the delete left it: gone (a Status), or waiting on the collector's finalizer.
      const res = await deps.delete(ns, 'web', { propagationPolicy: policy });
      if (policy === 'Background') assert.ok(await gone(deps, ns, 'web'), 'the owner goes at once');
      else assert.deepEqual(res.kind === 'Status' ? res : res.metadata.finalizers, [policy === 'Orphan' ? 'orphan' : 'foregroundDeletion']);
      await waitFor(() => gone(deps, ns, 'web'), { what: 'Deployment deleted' });
      if (policy !== 'Orphan') {
        await waitFor(async () => (await rss.list(ns)).items.length === 0 && (await pods.list(ns)).items.length === 0, { what: 'cascade' });
        return;
      }
      // The orphan finalizer goes only after the references are removed: what is left now stays.
      const [kept, ...more] = (await rss.list(ns)).items;
      assert.equal(more.length, 0);
      assert.equal(kept?.metadata.uid, rs!.metadata.uid);
      assert.deepEqual(kept?.metadata.ownerReferences ?? [], []);
      const left = (await pods.list(ns)).items;
      assert.equal(left.length, 2);
      for (const p of left) assert.equal(controllerRefOf(p)?.uid, rs!.metadata.uid, 'pods keep their ReplicaSet');
    });
  }

  it('cascades in the background by default', async () => {
    const ns = await createNamespace(cluster.rest);
    const rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
    const pods = cluster.rest.resource<Pod>(PODS);
    await rss.create(ns, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'r' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'r' } }, template: { metadata: { labels: { app: 'r' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    });
    await waitFor(async () => (await pods.list(ns)).items.length === 3, { what: 'pods' });
    await rss.delete(ns, 'r');
    await waitFor(async () => (await pods.list(ns)).items.length === 0, { what: 'pods collected' });
  });
});
