// The namespace controller against a real API server: deleting a namespace deletes its content, then the namespace.
import assert from 'node:assert/strict';
import { ApiError, isNotFound } from '../../api/errors.js';
import type { ResourceClient } from '../../client/index.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { refFor, DEPLOYMENTS, NAMESPACES, PODS, REPLICASETS, type Deployment, type Namespace, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { waitFor } from '../support/util.js';
import { widgetCrd } from '../support/crds.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';

interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name?: string; finalizers?: string[] };
}

describe('namespace controller', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let cm: ControllerManager;

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['namespace', 'garbagecollector', 'replicaset', 'deployment'] });
  });
  after(async () => {
    await cm?.stop();
    await cluster?.close();
  });

  it('deletes everything in a namespace, reports what remains, then removes the namespace', async () => {
    const ns = await createNamespace(cluster.rest);
    const namespaces = cluster.rest.resource<Namespace>(NAMESPACES);
    const cms = cluster.rest.resource<ConfigMap>(refFor('v1', 'ConfigMap'));
    const pods = cluster.rest.resource<Pod>(PODS);
    const deps = cluster.rest.resource<Deployment>(DEPLOYMENTS);
    const rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
    assert.deepEqual((await namespaces.get(undefined, ns)).spec?.finalizers, ['kubernetes']);
    await deps.create(ns, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    });
    await cms.create(ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plain' } });
    await cms.create(ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    await waitFor(async () => (await pods.list(ns)).items.length === 2, { what: 'pods' });

    await namespaces.delete(undefined, ns);
    const terminating = await namespaces.get(undefined, ns);
    assert.equal(terminating.status?.phase, 'Terminating');
    await assert.rejects(cms.create(ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' } }), (err: unknown) => err instanceof ApiError && err.code === 403);

    const stuck = await waitFor(async () => {
      const cur = await namespaces.get(undefined, ns);
      const c = cur.status?.conditions?.find((x) => x.type === 'NamespaceFinalizersRemaining');
      return c?.status === 'True' && (await pods.list(ns)).items.length === 0 && (await deps.list(ns)).items.length === 0 && (await rss.list(ns)).items.length === 0 && cur;
    }, { what: 'content deleted but one finalizer' });
    const cond = (t: string) => stuck.status?.conditions?.find((x) => x.type === t);
    assert.equal(cond('NamespaceFinalizersRemaining')?.message, 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances');
    assert.equal(cond('NamespaceContentRemaining')?.message, 'Some resources are remaining: configmaps has 1 resource instances');
    assert.equal(cond('NamespaceDeletionContentFailure')?.status, 'False');
    assert.deepEqual((await cms.list(ns)).items.map((c) => c.metadata.name), ['held']);

    await cms.patch(ns, 'held', { metadata: { finalizers: null } });
    await waitFor(async () => {
      try {
        await namespaces.get(undefined, ns);
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, { what: 'namespace removed' });
  });

  it('deletes the custom resources in a namespace too', async () => {
    const crds = cluster.rest.resource<{ apiVersion: string; kind: string; metadata: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }>(refFor('apiextensions.k8s.io/v1', 'CustomResourceDefinition'));
    await crds.create(undefined, widgetCrd({ group: 'ns.ketch.dev' }) as never);
    await waitFor(async () => (await crds.get(undefined, 'widgets.ns.ketch.dev')).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'), { what: 'established' });
    const ns = await createNamespace(cluster.rest);
    const widgets = cluster.rest.resource<{ apiVersion: string; kind: string; metadata: { name?: string } }>({ group: 'ns.ketch.dev', version: 'v1', resource: 'widgets', namespaced: true });
    await widgets.create(ns, { apiVersion: 'ns.ketch.dev/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { color: 'red' } } as never);
    await cluster.rest.resource<Namespace>(NAMESPACES).delete(undefined, ns);
    await waitFor(async () => {
      try {
        await cluster.rest.resource<Namespace>(NAMESPACES).get(undefined, ns);
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, { what: 'namespace removed' });
    assert.deepEqual((await widgets.list(ns)).items, []);
  });

  it('leaves namespaces that are not being deleted alone', async () => {
    const ns = await createNamespace(cluster.rest);
    const cms = cluster.rest.resource<ConfigMap>(refFor('v1', 'ConfigMap'));
    await cms.create(ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
    await new Promise((r) => setTimeout(r, 300));
    // Beside the API server's own kube-root-ca.crt.
    assert.deepEqual((await cms.list(ns)).items.map((c) => c.metadata.name).sort(), ['kube-root-ca.crt', 'x']);
  });
});
