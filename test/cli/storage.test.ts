// The storage kinds in the CLI: `ketch describe` and the real kubectl's `describe pvc` (Used By, from the pods),
// `describe pv` and `describe sc`; `ketch why` on a pod held back by its volumes.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { KUBECTL } from '../support/kubectl-scenarios.js';
import { startHarness, type Harness } from './harness.js';

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

describe('storage in the CLI', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
    const post = (path: string, body: unknown) => h.rest.request('POST', path, { body });
    const status = (path: string, body: unknown) => h.rest.request('PATCH', `${path}/status`, { body, contentType: 'application/merge-patch+json' });
    await post('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'rancher.io/local-path',
      parameters: { nodePath: '/var/lib/ketch/storage' },
      volumeBindingMode: 'WaitForFirstConsumer',
      allowVolumeExpansion: true,
    });
    await post('/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'pvc-1234', annotations: { 'pv.kubernetes.io/provisioned-by': 'rancher.io/local-path' } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'local-path',
        persistentVolumeReclaimPolicy: 'Delete',
        claimRef: { namespace: 'default', name: 'data' },
        hostPath: { path: '/var/lib/ketch/storage/pvc-1234_default_data', type: 'DirectoryOrCreate' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }] }] } },
      },
    });
    await status('/api/v1/persistentvolumes/pvc-1234', { status: { phase: 'Bound' } });
    await post('/api/v1/namespaces/default/persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeName: 'pvc-1234' },
    });
    await status('/api/v1/namespaces/default/persistentvolumeclaims/data', { status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] } });
    for (const [name, claim] of [['web-0', 'data'], ['web-1', 'data'], ['other', 'elsewhere']] as const) {
      await post('/api/v1/namespaces/default/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: claim } }] },
      });
    }
  });
  after(async () => {
    await h?.close();
  });

  const kubectl = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(KUBECTL, args, { env: { ...process.env, KUBECONFIG: h.kubeconfig }, timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)));
    });

  it('describes a claim with the pods that use it (ketch and the real kubectl)', async () => {
    const r = await h.ketch(['describe', 'pvc', 'data']);
    assert.equal(r.code, 0, r.stderr);
    for (const out of [r.stdout, await kubectl('describe', 'pvc', 'data')]) {
      assert.match(out, /^StorageClass: +local-path$/m, 'the default class was given at create');
      assert.match(out, /^Status: +Bound$/m);
      assert.match(out, /^Volume: +pvc-1234$/m);
      assert.match(out, /^Finalizers: +\[kubernetes.io\/pvc-protection\]$/m);
      assert.match(out, /^Capacity: +1Gi$/m);
      assert.match(out, /^Access Modes: +RWO$/m);
      assert.match(out, /^VolumeMode: +Filesystem$/m);
      assert.match(out, /^Used By: +web-0\n +web-1$/m);
      assert.ok(!/other/.test(out));
    }
  });

  it('describes a volume and a class', async () => {
    const pv = (await h.ketch(['describe', 'pv', 'pvc-1234'])).stdout;
    assert.match(pv, /^Status: +Bound$/m);
    assert.match(pv, /^Claim: +default\/data$/m);
    assert.match(pv, /^Reclaim Policy: +Delete$/m);
    assert.match(pv, /^ +Term 0: +kubernetes.io\/hostname in \[node-a\]$/m);
    assert.match(pv, /^ +Type: +HostPath \(bare host directory volume\)$/m);
    assert.match(pv, /^ +Path: +\/var\/lib\/ketch\/storage\/pvc-1234_default_data$/m);
    const sc = (await h.ketch(['describe', 'sc', 'local-path'])).stdout;
    assert.match(sc, /^IsDefaultClass: +Yes$/m);
    assert.match(sc, /^Provisioner: +rancher.io\/local-path$/m);
    assert.match(sc, /^Parameters: +nodePath=\/var\/lib\/ketch\/storage$/m);
    assert.match(sc, /^AllowVolumeExpansion: +True$/m);
    assert.match(sc, /^VolumeBindingMode: +WaitForFirstConsumer$/m);
    const real = await kubectl('describe', 'sc', 'local-path');
    assert.match(real, /^IsDefaultClass: +Yes$/m);
  });

  it('explains a pod held back by its volumes', async () => {
    const msg = '0/2 nodes are available: 1 node(s) didn\'t match Pod\'s node affinity/selector, 1 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.';
    const diag = { 'node-a': ['node(s) had volume node affinity conflict'], 'node-b': ["node(s) didn't match Pod's node affinity/selector"] };
    await h.rest.request('PATCH', '/api/v1/namespaces/default/pods/web-1', { body: { metadata: { annotations: { 'ketch.io/scheduling-diagnosis': JSON.stringify(diag) } } }, contentType: 'application/merge-patch+json' });
    await h.rest.request('PATCH', '/api/v1/namespaces/default/pods/web-1/status', {
      body: { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: msg, lastTransitionTime: now() }] } },
      contentType: 'application/merge-patch+json',
    });
    const out = (await h.ketch(['why', 'pod/web-1'])).stdout;
    assert.match(out, /the scheduler cannot place it on any node/);
    assert.match(out, /node-a: node\(s\) had volume node affinity conflict/);
    assert.match(out, /its claims are bound to volumes pinned to other nodes/);

    const immediate = '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.';
    await h.rest.request('PATCH', '/api/v1/namespaces/default/pods/other/status', {
      body: { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: immediate, lastTransitionTime: now() }] } },
      contentType: 'application/merge-patch+json',
    });
    const out2 = (await h.ketch(['why', 'pod/other'])).stdout;
    assert.match(out2, /a claim of an Immediate class is not bound yet/);
  });
});
