// The API server over the wire: auth, discovery, CRUD per kind, errors, watch, patch, apply, tables, protobuf, limits.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCert } from '../../apiserver/pki/pki.js';
import { deploymentManifest, podManifest, startHarness, type Harness } from './harness.js';

const NS = '/api/v1/namespaces/default';
const APPS = '/apis/apps/v1/namespaces/default';
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';

type J = Record<string, unknown>;
const meta = (o: unknown): J => ((o as J).metadata ?? {}) as J;
const spec = (o: unknown): J => ((o as J).spec ?? {}) as J;

describe('apiserver', function () {
  let h: Harness;
  before(async () => {
    h = await startHarness({ watchBookmarkIntervalMs: 200 });
  });
  after(async () => {
    await h.stop();
  });

  describe('authentication', () => {
    it('rejects a request without credentials with a 401 Status', async () => {
      const r = await h.call('GET', '/api/v1/namespaces', { auth: 'none' });
      assert.equal(r.status, 401);
      assert.equal(r.json.kind, 'Status');
      assert.equal(r.json.reason, 'Unauthorized');
    });

    it('rejects an unknown bearer token and accepts the token file token', async () => {
      assert.equal((await h.call('GET', '/version', { auth: { token: 'nope' } })).status, 401);
      const ok = await h.call('GET', '/version', { auth: { token: h.adminToken } });
      assert.equal(ok.status, 200);
    });

    it('rejects a client certificate from another CA', async () => {
      const { ensurePki } = await import('../../apiserver/pki/pki.js');
      const { mkdtempSync, rmSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const other = mkdtempSync(join(tmpdir(), 'ketch-other-ca-'));
      try {
        const foreign = await ensurePki(other);
        const r = await h.call('GET', '/version', { auth: { cert: foreign.admin.certPem, key: foreign.admin.keyPem } });
        assert.equal(r.status, 401);
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    });

    it('accepts a client certificate signed by the cluster CA', async () => {
      const ca = { certPem: readFileSync(join(h.dataDir, 'pki', 'ca.crt'), 'utf8'), keyPem: readFileSync(join(h.dataDir, 'pki', 'ca.key'), 'utf8') };
      const user = await issueCert(ca, { commonName: 'alice', organizations: ['dev'], usage: 'client' });
      const auth = { cert: user.certPem, key: user.keyPem };
      // Who the server takes the certificate for (CN the user, O the groups); alice holds no rights of her own.
      const who = await h.call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, auth });
      assert.equal(who.status, 201, who.text);
      assert.deepEqual((who.json.status as J).userInfo, { username: 'alice', groups: ['dev', 'system:authenticated'] });
      const r = await h.call('GET', '/api/v1/namespaces', { auth });
      assert.equal(r.status, 403);
      assert.match(String(r.json.message), /User "alice" cannot list resource "namespaces"/);
    });
  });

  describe('discovery', () => {
    it('serves /version as 1.32 with no-cache', async () => {
      const r = await h.call('GET', '/version');
      assert.equal(r.json.major, '1');
      assert.equal(r.json.minor, '32');
      assert.match(String(r.json.gitVersion), /^v1\.32\./);
      assert.equal(r.headers['cache-control'], 'no-cache, private');
    });

    it('serves aggregated discovery with the exact content type', async () => {
      const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
      const core = await h.call('GET', '/api', { accept });
      assert.equal(core.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
      const items = core.json.items as J[];
      assert.equal(meta(items[0]).name, '');
      const apis = await h.call('GET', '/apis', { accept });
      const apps = (apis.json.items as J[]).find((i) => meta(i).name === 'apps') as J;
      const deploy = ((apps.versions as J[])[0]?.resources as J[]).find((r) => r.resource === 'deployments') as J;
      assert.deepEqual(deploy.shortNames, ['deploy']);
      assert.deepEqual(deploy.categories, ['all']);
      assert.ok((deploy.subresources as J[]).some((s) => s.subresource === 'scale'));
    });

    it('serves legacy discovery documents', async () => {
      assert.deepEqual((await h.call('GET', '/api')).json.versions, ['v1']);
      const groups = (await h.call('GET', '/apis')).json.groups as J[];
      assert.ok(groups.some((g) => g.name === 'apps'));
      const v1 = await h.call('GET', '/api/v1');
      const names = (v1.json.resources as J[]).map((r) => r.name);
      assert.ok(names.includes('pods') && names.includes('pods/status') && names.includes('namespaces/finalize'));
      assert.equal((await h.call('GET', '/apis/nope/v1')).status, 404);
    });

    it('serves the openapi v3 index and documents with fieldValidation on patch', async () => {
      const idx = await h.call('GET', '/openapi/v3');
      const paths = idx.json.paths as Record<string, { serverRelativeURL: string }>;
      const url = paths['apis/apps/v1']?.serverRelativeURL ?? '';
      assert.match(url, /^\/openapi\/v3\/apis\/apps\/v1\?hash=/);
      const doc = await h.call('GET', url);
      assert.equal(doc.status, 200);
      const item = (doc.json.paths as Record<string, J>)['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'] as J;
      const params = ((item.patch as J).parameters as J[]).map((p) => p.name);
      assert.ok(params.includes('fieldValidation'));
      assert.equal((await h.call('GET', '/openapi/v2')).status, 200);
    });

    it('answers health checks', async () => {
      for (const p of ['/healthz', '/livez', '/readyz']) assert.equal((await h.call('GET', p)).text, 'ok');
    });
  });

  describe('namespaces', () => {
    it('bootstraps the system namespaces', async () => {
      const r = await h.call('GET', '/api/v1/namespaces');
      const names = (r.json.items as J[]).map((n) => meta(n).name);
      for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.ok(names.includes(n), n);
    });

    it('refuses content in a missing namespace (404) and in a terminating one (403)', async () => {
      const missing = await h.call('POST', '/api/v1/namespaces/nosuch/configmaps', { body: { metadata: { name: 'x' } } });
      assert.equal(missing.status, 404);
      assert.equal(missing.json.message, 'namespaces "nosuch" not found');
      assert.equal((await h.call('POST', '/api/v1/namespaces', { body: { metadata: { name: 'doomed' } } })).status, 201);
      const del = await h.call('DELETE', '/api/v1/namespaces/doomed');
      assert.equal(del.status, 200); // kube answers 200 when a delete is not done at once, unless orphanDependents=false
      assert.equal((del.json.status as J).phase, 'Terminating');
      const r = await h.call('POST', '/api/v1/namespaces/doomed/configmaps', { body: { metadata: { name: 'x' } } });
      assert.equal(r.status, 403);
      assert.match(String(r.json.message), /because it is being terminated/);
      // The namespace controller's job, done by hand: finalize, and the namespace is gone.
      const fin = await h.call('PUT', '/api/v1/namespaces/doomed/finalize', { body: { metadata: { name: 'doomed' }, spec: { finalizers: [] } } });
      assert.equal(fin.status, 200);
      assert.equal((await h.call('GET', '/api/v1/namespaces/doomed')).status, 404);
    });

    it('protects the default namespace from deletion', async () => {
      assert.equal((await h.call('DELETE', '/api/v1/namespaces/default')).status, 403);
    });
  });

  describe('CRUD', () => {
    const kinds: { path: string; body: J; update: (o: J) => void }[] = [
      { path: `${NS}/configmaps`, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1' }, data: { a: 'b' } }, update: (o) => (o.data = { a: 'c' }) },
      { path: `${NS}/secrets`, body: { metadata: { name: 's1' }, stringData: { p: 'q' } }, update: (o) => (o.data = { p: 'cg==' }) },
      { path: `${NS}/services`, body: { metadata: { name: 'svc1' }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } }, update: (o) => ((o.spec as J).selector = { app: 'y' }) },
      { path: `${NS}/serviceaccounts`, body: { metadata: { name: 'sa1' } }, update: (o) => (meta(o).labels = { a: 'b' }) },
      { path: `${NS}/pods`, body: podManifest('crud-pod'), update: (o) => (meta(o).labels = { x: 'y' }) },
      { path: `${APPS}/deployments`, body: deploymentManifest('crud-deploy'), update: (o) => ((o.spec as J).replicas = 5) },
      { path: `${APPS}/replicasets`, body: { ...deploymentManifest('crud-rs'), kind: 'ReplicaSet' }, update: (o) => ((o.spec as J).replicas = 1) },
      {
        path: `${APPS}/statefulsets`,
        body: { ...deploymentManifest('crud-sts'), kind: 'StatefulSet', spec: { ...(deploymentManifest('crud-sts').spec as J), serviceName: 'sts' } },
        update: (o) => ((o.spec as J).replicas = 1),
      },
      { path: `${APPS}/daemonsets`, body: { ...deploymentManifest('crud-ds'), kind: 'DaemonSet', spec: { ...(deploymentManifest('crud-ds').spec as J), replicas: undefined } }, update: (o) => (meta(o).labels = { a: 'b' }) },
      {
        path: '/apis/batch/v1/namespaces/default/jobs',
        body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'crud-job' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } },
        update: (o) => (meta(o).labels = { a: 'b' }),
      },
      { path: '/apis/coordination.k8s.io/v1/namespaces/default/leases', body: { metadata: { name: 'l1' }, spec: { holderIdentity: 'me' } }, update: (o) => ((o.spec as J).holderIdentity = 'you') },
      { path: '/api/v1/nodes', body: { metadata: { name: 'node-1' }, status: { capacity: { cpu: '2' } } }, update: (o) => (meta(o).labels = { role: 'x' }) },
      {
        path: `${NS}/events`,
        body: { metadata: { name: 'ev1' }, involvedObject: { kind: 'Pod', name: 'p', namespace: 'default' }, reason: 'Test', message: 'hi', type: 'Normal' },
        update: (o) => (o.message = 'bye'),
      },
      { path: `${NS}/endpoints`, body: { metadata: { name: 'ep1' }, subsets: [] }, update: (o) => (meta(o).labels = { a: 'b' }) },
    ];
    for (const k of kinds) {
      it(`creates, reads, lists, updates and deletes ${k.path.split('/').pop() ?? ''}`, async () => {
        const created = await h.call('POST', k.path, { body: k.body });
        assert.equal(created.status, 201, created.text);
        const name = String(meta(k.body).name);
        assert.ok(meta(created.json).uid);
        assert.ok(meta(created.json).creationTimestamp);
        const got = await h.call('GET', `${k.path}/${name}`);
        assert.equal(got.status, 200);
        assert.equal(meta(got.json).resourceVersion, meta(created.json).resourceVersion);
        const list = await h.call('GET', k.path);
        assert.ok((list.json.items as J[]).some((i) => meta(i).name === name));
        assert.match(String(list.json.kind), /List$/);
        assert.ok(meta(list.json).resourceVersion);
        const next = structuredClone(got.json);
        k.update(next);
        const upd = await h.call('PUT', `${k.path}/${name}`, { body: next });
        assert.equal(upd.status, 200, upd.text);
        assert.notEqual(meta(upd.json).resourceVersion, meta(got.json).resourceVersion);
        const del = await h.call('DELETE', `${k.path}/${name}`);
        assert.ok(del.status === 200, del.text);
        assert.equal((await h.call('GET', `${k.path}/${name}`)).status, 404);
      });
    }

    it('generates names from generateName', async () => {
      const r = await h.call('POST', `${NS}/configmaps`, { body: { metadata: { generateName: 'gen-' } } });
      assert.equal(r.status, 201);
      assert.match(String(meta(r.json).name), /^gen-[a-z0-9]{5}$/);
    });

    it('retries a generated name that is taken from the body as sent: the second try is the same pod as the first would have been', async () => {
      const taken = await h.call('POST', `${NS}/pods`, { body: podManifest('retry-bbbbb') });
      assert.equal(taken.status, 201, taken.text);
      // The server's first five draws pick 'b' each (the taken name); later ones are random again.
      const random = Math.random;
      let draws = 0;
      Math.random = () => (++draws <= 5 ? 0 : random());
      let r;
      try {
        r = await h.call('POST', `${NS}/pods`, { body: { ...podManifest(''), metadata: { generateName: 'retry-', labels: { app: 'retry' } } } });
      } finally {
        Math.random = random;
      }
      assert.equal(r.status, 201, r.text);
      assert.ok(draws >= 10, `the name was drawn twice (${draws} draws)`);
      assert.match(String(meta(r.json).name), /^retry-[a-z0-9]{5}$/);
      assert.notEqual(meta(r.json).name, 'retry-bbbbb');
      assert.deepEqual(meta(r.json).labels, { app: 'retry' });
      // Defaults and admission ran once on the body as sent, not again on the first try's result.
      const strip = (o: unknown): unknown => JSON.parse(JSON.stringify(spec(o)).replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-'));
      assert.deepEqual(strip(r.json), strip(taken.json));
      assert.equal((meta(r.json).managedFields as unknown[]).length, 1);
    });

    it('answers 409 AlreadyExists for a duplicate create', async () => {
      await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'dup' } } });
      const r = await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'dup' } } });
      assert.equal(r.status, 409);
      assert.equal(r.json.reason, 'AlreadyExists');
      assert.equal(r.json.message, 'configmaps "dup" already exists');
    });

    it('answers 409 Conflict for a stale resourceVersion', async () => {
      const c = await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'cas' }, data: { a: '1' } } });
      const stale = structuredClone(c.json);
      const first = await h.call('PUT', `${NS}/configmaps/cas`, { body: { ...c.json, data: { a: '2' } } });
      assert.equal(first.status, 200);
      const r = await h.call('PUT', `${NS}/configmaps/cas`, { body: { ...stale, data: { a: '3' } } });
      assert.equal(r.status, 409);
      assert.equal(r.json.reason, 'Conflict');
      assert.equal(
        r.json.message,
        'Operation cannot be fulfilled on configmaps "cas": the object has been modified; please apply your changes to the latest version and try again',
      );
    });

    it('answers 422 with causes for an invalid object', async () => {
      const r = await h.call('POST', `${NS}/pods`, { body: { metadata: { name: 'Bad_Name' }, spec: { containers: [] } } });
      assert.equal(r.status, 422);
      assert.equal(r.json.reason, 'Invalid');
      const causes = (r.json.details as J).causes as J[];
      assert.ok(causes.some((c) => c.field === 'metadata.name'));
      assert.ok(causes.some((c) => c.field === 'spec.containers'));
      assert.equal((r.json.details as J).kind, 'Pod');
    });

    it('honours dryRun=All without storing', async () => {
      const r = await h.call('POST', `${NS}/configmaps?dryRun=All`, { body: { metadata: { name: 'dry' } } });
      assert.equal(r.status, 201);
      assert.equal((await h.call('GET', `${NS}/configmaps/dry`)).status, 404);
    });

    it('rejects unknown fields with fieldValidation=Strict and warns by default', async () => {
      const body = { metadata: { name: 'strict' }, data: {}, bogus: 1 };
      const strict = await h.call('POST', `${NS}/configmaps?fieldValidation=Strict`, { body });
      assert.equal(strict.status, 400);
      assert.match(String(strict.json.message), /strict decoding error: unknown field "bogus"/);
      const warn = await h.call('POST', `${NS}/configmaps`, { body });
      assert.equal(warn.status, 201);
      assert.match(String(warn.headers.warning), /unknown field/);
      assert.equal((warn.json as J).bogus, undefined);
    });

    it('answers 400 for malformed JSON, 415 for unknown media types, 413 for huge bodies', async () => {
      const bad = await h.call('POST', `${NS}/configmaps`, { raw: '{"metadata": ', contentType: 'application/json' });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.reason, 'BadRequest');
      const media = await h.call('POST', `${NS}/configmaps`, { raw: 'x', contentType: 'text/plain' });
      assert.equal(media.status, 415);
      const huge = await h.call('POST', `${NS}/configmaps`, { raw: JSON.stringify({ metadata: { name: 'big' }, data: { a: 'x'.repeat(4 * 1024 * 1024) } }) });
      assert.equal(huge.status, 413);
      assert.equal(huge.json.kind, 'Status');
    });

    it('answers 404 Status for unknown resources and paths', async () => {
      const r = await h.call('GET', `${NS}/widgets`);
      assert.equal(r.status, 404);
      assert.equal(r.json.kind, 'Status');
      const nf = await h.call('GET', `${NS}/pods/nope`);
      assert.equal(nf.json.message, 'pods "nope" not found');
      const apps = await h.call('GET', `${APPS}/deployments/nope`);
      assert.equal(apps.json.message, 'deployments.apps "nope" not found');
    });

    it('bumps generation on spec changes only and ignores status on main-resource updates', async () => {
      const c = await h.call('POST', `${APPS}/deployments`, { body: deploymentManifest('gen') });
      assert.equal(meta(c.json).generation, 1);
      const withStatus = { ...c.json, status: { replicas: 7 } };
      meta(withStatus).labels = { app: 'gen', more: 'x' };
      const u = await h.call('PUT', `${APPS}/deployments/gen`, { body: withStatus });
      assert.equal(meta(u.json).generation, 1);
      assert.equal((u.json.status as J).replicas, undefined);
      const st = await h.call('PUT', `${APPS}/deployments/gen/status`, { body: { ...u.json, spec: { ...spec(u.json), replicas: 9 }, status: { replicas: 3, observedGeneration: 1 } } });
      assert.equal(st.status, 200, st.text);
      assert.equal((st.json.status as J).replicas, 3);
      assert.equal(spec(st.json).replicas, 2, 'spec is ignored on status writes');
      const s2 = await h.call('PUT', `${APPS}/deployments/gen`, { body: { ...st.json, spec: { ...spec(st.json), replicas: 4 } } });
      assert.equal(meta(s2.json).generation, 2);
      assert.equal((s2.json.status as J).replicas, 3);
    });

    it('serves and updates the scale subresource', async () => {
      await h.call('POST', `${APPS}/deployments`, { body: deploymentManifest('scaled') });
      const s = await h.call('GET', `${APPS}/deployments/scaled/scale`);
      assert.equal(s.json.kind, 'Scale');
      assert.equal(s.json.apiVersion, 'autoscaling/v1');
      assert.equal(spec(s.json).replicas, 2);
      assert.equal((s.json.status as J).selector, 'app=scaled');
      const p = await h.call('PATCH', `${APPS}/deployments/scaled/scale`, { body: { spec: { replicas: 3 } }, contentType: 'application/merge-patch+json' });
      assert.equal(spec(p.json).replicas, 3);
      const put = await h.call('PUT', `${APPS}/deployments/scaled/scale`, { body: { ...p.json, spec: { replicas: 4 } } });
      assert.equal(spec(put.json).replicas, 4);
      const stale = await h.call('PUT', `${APPS}/deployments/scaled/scale`, { body: { ...p.json, spec: { replicas: 5 } } });
      assert.equal(stale.status, 409);
      assert.equal(spec((await h.call('GET', `${APPS}/deployments/scaled`)).json).replicas, 4);
    });

    it('binds a pod to a node once', async () => {
      await h.call('POST', `${NS}/pods`, { body: podManifest('tobind') });
      const b = await h.call('POST', `${NS}/pods/tobind/binding`, { body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'tobind' }, target: { kind: 'Node', name: 'n1' } } });
      assert.equal(b.status, 201, b.text);
      const p = await h.call('GET', `${NS}/pods/tobind`);
      assert.equal(spec(p.json).nodeName, 'n1');
      const again = await h.call('POST', `${NS}/pods/tobind/binding`, { body: { target: { name: 'n2' } } });
      assert.equal(again.status, 409);
    });

    it('answers pods/log of an unscheduled pod and a plain-HTTP exec with a clear 400 Status', async () => {
      await h.call('POST', `${NS}/pods`, { body: podManifest('logs') });
      const r = await h.call('GET', `${NS}/pods/logs/log`);
      assert.equal(r.status, 400);
      assert.equal(r.json.kind, 'Status');
      assert.match(String(r.json.message), /does not have a host assigned/);
      const e = await h.call('POST', `${NS}/pods/logs/exec?command=true`);
      assert.equal(e.status, 400);
      assert.match(String(e.json.message), /Upgrade request required/);
    });
  });

  describe('list', () => {
    before(async () => {
      for (let i = 0; i < 5; i++) {
        await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: `sel-${i}`, labels: { tier: i % 2 ? 'odd' : 'even', idx: String(i) } } } });
      }
    });

    it('filters by equality and set-based label selectors', async () => {
      const names = async (q: string): Promise<string[]> =>
        ((await h.call('GET', `${NS}/configmaps?labelSelector=${encodeURIComponent(q)}`)).json.items as J[]).map((i) => String(meta(i).name)).sort();
      assert.deepEqual(await names('tier=odd'), ['sel-1', 'sel-3']);
      assert.deepEqual(await names('tier!=odd,idx'), ['sel-0', 'sel-2', 'sel-4']);
      assert.deepEqual(await names('idx in (1,4)'), ['sel-1', 'sel-4']);
      assert.deepEqual(await names('idx notin (0,1,2),tier'), ['sel-3', 'sel-4']);
      assert.deepEqual(await names('!idx,tier'), []);
      assert.equal((await h.call('GET', `${NS}/configmaps?labelSelector=${encodeURIComponent('a in (')}`)).status, 400);
    });

    it('filters by field selectors and rejects unsupported fields', async () => {
      const r = await h.call('GET', `/api/v1/configmaps?fieldSelector=${encodeURIComponent('metadata.name=sel-2,metadata.namespace=default')}`);
      assert.deepEqual((r.json.items as J[]).map((i) => meta(i).name), ['sel-2']);
      const bad = await h.call('GET', `${NS}/configmaps?fieldSelector=spec.nodeName%3Dx`);
      assert.equal(bad.status, 400);
      assert.match(String(bad.json.message), /field label not supported: spec.nodeName/);
      await h.call('POST', `${NS}/pods`, { body: { ...podManifest('onnode'), spec: { nodeName: 'n9', containers: [{ name: 'c', image: 'x' }] } } });
      const pods = await h.call('GET', `/api/v1/pods?fieldSelector=spec.nodeName%3Dn9`);
      assert.deepEqual((pods.json.items as J[]).map((i) => meta(i).name), ['onnode']);
      const pending = await h.call('GET', `/api/v1/pods?fieldSelector=status.phase%3DPending,spec.nodeName%3Dn9`);
      assert.equal((pending.json.items as J[]).length, 1);
    });

    it('pages with limit and continue, at one revision', async () => {
      const first = await h.call('GET', `${NS}/configmaps?limit=2&labelSelector=idx`);
      assert.equal((first.json.items as J[]).length, 2);
      const token = String(meta(first.json).continue);
      assert.ok(token);
      await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'sel-9', labels: { idx: '9' } } } });
      const seen = (first.json.items as J[]).map((i) => meta(i).name);
      let cont: string | undefined = token;
      while (cont) {
        const page = await h.call('GET', `${NS}/configmaps?limit=2&labelSelector=idx&continue=${encodeURIComponent(cont)}`);
        assert.equal(page.status, 200, page.text);
        seen.push(...(page.json.items as J[]).map((i) => meta(i).name));
        cont = meta(page.json).continue as string | undefined;
      }
      assert.deepEqual(seen.sort(), ['sel-0', 'sel-1', 'sel-2', 'sel-3', 'sel-4'], 'the snapshot excludes later writes');
      assert.equal((await h.call('GET', `${NS}/configmaps?limit=2&continue=garbage`)).status, 400);
    });
  });

  describe('tables', () => {
    const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
    it('lists pods as a Table with kubectl columns and partial object metadata', async () => {
      await h.call('POST', `${NS}/pods`, { body: podManifest('tbl') });
      const r = await h.call('GET', `${NS}/pods?labelSelector=app%3Dtbl`, { accept: TABLE });
      assert.equal(r.json.kind, 'Table');
      const cols = (r.json.columnDefinitions as J[]).map((c) => c.name);
      assert.deepEqual(cols.slice(0, 5), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
      assert.ok(cols.includes('IP') && cols.includes('Node'));
      const row = (r.json.rows as J[])[0] as J;
      assert.deepEqual((row.cells as unknown[]).slice(0, 4), ['tbl', '0/1', 'Pending', '0']);
      assert.equal((row.object as J).kind, 'PartialObjectMetadata');
      assert.ok(meta(r.json).resourceVersion);
    });

    it('honours includeObject and renders deployments', async () => {
      await h.call('POST', `${APPS}/deployments`, { body: deploymentManifest('tbl-d', 3) });
      const r = await h.call('GET', `${APPS}/deployments/tbl-d?includeObject=Object`, { accept: TABLE });
      assert.deepEqual((r.json.columnDefinitions as J[]).slice(0, 5).map((c) => c.name), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age']);
      const row = (r.json.rows as J[])[0] as J;
      assert.equal((row.cells as unknown[])[1], '0/3');
      assert.equal((row.object as J).kind, 'Deployment');
      const none = await h.call('GET', `${APPS}/deployments?includeObject=None`, { accept: TABLE });
      assert.equal(((none.json.rows as J[])[0] as J).object, undefined);
    });
  });

  describe('endpoint slices', () => {
    const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
    const slice = (name: string, n: number, ports: number): J => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: n }, (_, i) => ({ addresses: [`10.42.0.${i + 2}`], conditions: { ready: true } })),
      ports: Array.from({ length: ports }, (_, i) => ({ name: `p${i}`, port: 8000 + i })),
    });
    const DISCOVERY = '/apis/discovery.k8s.io/v1/namespaces/default';

    it('serves them with kubectl\'s columns, a defaulted protocol, and a generation bumped by endpoint changes only', async () => {
      const created = await h.call('POST', `${DISCOVERY}/endpointslices`, { body: slice('web-a', 4, 4) });
      assert.equal(created.status, 201, created.text);
      assert.equal(((created.json.ports as J[])[0] as J).protocol, 'TCP');
      assert.equal(meta(created.json).generation, 1);
      await h.call('POST', `${DISCOVERY}/endpointslices`, { body: slice('web-b', 0, 0) });
      const r = await h.call('GET', `${DISCOVERY}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb`, { accept: TABLE });
      assert.deepEqual((r.json.columnDefinitions as J[]).map((c) => c.name), ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age']);
      const cells = (r.json.rows as J[]).map((row) => (row.cells as unknown[]).slice(0, 4));
      assert.deepEqual(cells, [
        ['web-a', 'IPv4', '8000,8001,8002 + 1 more...', '10.42.0.2,10.42.0.3,10.42.0.4 + 1 more...'],
        ['web-b', 'IPv4', '<unset>', '<unset>'],
      ]);
      const labelled = await h.call('PATCH', `${DISCOVERY}/endpointslices/web-a`, { body: { metadata: { labels: { extra: 'x' } } }, contentType: 'application/merge-patch+json' });
      assert.equal(meta(labelled.json).generation, 1);
      const moved = await h.call('PATCH', `${DISCOVERY}/endpointslices/web-a`, { body: { endpoints: [{ addresses: ['10.42.0.9'] }] }, contentType: 'application/merge-patch+json' });
      assert.equal(meta(moved.json).generation, 2);
    });

    it('refuses an invalid slice and a change of address type with a Status', async () => {
      const bad = await h.call('POST', `${DISCOVERY}/endpointslices`, { body: { ...slice('web-c', 1, 1), addressType: 'IP' } });
      assert.equal(bad.status, 422);
      assert.match(String(bad.json.message), /addressType: Unsupported value: "IP"/);
      await h.call('POST', `${DISCOVERY}/endpointslices`, { body: slice('web-d', 1, 1) });
      const changed = await h.call('PATCH', `${DISCOVERY}/endpointslices/web-d`, { body: { addressType: 'FQDN', endpoints: [{ addresses: ['a.example.com'] }] }, contentType: 'application/merge-patch+json' });
      assert.equal(changed.status, 422);
      assert.match(String(changed.json.message), /addressType: Invalid value: "FQDN": field is immutable/);
    });
  });

  describe('patch', () => {
    it('applies strategic merge patches with list merge keys and directives', async () => {
      await h.call('POST', `${APPS}/deployments`, {
        body: {
          ...deploymentManifest('smp'),
          spec: {
            ...(deploymentManifest('smp').spec as J),
            template: {
              metadata: { labels: { app: 'smp' } },
              spec: {
                containers: [
                  { name: 'a', image: 'a:1', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] },
                  { name: 'b', image: 'b:1' },
                ],
                tolerations: [{ key: 'k1', operator: 'Exists' }],
              },
            },
          },
        },
      });
      const patch = {
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'a', image: 'a:2', env: [{ name: 'Y', value: '3' }, { name: 'X', $patch: 'delete' }] },
                { name: 'c', image: 'c:1' },
              ],
              tolerations: [{ key: 'k2', operator: 'Exists' }],
            },
          },
        },
      };
      const r = await h.call('PATCH', `${APPS}/deployments/smp`, { body: patch, contentType: 'application/strategic-merge-patch+json' });
      assert.equal(r.status, 200, r.text);
      const ps = spec((spec(r.json).template as J)) as J;
      const cs = ps.containers as J[];
      assert.deepEqual(cs.map((c) => [c.name, c.image]), [['a', 'a:2'], ['b', 'b:1'], ['c', 'c:1']]);
      assert.deepEqual((cs[0]?.env as J[]).map((e) => [e.name, e.value]), [['Y', '3']]);
      assert.deepEqual((ps.tolerations as J[]).map((t) => t.key), ['k2'], 'tolerations are replaced whole');
      const order = await h.call('PATCH', `${APPS}/deployments/smp`, {
        body: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }, { name: 'b' }], containers: [{ name: 'b', image: 'b:2' }] } } } },
        contentType: 'application/strategic-merge-patch+json',
      });
      assert.deepEqual((spec(spec(order.json).template).containers as J[]).map((c) => c.name), ['c', 'a', 'b']);
      assert.equal(meta(order.json).generation, 3);
    });

    it('applies merge patches and JSON patches, and answers 422 for a failed test op', async () => {
      await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'mp', labels: { a: '1', b: '2' } }, data: { k: 'v' } } });
      const m = await h.call('PATCH', `${NS}/configmaps/mp`, { body: { metadata: { labels: { a: null, c: '3' } } }, contentType: 'application/merge-patch+json' });
      assert.deepEqual(meta(m.json).labels, { b: '2', c: '3' });
      const j = await h.call('PATCH', `${NS}/configmaps/mp`, { body: [{ op: 'replace', path: '/data/k', value: 'w' }], contentType: 'application/json-patch+json' });
      assert.deepEqual(j.json.data, { k: 'w' });
      const t = await h.call('PATCH', `${NS}/configmaps/mp`, { body: [{ op: 'test', path: '/data/k', value: 'zzz' }], contentType: 'application/json-patch+json' });
      assert.equal(t.status, 422);
      const nf = await h.call('PATCH', `${NS}/configmaps/nope`, { body: {}, contentType: 'application/merge-patch+json' });
      assert.equal(nf.status, 404);
      const bad = await h.call('PATCH', `${NS}/configmaps/mp`, { body: {}, contentType: 'application/json' });
      assert.equal(bad.status, 415);
    });

    it('rejects a patch carrying a stale resourceVersion', async () => {
      const c = await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'mprv' } } });
      await h.call('PATCH', `${NS}/configmaps/mprv`, { body: { data: { a: 'b' } }, contentType: 'application/merge-patch+json' });
      const r = await h.call('PATCH', `${NS}/configmaps/mprv`, {
        body: { metadata: { resourceVersion: meta(c.json).resourceVersion }, data: { a: 'c' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(r.status, 409);
    });
  });

  describe('server-side apply', () => {
    const apply = (name: string, body: J, q = 'fieldManager=alice') =>
      h.call('PATCH', `${APPS}/deployments/${name}?${q}`, { body, contentType: 'application/apply-patch+yaml' });

    it('creates when missing, records ownership and detects conflicts', async () => {
      const created = await apply('ssa', deploymentManifest('ssa', 2));
      assert.equal(created.status, 201, created.text);
      const mf = meta(created.json).managedFields as J[];
      assert.equal(mf[0]?.manager, 'alice');
      assert.equal(mf[0]?.operation, 'Apply');
      assert.ok(JSON.stringify(mf[0]?.fieldsV1).includes('"f:replicas"'));
      const same = await apply('ssa', deploymentManifest('ssa', 2), 'fieldManager=bob');
      assert.equal(same.status, 200, 'co-owning a field with the same value is no conflict');
      const conflict = await apply('ssa', deploymentManifest('ssa', 5), 'fieldManager=bob');
      assert.equal(conflict.status, 409);
      assert.match(String(conflict.json.message), /^Apply failed with 1 conflict: conflict with "alice" using apps\/v1: \.spec\.replicas$/);
      assert.equal((((conflict.json.details as J).causes as J[])[0] as J).reason, 'FieldManagerConflict');
      const forced = await apply('ssa', deploymentManifest('ssa', 5), 'fieldManager=bob&force=true');
      assert.equal(forced.status, 200);
      assert.equal(spec(forced.json).replicas, 5);
      const back = await apply('ssa', deploymentManifest('ssa', 2));
      assert.equal(back.status, 409, 'alice lost replicas to bob');
    });

    it('removes fields a manager stops applying, and conflicts with a kubectl-style update', async () => {
      const withLabel = deploymentManifest('ssa2');
      meta(withLabel).labels = { app: 'ssa2', extra: 'yes' };
      await apply('ssa2', withLabel);
      const without = await apply('ssa2', deploymentManifest('ssa2'));
      assert.deepEqual(meta(without.json).labels, { app: 'ssa2' });
      const upd = await h.call('PATCH', `${APPS}/deployments/ssa2?fieldManager=kubectl-edit`, { body: { spec: { replicas: 7 } }, contentType: 'application/merge-patch+json' });
      assert.equal(upd.status, 200);
      const again = await apply('ssa2', deploymentManifest('ssa2'));
      assert.equal(again.status, 409);
      assert.match(String(again.json.message), /conflict with "kubectl-edit"/);
    });

    it('requires a fieldManager', async () => {
      const r = await h.call('PATCH', `${APPS}/deployments/ssa`, { body: deploymentManifest('ssa'), contentType: 'application/apply-patch+yaml' });
      assert.equal(r.status, 400);
    });
  });

  describe('delete', () => {
    it('deletes an unscheduled pod at once and a scheduled one gracefully', async () => {
      await h.call('POST', `${NS}/pods`, { body: podManifest('del-now') });
      const now = await h.call('DELETE', `${NS}/pods/del-now`);
      assert.equal(now.status, 200);
      assert.equal((await h.call('GET', `${NS}/pods/del-now`)).status, 404);
      await h.call('POST', `${NS}/pods`, { body: { ...podManifest('del-grace'), spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] } } });
      const g = await h.call('DELETE', `${NS}/pods/del-grace`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 20 } });
      assert.equal(g.status, 200);
      assert.ok(meta(g.json).deletionTimestamp);
      assert.equal(meta(g.json).deletionGracePeriodSeconds, 20);
      assert.equal((await h.call('GET', `${NS}/pods/del-grace`)).status, 200);
      // The node agent finishes the deletion with grace 0.
      const fin = await h.call('DELETE', `${NS}/pods/del-grace?gracePeriodSeconds=0`);
      assert.equal(fin.status, 200);
      assert.equal((await h.call('GET', `${NS}/pods/del-grace`)).status, 404);
    });

    it('keeps objects with finalizers until the last one is removed, and records propagation policy', async () => {
      await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'fin', finalizers: ['example.com/hold'] } } });
      const d = await h.call('DELETE', `${NS}/configmaps/fin`, { body: { propagationPolicy: 'Foreground' } });
      assert.equal(d.status, 200);
      assert.deepEqual(meta(d.json).finalizers, ['example.com/hold', 'foregroundDeletion']);
      const r = await h.call('PATCH', `${NS}/configmaps/fin`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
      assert.equal(r.status, 200);
      assert.equal((await h.call('GET', `${NS}/configmaps/fin`)).status, 404);
    });

    it('checks uid and resourceVersion preconditions', async () => {
      await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'pre' } } });
      const r = await h.call('DELETE', `${NS}/configmaps/pre`, { body: { preconditions: { uid: 'not-it' } } });
      assert.equal(r.status, 409, r.text);
      assert.match(String(r.json.message), /Precondition failed: UID in precondition: not-it/);
      const rv = await h.call('DELETE', `${NS}/configmaps/pre`, { body: { preconditions: { resourceVersion: '1' } } });
      assert.equal(rv.status, 409);
    });

    it('deletes a collection by label', async () => {
      for (const n of ['dc-1', 'dc-2']) await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: n, labels: { dc: 'y' } } } });
      const r = await h.call('DELETE', `${NS}/configmaps?labelSelector=dc%3Dy`);
      assert.equal(r.status, 200);
      assert.equal((r.json.items as J[]).length, 2);
      assert.equal(((await h.call('GET', `${NS}/configmaps?labelSelector=dc%3Dy`)).json.items as J[]).length, 0);
    });
  });

  describe('watch', () => {
    it('flushes headers at once, sends initial ADDED events, then live changes', async () => {
      await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'w-1', labels: { w: 'a' } } } });
      const w = await h.watch(`${NS}/configmaps?watch=true&labelSelector=w%3Da`);
      assert.equal(w.status, 200);
      const first = await w.next();
      assert.equal(first?.type, 'ADDED');
      assert.equal(first?.object.kind, 'ConfigMap');
      assert.equal(first?.object.apiVersion, 'v1');
      await h.call('PATCH', `${NS}/configmaps/w-1`, { body: { data: { x: '1' } }, contentType: 'application/merge-patch+json' });
      assert.equal((await w.next())?.type, 'MODIFIED');
      // A watcher of every config map gets the same change as MODIFIED (each watcher its own event type, one shared object JSON).
      const all = await h.watch(`${NS}/configmaps?watch=true&resourceVersion=${String(meta(first?.object).resourceVersion)}`);
      assert.equal((await all.next())?.type, 'MODIFIED');
      await h.call('PATCH', `${NS}/configmaps/w-1`, { body: { metadata: { labels: { w: 'b' } } }, contentType: 'application/merge-patch+json' });
      assert.equal((await w.next())?.type, 'DELETED', 'leaving the selection looks like a deletion');
      const left = await all.next();
      assert.deepEqual([left?.type, (meta(left?.object).labels as J | undefined)?.w], ['MODIFIED', 'b']);
      all.close();
      w.close();
    });

    it('replays changes after a resourceVersion and answers 410 Expired once compacted', async () => {
      const a = await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'rp-1' } } });
      const rv = String(meta(a.json).resourceVersion);
      await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: 'rp-2' } } });
      await h.call('DELETE', `${NS}/configmaps/rp-1`);
      const w = await h.watch(`/api/v1/watch/namespaces/default/configmaps?resourceVersion=${rv}`);
      const e1 = await w.next();
      const e2 = await w.next();
      assert.deepEqual([e1?.type, meta(e1?.object).name], ['ADDED', 'rp-2']);
      assert.deepEqual([e2?.type, meta(e2?.object).name], ['DELETED', 'rp-1']);
      assert.ok(Number(meta(e2?.object).resourceVersion) > Number(meta(e1?.object).resourceVersion));
      w.close();
      await h.storage.compact(await h.storage.currentRevision());
      const old = await h.watch(`${NS}/configmaps?watch=1&resourceVersion=${rv}`);
      const err = await old.next();
      assert.equal(err?.type, 'ERROR');
      assert.equal(err?.object.code, 410);
      assert.equal(err?.object.reason, 'Expired');
      assert.match(String(err?.object.message), /too old resource version/);
      assert.equal(await old.next(), undefined, 'the stream ends after the error');
    });

    it('sends BOOKMARK events when asked', async () => {
      const list = await h.call('GET', `${LEASES}`);
      const w = await h.watch(`${LEASES}?watch=true&allowWatchBookmarks=true&resourceVersion=${String(meta(list.json).resourceVersion)}`);
      assert.equal(w.status, 200);
      const ev = await w.next(5000);
      assert.equal(ev?.type, 'BOOKMARK');
      assert.equal(ev?.object.kind, 'Lease');
      assert.ok(meta(ev?.object).resourceVersion);
      w.close();
    });

    it('ends the stream after timeoutSeconds', async () => {
      const w = await h.watch(`${LEASES}?watch=true&timeoutSeconds=1&resourceVersion=0`);
      assert.equal(w.status, 200);
      assert.equal(await w.next(4000), undefined);
    });

    it('watches one object and renders Table events', async () => {
      await h.call('POST', `${NS}/pods`, { body: podManifest('wt') });
      const w = await h.watch(`${NS}/pods?watch=true&fieldSelector=metadata.name%3Dwt`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
      const ev = await w.next();
      assert.equal(ev?.type, 'ADDED');
      assert.equal(ev?.object.kind, 'Table');
      assert.equal(((ev?.object.rows as J[])[0]?.cells as unknown[])[0], 'wt');
      w.close();
    });

    it('limits concurrent watches with 429', async () => {
      const small = await startHarness({ maxWatches: 1 });
      try {
        const w1 = await small.watch('/api/v1/namespaces?watch=1');
        const r = await small.call('GET', '/api/v1/namespaces?watch=1');
        assert.equal(r.status, 429);
        assert.equal(r.json.reason, 'TooManyRequests');
        w1.close();
      } finally {
        await small.stop();
      }
    });
  });

  describe('protobuf', () => {
    it('decodes kubectl create namespace bodies', async () => {
      // Captured from kubectl v1.32 `create namespace team-b` (reference §6.3).
      const hex = '6b3873000a0f0a02763112094e616d657370616365121e0a160a067465616d2d6212001a0022002a0032003800420012001a020a001a002200';
      const r = await h.call('POST', '/api/v1/namespaces?fieldManager=kubectl-create&fieldValidation=Strict', {
        raw: Buffer.from(hex, 'hex'),
        contentType: 'application/vnd.kubernetes.protobuf',
        accept: 'application/vnd.kubernetes.protobuf,application/json',
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(meta(r.json).name, 'team-b');
      assert.equal(r.headers['content-type'], 'application/json');
    });

    it('answers 415 for protobuf kinds it cannot decode', async () => {
      const envelope = Buffer.concat([Buffer.from('k8s\0', 'binary'), Buffer.from('0a090a0276311203506f641200', 'hex')]);
      const r = await h.call('POST', `${NS}/pods`, { raw: envelope, contentType: 'application/vnd.kubernetes.protobuf' });
      assert.equal(r.status, 415);
    });
  });
});
