// Wire-level checks of the kinds the workload controllers added, against what kube-apiserver 1.32 does:
// ReplicationControllers (defaults, validation, /scale, table), ControllerRevisions (immutable data, table) and the
// template generation the API server keeps on DaemonSets.
import { strict as assert } from 'node:assert';
import { startHarness, type Harness } from './harness.js';

const NS = '/api/v1/namespaces/default';
const APPS = '/apis/apps/v1/namespaces/default';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const MERGE = 'application/merge-patch+json';

type J = Record<string, unknown>;
const meta = (o: unknown): J => ((o as J).metadata ?? {}) as J;
const spec = (o: unknown): J => ((o as J).spec ?? {}) as J;

describe('workload kinds', function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  const rc = (name: string, extra: J = {}): J => ({
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name },
    spec: { template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } }, ...extra },
  });

  describe('ReplicationController', () => {
    it('is served as rc in the core group with status and scale, in category all', async () => {
      const r = await h.call('GET', '/api/v1');
      const res = (r.json.resources as J[]).filter((x) => String(x.name).startsWith('replicationcontrollers'));
      const main = res.find((x) => x.name === 'replicationcontrollers')!;
      assert.deepEqual(main.shortNames, ['rc']);
      assert.deepEqual(main.categories, ['all']);
      assert.equal(main.kind, 'ReplicationController');
      assert.deepEqual(res.map((x) => x.name).sort(), ['replicationcontrollers', 'replicationcontrollers/scale', 'replicationcontrollers/status']);
    });

    it('defaults the selector, labels and replicas from the template, and starts with replicas 0 in status', async () => {
      const r = await h.call('POST', `${NS}/replicationcontrollers`, { body: rc('web') });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(spec(r.json).selector, { app: 'web' });
      assert.deepEqual(meta(r.json).labels, { app: 'web' });
      assert.equal(spec(r.json).replicas, 1);
      assert.deepEqual(r.json.status, { replicas: 0 });
      assert.equal(meta(r.json).generation, 1);
    });

    it('refuses a selector that does not match the template, and a template that may not keep running', async () => {
      const bad = await h.call('POST', `${NS}/replicationcontrollers`, { body: rc('bad', { selector: { app: 'other' } }) });
      assert.equal(bad.status, 422, bad.text);
      assert.match(String(bad.json.message), /spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`/);
      const never = await h.call('POST', `${NS}/replicationcontrollers`, { body: rc('never', { template: { metadata: { labels: { app: 'never' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } }) });
      assert.equal(never.status, 422, never.text);
      assert.match(String(never.json.message), /spec.template.spec.restartPolicy: Unsupported value: "Never"/);
      const status = await h.call('PUT', `${NS}/replicationcontrollers/web/status`, { body: { ...(await h.call('GET', `${NS}/replicationcontrollers/web`)).json, status: { replicas: 1, readyReplicas: 2 } } });
      assert.equal(status.status, 422, status.text);
      assert.match(String(status.json.message), /status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas/);
    });

    it('serves /scale with the equality selector, and scales by PUT and PATCH', async () => {
      await h.call('POST', `${NS}/replicationcontrollers`, { body: rc('sc', { selector: { tier: 'b', app: 'sc' }, template: { metadata: { labels: { app: 'sc', tier: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } }) });
      const s = await h.call('GET', `${NS}/replicationcontrollers/sc/scale`);
      assert.equal(s.status, 200, s.text);
      assert.equal(s.json.kind, 'Scale');
      assert.deepEqual(s.json.status, { replicas: 0, selector: 'app=sc,tier=b' });
      const put = await h.call('PUT', `${NS}/replicationcontrollers/sc/scale`, { body: { ...s.json, spec: { replicas: 4 } } });
      assert.equal(put.status, 200, put.text);
      const patch = await h.call('PATCH', `${NS}/replicationcontrollers/sc/scale`, { body: { spec: { replicas: 2 } }, contentType: MERGE });
      assert.equal(patch.status, 200, patch.text);
      assert.equal(spec((await h.call('GET', `${NS}/replicationcontrollers/sc`)).json).replicas, 2);
    });

    it('prints DESIRED CURRENT READY AGE (and CONTAINERS IMAGES SELECTOR wide) as kubectl get rc', async () => {
      const t = await h.call('GET', `${NS}/replicationcontrollers/sc`, { accept: TABLE });
      assert.equal(t.status, 200, t.text);
      assert.deepEqual((t.json.columnDefinitions as J[]).map((c) => c.name), ['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers', 'Images', 'Selector']);
      const cells = (t.json.rows as J[])[0]!.cells as unknown[];
      assert.deepEqual([cells[0], cells[1], cells[2], cells[3], cells[5], cells[6], cells[7]], ['sc', 2, 0, 0, 'c', 'x', 'app=sc,tier=b']);
    });
  });

  describe('ControllerRevision', () => {
    const cr = (name: string, revision: number, data: J = { spec: { template: { $patch: 'replace' } } }): J => ({
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: { name, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: '0b9a7c2e-1111-4a1a-9c1d-000000000001', controller: true }] },
      data,
      revision,
    });

    it('keeps its data as written, without status or generation, and refuses to change it', async () => {
      const data = { spec: { template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c', image: 'x', bogus: 1 }] }, $patch: 'replace' } } };
      const r = await h.call('POST', `${APPS}/controllerrevisions`, { body: cr('agent-abc', 1, data) });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(r.json.data, data, 'data is kept as is (a RawExtension), unknown fields too');
      assert.equal(meta(r.json).generation, undefined);
      assert.equal(r.json.status, undefined);
      const renumber = await h.call('PATCH', `${APPS}/controllerrevisions/agent-abc`, { body: { revision: 3 }, contentType: MERGE });
      assert.equal(renumber.status, 200, renumber.text);
      assert.equal(renumber.json.revision, 3);
      const change = await h.call('PATCH', `${APPS}/controllerrevisions/agent-abc`, { body: { data: { spec: { template: { metadata: { labels: { app: 'b' } } } } } }, contentType: MERGE });
      assert.equal(change.status, 422, change.text);
      assert.match(String(change.json.message), /data: Invalid value: .*field is immutable/);
      const negative = await h.call('POST', `${APPS}/controllerrevisions`, { body: cr('neg', -1) });
      assert.equal(negative.status, 422, negative.text);
      const missing = await h.call('POST', `${APPS}/controllerrevisions`, { body: { ...cr('none', 1), revision: undefined } });
      assert.equal(missing.status, 422, missing.text);
    });

    it('prints NAME CONTROLLER REVISION AGE, the controller as kind.group/name', async () => {
      await h.call('POST', `${APPS}/controllerrevisions`, { body: { ...cr('orphan-1', 7), metadata: { name: 'orphan-1' } } });
      const t = await h.call('GET', `${APPS}/controllerrevisions`, { accept: TABLE });
      assert.deepEqual((t.json.columnDefinitions as J[]).map((c) => c.name), ['Name', 'Controller', 'Revision', 'Age']);
      const rows = Object.fromEntries((t.json.rows as J[]).map((row) => [(row.cells as unknown[])[0], (row.cells as unknown[]).slice(1, 3)]));
      assert.deepEqual(rows['agent-abc'], ['daemonset.apps/agent', 3]);
      assert.deepEqual(rows['orphan-1'], ['<none>', 7]);
    });
  });

  it('DaemonSet: the template generation annotation starts at 1 and counts template changes only', async () => {
    const ds = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'gen' },
      spec: { selector: { matchLabels: { app: 'gen' } }, template: { metadata: { labels: { app: 'gen' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
    };
    const key = 'deprecated.daemonset.template.generation';
    const created = await h.call('POST', `${APPS}/daemonsets`, { body: { ...ds, metadata: { name: 'gen', annotations: { [key]: 'bogus' } } } });
    assert.equal(created.status, 201, created.text);
    assert.equal((meta(created.json).annotations as J)[key], '1');
    const other = await h.call('PATCH', `${APPS}/daemonsets/gen`, { body: { spec: { minReadySeconds: 5 } }, contentType: MERGE });
    assert.equal((meta(other.json).annotations as J)[key], '1');
    assert.equal(meta(other.json).generation, 2);
    const tmpl = await h.call('PATCH', `${APPS}/daemonsets/gen`, { body: { spec: { template: { spec: { containers: [{ name: 'c', image: 'x:2' }] } } } }, contentType: MERGE });
    assert.equal((meta(tmpl.json).annotations as J)[key], '2');
    const forged = await h.call('PATCH', `${APPS}/daemonsets/gen`, { body: { metadata: { annotations: { [key]: '9' } } }, contentType: MERGE });
    assert.equal((meta(forged.json).annotations as J)[key], '2', 'an update cannot set it');
  });
});
