// `ketch why` on pods and deployments held back for known reasons, with the status and events the scheduler,
// controllers and agent would write crafted by hand.
import { strict as assert } from 'node:assert';
import { startHarness, type Harness } from './harness.js';

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

describe('ketch why', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  const event = (name: string, kind: string, obj: string, uid: string | undefined, reason: string, message: string, type = 'Warning') =>
    h.rest.request('POST', '/api/v1/namespaces/default/events', {
      body: { apiVersion: 'v1', kind: 'Event', metadata: { name }, involvedObject: { kind, name: obj, namespace: 'default', ...(uid ? { uid } : {}) }, reason, message, type, count: 1, firstTimestamp: now(), lastTimestamp: now(), source: { component: 'default-scheduler' } },
    });
  const mergeStatus = (path: string, body: unknown) => h.rest.request('PATCH', `${path}/status`, { body, contentType: 'application/merge-patch+json' });

  it('explains an unschedulable pod: per-node reasons, fixes, and a missing config map', async () => {
    const pod = `apiVersion: v1
kind: Pod
metadata:
  name: big
spec:
  nodeSelector: {disk: ssd}
  containers:
  - name: app
    image: nginx
    resources: {requests: {cpu: "64"}}
    env: [{name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}]
`;
    assert.equal((await h.ketch(['apply', '-f', '-'], { stdin: pod })).code, 0);
    const diag = { 'node-a': ['Insufficient cpu'], 'node-b': ["node(s) didn't match Pod's node affinity/selector"], 'node-c': ['node(s) were unschedulable'] };
    await h.rest.request('PATCH', '/api/v1/namespaces/default/pods/big', { body: { metadata: { annotations: { 'ketch.io/scheduling-diagnosis': JSON.stringify(diag) } } }, contentType: 'application/merge-patch+json' });
    const msg = "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    await mergeStatus('/api/v1/namespaces/default/pods/big', { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: msg, lastTransitionTime: now() }] } });
    await event('big.1', 'Pod', 'big', undefined, 'FailedScheduling', msg);

    const r = await h.ketch(['why', 'pod/big']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^pod\/big is Pending and not scheduled: /);
    assert.match(out, /the scheduler cannot place it on any node/);
    assert.match(out, /node-a: Insufficient cpu/);
    assert.match(out, /node-c: node\(s\) were unschedulable/);
    assert.match(out, /lower the pod's cpu request \(it asks for 64\)/);
    assert.match(out, /uncordon/);
    assert.match(out, /nodeSelector \(disk=ssd\)/);
    assert.match(out, /configmap "settings" does not exist/);
    assert.match(out, /used by env MODE of container app/);
    assert.ok(!/\u001b\[/.test(out), 'no colour when not on a terminal');

    // Once the config map exists but lacks the key, why says so instead.
    await h.ketch(['create', 'configmap', 'settings', '--from-literal', 'other=1']);
    const r2 = await h.ketch(['why', 'pods', 'big']);
    assert.match(r2.stdout, /configmap "settings" has no key "mode"/);
    assert.ok(!/does not exist/.test(r2.stdout));
  });

  it('explains a crashing container and an image that cannot be pulled, down from a deployment', async () => {
    const dep = await h.rest.request<{ metadata: { uid: string } }>('POST', '/apis/apps/v1/namespaces/default/deployments', {
      body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:nope', resources: { limits: { memory: '64Mi' } } }] } } } },
    });
    const owner = (kind: string, name: string, uid: string) => [{ apiVersion: 'apps/v1', kind, name, uid, controller: true, blockOwnerDeletion: true }];
    const rs = await h.rest.request<{ metadata: { uid: string } }>('POST', '/apis/apps/v1/namespaces/default/replicasets', {
      body: { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-abc', labels: { app: 'web', 'pod-template-hash': 'abc' }, annotations: { 'deployment.kubernetes.io/revision': '1' }, ownerReferences: owner('Deployment', 'web', dep.metadata.uid) }, spec: { replicas: 2, selector: { matchLabels: { app: 'web', 'pod-template-hash': 'abc' } }, template: { metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'c', image: 'nginx:nope' }] } } } },
    });
    for (const n of ['web-abc-1', 'web-abc-2']) {
      await h.rest.request('POST', '/api/v1/namespaces/default/pods', {
        body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: n, labels: { app: 'web', 'pod-template-hash': 'abc' }, ownerReferences: owner('ReplicaSet', 'web-abc', rs.metadata.uid) }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'nginx:nope', resources: { limits: { memory: '64Mi' } } }] } },
      });
    }
    await h.rest.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } } });
    await mergeStatus('/api/v1/nodes/n1', { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: now(), lastTransitionTime: now() }] } });
    await mergeStatus('/api/v1/namespaces/default/pods/web-abc-1', {
      status: { phase: 'Pending', containerStatuses: [{ name: 'c', image: 'nginx:nope', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nginx:nope"' } } }] },
    });
    await mergeStatus('/api/v1/namespaces/default/pods/web-abc-2', {
      status: {
        phase: 'Running',
        containerStatuses: [{ name: 'c', image: 'nginx:nope', imageID: '', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: now(), finishedAt: now() } } }],
      },
    });
    await mergeStatus('/apis/apps/v1/namespaces/default/deployments/web', { status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 0, unavailableReplicas: 2 } });

    const r = await h.ketch(['why', 'deploy/web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^deployment\.apps\/web is not fully running: 0\/2 pods ready\./);
    assert.match(r.stdout, /new replica set: web-abc \(revision 1/);
    assert.match(r.stdout, /0 of 2 updated replicas are available/);
    assert.match(r.stdout, /pod\/web-abc-1 .*cannot pull its image "nginx:nope" \(ImagePullBackOff\)/);
    assert.match(r.stdout, /pod\/web-abc-2 .*keeps crashing/);
    assert.match(r.stdout, /last exit: code 137 \(OOMKilled\)/);
    assert.match(r.stdout, /raise resources\.limits\.memory \(now 64Mi\)/);
    assert.match(r.stdout, /ketch logs web-abc-2 -c c --previous/);

    const rsWhy = await h.ketch(['why', 'rs', 'web-abc']);
    assert.match(rsWhy.stdout, /^replicaset\.apps\/web-abc is not fully running: 0\/2 pods ready\./);
  });

  it('says a healthy pod is fine, and fails on a missing object', async () => {
    await h.rest.request('POST', '/api/v1/namespaces/default/pods', { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'nginx' }] } } });
    await mergeStatus('/api/v1/namespaces/default/pods/ok', {
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now() }], containerStatuses: [{ name: 'c', image: 'nginx', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: now() } } }] },
    });
    const r = await h.ketch(['why', 'pod/ok']);
    assert.equal(r.stdout, 'pod/ok is running and ready on n1.\n');
    const m = await h.ketch(['why', 'pod/nope']);
    assert.equal(m.code, 1);
    assert.equal(m.stderr.trim(), 'Error from server (NotFound): pods "nope" not found');
  });
});
