// @kubernetes/client-node against the API server, with the admin kubeconfig as written.
import { strict as assert } from 'node:assert';
import type * as K8s from '@kubernetes/client-node';
import { startHarness, type Harness } from './harness.js';

// client-node 2.0 depends on undici 8, which needs Node 22; package.json overrides it with undici 7, which loads on 20.

describe('@kubernetes/client-node', function () {
  this.timeout(30_000);
  let h: Harness;
  let k8s: typeof K8s;
  let kc: K8s.KubeConfig;
  before(async () => {
    k8s = await import('@kubernetes/client-node');
    h = await startHarness();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(h.api.adminKubeconfigPath);
  });
  after(async () => {
    await h?.stop();
  });

  it('lists and creates with CoreV1Api and AppsV1Api', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const nss = await core.listNamespace();
    assert.ok(nss.items.some((n) => n.metadata?.name === 'kube-system'));
    const cm = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'from-client' }, data: { a: 'b' } } });
    assert.equal(cm.metadata?.name, 'from-client');
    assert.ok(cm.metadata?.uid);
    const pod = await core.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'cp', labels: { app: 'cp' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    assert.equal(pod.status?.phase, 'Pending');
    const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=cp' });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name), ['cp']);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const d = await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'cd' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'cd' } }, template: { metadata: { labels: { app: 'cd' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
      },
    });
    assert.equal(d.metadata?.generation, 1);
    await assert.rejects(core.readNamespacedPod({ namespace: 'default', name: 'nope' }), (err: { code?: number }) => err.code === 404);
  });

  it('watches with Watch and sees ADDED then DELETED', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    const events: string[] = [];
    let notify: (() => void) | undefined;
    const seen = (want: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`watch saw ${events.join(',')}`)), 10_000);
        const check = (): void => {
          if (events.length >= want) {
            clearTimeout(t);
            resolve();
          }
        };
        notify = check;
        check();
      });
    const watch = new k8s.Watch(kc);
    const ctl = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (phase, obj: K8s.V1ConfigMap) => {
        if (phase === 'BOOKMARK') return;
        events.push(`${phase}:${obj.metadata?.name ?? ''}`);
        notify?.();
      },
      () => undefined,
    );
    try {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'watched' } } });
      await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'watched' });
      await seen(2);
      assert.deepEqual(events, ['ADDED:watched', 'DELETED:watched']);
    } finally {
      ctl.abort();
    }
  });
});
