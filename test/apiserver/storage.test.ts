// The storage kinds against a real API server: discovery, status subresources, the admission plugins (default class,
// protection finalizers, resize) and the tables the real kubectl v1.32 prints for `get pv,pvc,sc`.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { KUBECTL } from '../support/kubectl-scenarios.js';
import { startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const PVS = '/api/v1/persistentvolumes';
const PVCS = '/api/v1/namespaces/default/persistentvolumeclaims';
const SCS = '/apis/storage.k8s.io/v1/storageclasses';

const claim = (name: string, spec: J = {}): J => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
});
const volume = (name: string, spec: J = {}): J => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name },
  spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], hostPath: { path: `/srv/${name}` }, ...spec },
});
const storageClass = (name: string, extra: J = {}): J => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: 'example.com/p', ...extra });
const obj = (v: unknown): J => (v && typeof v === 'object' ? (v as J) : {});

describe('storage kinds (API server)', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  const kubectl = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(KUBECTL, args, { env: { ...process.env, KUBECONFIG: h.api.adminKubeconfigPath }, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`));
        else resolve(stdout);
      });
    });

  it('serves pv, pvc (namespaced) and sc with their short names and status subresources', async () => {
    const core = await h.call('GET', '/api/v1');
    const res = (n: string): J | undefined => (core.json.resources as J[]).find((r) => r.name === n);
    assert.deepEqual(res('persistentvolumes')?.shortNames, ['pv']);
    assert.equal(res('persistentvolumes')?.namespaced, false);
    assert.deepEqual(res('persistentvolumeclaims')?.shortNames, ['pvc']);
    assert.equal(res('persistentvolumeclaims')?.namespaced, true);
    assert.ok(res('persistentvolumeclaims/status'));
    const storage = await h.call('GET', '/apis/storage.k8s.io/v1');
    const names = (storage.json.resources as J[]).map((r) => r.name);
    assert.deepEqual(names, ['storageclasses', 'csidrivers', 'csinodes']);
    assert.deepEqual((storage.json.resources as J[])[0]?.shortNames, ['sc']);
  });

  it('creates a volume Pending with the pv-protection finalizer, and refuses an invalid one', async () => {
    const created = await h.call('POST', PVS, { body: volume('pv-a') });
    assert.equal(created.status, 201, created.text);
    assert.equal(obj(created.json.status).phase, 'Pending');
    assert.deepEqual(obj(created.json.metadata).finalizers, ['kubernetes.io/pv-protection']);
    assert.equal(obj(created.json.spec).persistentVolumeReclaimPolicy, 'Retain');
    const bad = await h.call('POST', PVS, { body: volume('pv-bad', { hostPath: undefined, local: { path: '/mnt' } }) });
    assert.equal(bad.status, 422);
    assert.match(String(bad.json.message), /spec.nodeAffinity: Required value: Local volume requires node affinity/);
    // The status subresource moves the phase; a main-resource write cannot.
    const st = await h.call('PATCH', `${PVS}/pv-a/status`, { body: { status: { phase: 'Available' } }, contentType: 'application/merge-patch+json' });
    assert.equal(obj(st.json.status).phase, 'Available');
    const main = await h.call('PATCH', `${PVS}/pv-a`, { body: { status: { phase: 'Failed' } }, contentType: 'application/merge-patch+json' });
    assert.equal(obj(main.json.status).phase, 'Available');
  });

  it('gives a claim without a class the default class (the newest default), and leaves "" alone', async () => {
    const none = await h.call('POST', PVCS, { body: claim('before-default') });
    assert.equal(obj(none.json.spec).storageClassName, undefined, 'no default class yet');
    assert.deepEqual(obj(none.json.metadata).finalizers, ['kubernetes.io/pvc-protection']);
    assert.equal(obj(none.json.status).phase, 'Pending');
    const dflt = { metadata: { name: 'std', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } };
    assert.equal((await h.call('POST', SCS, { body: { ...storageClass('std'), ...dflt } })).status, 201);
    const withDefault = await h.call('POST', PVCS, { body: claim('gets-default') });
    assert.equal(obj(withDefault.json.spec).storageClassName, 'std');
    const empty = await h.call('POST', PVCS, { body: claim('no-class', { storageClassName: '' }) });
    assert.equal(obj(empty.json.spec).storageClassName, '');
    const named = await h.call('POST', PVCS, { body: claim('named', { storageClassName: 'other' }) });
    assert.equal(obj(named.json.spec).storageClassName, 'other');
    const sc = await h.call('GET', `${SCS}/std`);
    assert.equal(sc.json.reclaimPolicy, 'Delete');
    assert.equal(sc.json.volumeBindingMode, 'Immediate');
  });

  it('lets a bound claim grow only when its class allows expansion', async () => {
    await h.call('POST', SCS, { body: storageClass('fixed') });
    await h.call('POST', SCS, { body: storageClass('elastic', { allowVolumeExpansion: true }) });
    for (const [name, cls] of [['fixed-claim', 'fixed'], ['elastic-claim', 'elastic']] as const) {
      assert.equal((await h.call('POST', PVCS, { body: claim(name, { storageClassName: cls }) })).status, 201);
      const bound = await h.call('PATCH', `${PVCS}/${name}/status`, { body: { status: { phase: 'Bound', capacity: { storage: '1Gi' } } }, contentType: 'application/merge-patch+json' });
      assert.equal(bound.status, 200, bound.text);
    }
    const grow = { spec: { resources: { requests: { storage: '2Gi' } } } };
    const refused = await h.call('PATCH', `${PVCS}/fixed-claim`, { body: grow, contentType: 'application/merge-patch+json' });
    assert.equal(refused.status, 403);
    assert.equal(
      refused.json.message,
      'persistentvolumeclaims "fixed-claim" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize',
    );
    const grown = await h.call('PATCH', `${PVCS}/elastic-claim`, { body: grow, contentType: 'application/merge-patch+json' });
    assert.equal(grown.status, 200, grown.text);
    const other = await h.call('PATCH', `${PVCS}/elastic-claim`, { body: { spec: { accessModes: ['ReadWriteMany'] } }, contentType: 'application/merge-patch+json' });
    assert.equal(other.status, 422);
    assert.match(String(other.json.message), /spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims/);
  });

  it('prints kube\'s columns for kubectl get pv,pvc,sc (the real kubectl)', async () => {
    await h.call('POST', PVS, { body: volume('pv-table', { storageClassName: 'manual', claimRef: { namespace: 'default', name: 'table-claim' } }) });
    await h.call('PATCH', `${PVS}/pv-table/status`, { body: { status: { phase: 'Bound' } }, contentType: 'application/merge-patch+json' });
    await h.call('POST', PVCS, { body: claim('table-claim', { storageClassName: 'manual', volumeName: 'pv-table' }) });
    await h.call('PATCH', `${PVCS}/table-claim/status`, {
      body: { status: { phase: 'Bound', capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] } },
      contentType: 'application/merge-patch+json',
    });
    const pv = (await kubectl('get', 'pv', 'pv-table')).split('\n');
    assert.match(pv[0]!, /^NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+REASON\s+AGE$/);
    assert.match(pv[1]!, /^pv-table\s+5Gi\s+RWO,ROX\s+Retain\s+Bound\s+default\/table-claim\s+manual\s+<unset>\s+\S+$/);
    const pvc = (await kubectl('get', 'pvc', 'table-claim')).split('\n');
    assert.match(pvc[0]!, /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$/);
    assert.match(pvc[1]!, /^table-claim\s+Bound\s+pv-table\s+5Gi\s+RWO,ROX\s+manual\s+<unset>\s+\S+$/);
    const wide = (await kubectl('get', 'pvc', 'table-claim', '-o', 'wide')).split('\n');
    assert.match(wide[0]!, /\s+AGE\s+VOLUMEMODE$/);
    assert.match(wide[1]!, /\s+Filesystem$/);
    const sc = (await kubectl('get', 'sc')).split('\n');
    assert.match(sc[0]!, /^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE$/);
    assert.ok(sc.some((l) => /^std \(default\)\s+example.com\/p\s+Delete\s+Immediate\s+false\s+\S+$/.test(l)), sc.join('\n'));
    assert.ok(sc.some((l) => /^elastic\s+example.com\/p\s+Delete\s+Immediate\s+true\s+\S+$/.test(l)), sc.join('\n'));
    const all = await kubectl('get', 'pv,pvc,sc');
    assert.match(all, /persistentvolume\/pv-table/);
    assert.match(all, /persistentvolumeclaim\/table-claim/);
    assert.match(all, /storageclass.storage.k8s.io\/std \(default\)/);
  });
});
