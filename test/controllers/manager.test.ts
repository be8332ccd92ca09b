// Two controller managers on one API server: one leads and acts; the other takes over when the leader stops.
import assert from 'node:assert/strict';
import { LEASES, loadClientConfig, RestClient, SERVICEACCOUNTS, type Lease } from '../../client/index.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { PODS, REPLICASETS, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { waitFor } from '../support/util.js';
import { createNamespace, HollowKubelet, replicaSet, startTestCluster, type TestCluster } from './harness.js';

describe('controller manager', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  const managers: ControllerManager[] = [];
  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    await cluster?.close();
  });

  it('leader election: one of two managers acts; the other takes over when it stops', async () => {
    const le = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200, controllers: ['replicaset'] };
    const a = await startControllerManager({ rest: cluster.rest, identity: 'cm-a', ...le });
    managers.push(a);
    await waitFor(() => a.leading, { what: 'a leads' });
    const b = await startControllerManager({ rest: cluster.rest, identity: 'cm-b', ...le });
    managers.push(b);
    const leases = cluster.rest.resource<Lease>(LEASES);
    const lease = await leases.get('kube-system', 'kube-controller-manager');
    assert.equal(lease.spec?.holderIdentity, 'cm-a');

    const ns = await createNamespace(cluster.rest);
    const kubelet = new HollowKubelet(cluster.rest, ns);
    await kubelet.start();
    try {
      const rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
      const pods = cluster.rest.resource<Pod>(PODS);
      await rss.create(ns, replicaSet('le', 3));
      await waitFor(async () => (await rss.get(ns, 'le')).status?.readyReplicas === 3, { what: 'pods by the leader' });
      assert.equal(b.leading, false);
      assert.equal(kubelet.seen.length, 3, 'the standby created nothing');

      await a.stop();
      await waitFor(() => b.leading, { timeoutMs: 10_000, what: 'b takes over' });
      assert.equal((await leases.get('kube-system', 'kube-controller-manager')).spec?.holderIdentity, 'cm-b');
      await rss.patch(ns, 'le', { spec: { replicas: 5 } });
      await waitFor(async () => (await rss.get(ns, 'le')).status?.readyReplicas === 5, { what: 'pods by the new leader' });
      assert.equal((await pods.list(ns)).items.length, 5);
      assert.equal(kubelet.seen.length, 5);
    } finally {
      await kubelet.stop();
    }
  });

  it('with --use-service-account-credentials, each controller writes as its own service account', async () => {
    // The manager's own credential (system:kube-controller-manager) may not create pods: kube's role holds only what
    // starting needs; the ReplicaSet controller's account (system:controller:replicaset-controller) may.
    const own = new RestClient(loadClientConfig({ kubeconfig: cluster.server.controllerManagerKubeconfigPath }));
    const ns = await createNamespace(cluster.rest);
    const pods = cluster.rest.resource<Pod>(PODS);
    await assert.rejects(own.resource<Pod>(PODS).create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'direct' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } as Pod), /forbidden/);
    const cm = await startControllerManager({ rest: own, leaderElect: false, controllers: ['replicaset'], useServiceAccountCredentials: true });
    managers.push(cm);
    await cluster.rest.resource<ReplicaSet>(REPLICASETS).create(ns, replicaSet('sa', 2));
    const created = await waitFor(async () => {
      const items = (await pods.list(ns)).items;
      return items.length === 2 ? items : undefined;
    }, { what: 'pods of the ReplicaSet' });
    // Its writes name the controller's service account, which was created in kube-system.
    const sa = await cluster.rest.resource(SERVICEACCOUNTS).get('kube-system', 'replicaset-controller');
    assert.equal(sa.metadata?.name, 'replicaset-controller');
    const review = await cluster.rest.request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'], resourceAttributes: { verb: 'create', resource: 'pods', namespace: ns } } },
    });
    assert.equal(review.status.allowed, true);
    assert.equal(created.length, 2);
    await cm.stop();
  });

  it('runs every controller by default, without leader election when asked', async () => {
    const cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, nodeMonitorPeriodMs: 60_000 });
    managers.push(cm);
    assert.equal(cm.leading, true);
    await cm.stop();
    assert.equal(cm.leading, false);
  });
});
