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

  it('keeps an informer (makeInformer) in step: add, update and delete handlers fire and its cache follows', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespace = 'informed';
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'before' }, data: { v: '0' } } });
    const events: string[] = [];
    const waiters: { want: string; resolve: () => void }[] = [];
    const record = (what: string): void => {
      events.push(what);
      for (const w of waiters.filter((x) => x.want === what)) w.resolve();
    };
    const seen = (want: string): Promise<void> =>
      events.includes(want)
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`informer never saw ${want}; saw ${events.join(', ')}`)), 10_000);
            waiters.push({ want, resolve: () => (clearTimeout(t), resolve()) });
          });
    const informer = k8s.makeInformer<K8s.V1ConfigMap>(kc, `/api/v1/namespaces/${namespace}/configmaps`, () => core.listNamespacedConfigMap({ namespace }));
    const errors: unknown[] = [];
    informer.on('add', (cm) => record(`add:${cm.metadata?.name ?? ''}:${cm.data?.v ?? ''}`));
    informer.on('update', (cm) => record(`update:${cm.metadata?.name ?? ''}:${cm.data?.v ?? ''}`));
    informer.on('delete', (cm) => record(`delete:${cm.metadata?.name ?? ''}`));
    informer.on('error', (err) => errors.push(err));
    await informer.start();
    try {
      // The initial list arrives as adds; then every change made through the API.
      await seen('add:before:0');
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'cm' }, data: { v: '1' } } });
      await seen('add:cm:1');
      await core.replaceNamespacedConfigMap({ namespace, name: 'cm', body: { ...(await core.readNamespacedConfigMap({ namespace, name: 'cm' })), data: { v: '2' } } });
      await seen('update:cm:2');
      assert.equal(informer.get('cm', namespace)?.data?.v, '2');
      await core.deleteNamespacedConfigMap({ namespace, name: 'before' });
      await seen('delete:before');
      assert.deepEqual(informer.list(namespace).map((cm) => cm.metadata?.name).filter((n) => n !== 'kube-root-ca.crt'), ['cm']);
      assert.deepEqual(events.filter((e) => !e.includes(':kube-root-ca.crt')), ['add:before:0', 'add:cm:1', 'update:cm:2', 'delete:before']);
      assert.deepEqual(errors, []);
    } finally {
      await informer.stop();
    }
  });
  it('asks who it is, what it may do, and has a service-account token reviewed (authentication and authorization APIs)', async () => {
    const authn = kc.makeApiClient(k8s.AuthenticationV1Api);
    const me = await authn.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    assert.equal(me.status?.userInfo?.username, 'admin');
    const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
    const may = await authz.createSelfSubjectAccessReview({
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'delete', resource: 'pods', namespace: 'default' } } },
    });
    assert.equal(may.status?.allowed, true);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'default',
      namespace: 'default',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['my-service'] } },
    });
    const token = tr.status?.token ?? '';
    const review = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['my-service'] } } });
    assert.equal(review.status?.authenticated, true);
    assert.equal(review.status?.user?.username, 'system:serviceaccount:default:default');
    assert.deepEqual(review.status?.audiences, ['my-service']);
  });
});
