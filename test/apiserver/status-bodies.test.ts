// Status bodies byte for byte, and query parameters as kube reads them. Each expected body is kube-apiserver's answer
// to the same request, written out from its code (apimachinery's api/errors constructors and the handlers that call
// them): field order kind, apiVersion, metadata, status, message, reason, details, code; empty fields left out.
import { strict as assert } from 'node:assert';
import type { Authorizer } from '../../apiserver/index.js';
import { serviceAccountToken, startHarness, type Harness, type Reply } from './harness.js';

const NS = '/api/v1/namespaces/default';
const USER = 'system:serviceaccount:default:nobody';
const cm = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, ...extra });

/** The JSON text of what the server sent, as kube's tests compare it. */
const textOf = (r: Reply): string => JSON.stringify(JSON.parse(r.text));

describe('Status bodies as kube-apiserver writes them', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    // Denies one user everything: kube's RBAC denial has no reason of its own.
    const authorizer: Authorizer = { authorize: (a) => (a.user.name === USER ? { decision: 'deny', reason: '' } : { decision: 'allow', reason: '' }) };
    h = await startHarness({ authorizer });
  });
  after(() => h?.stop());

  it('AlreadyExists', async () => {
    assert.equal((await h.call('POST', `${NS}/configmaps`, { body: cm('dup') })).status, 201);
    const r = await h.call('POST', `${NS}/configmaps`, { body: cm('dup') });
    assert.equal(r.status, 409);
    assert.equal(textOf(r), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"dup\\" already exists","reason":"AlreadyExists","details":{"name":"dup","kind":"configmaps"},"code":409}');
  });

  it('NotFound, for the core group and for a named group', async () => {
    const core = await h.call('GET', `${NS}/pods/x`);
    assert.equal(textOf(core), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}');
    const apps = await h.call('GET', '/apis/apps/v1/namespaces/default/deployments/x');
    assert.equal(textOf(apps), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \\"x\\" not found","reason":"NotFound","details":{"name":"x","group":"apps","kind":"deployments"},"code":404}');
  });

  it('Conflict: an update from a stale resourceVersion', async () => {
    const created = await h.call('POST', `${NS}/configmaps`, { body: cm('stale') });
    const rv = (created.json.metadata as { resourceVersion: string }).resourceVersion;
    assert.equal((await h.call('PUT', `${NS}/configmaps/stale`, { body: cm('stale', { data: { a: '1' }, metadata: { name: 'stale', resourceVersion: rv } }) })).status, 200);
    const r = await h.call('PUT', `${NS}/configmaps/stale`, { body: cm('stale', { data: { a: '2' }, metadata: { name: 'stale', resourceVersion: rv } }) });
    assert.equal(textOf(r), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on configmaps \\"stale\\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"stale","kind":"configmaps"},"code":409}');
  });

  it('Invalid: one cause as it is, several aggregated in brackets; details name the kind', async () => {
    const one = await h.call('POST', `${NS}/pods`, { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'noimage' }, spec: { containers: [{ name: 'c' }] } } });
    assert.equal(textOf(one), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Pod \\"noimage\\" is invalid: spec.containers[0].image: Required value","reason":"Invalid","details":{"name":"noimage","kind":"Pod","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"}]},"code":422}');
    const two = await h.call('POST', `${NS}/pods`, { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'noimages' }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } } });
    assert.equal(
      textOf(two),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Pod \\"noimages\\" is invalid: [spec.containers[0].image: Required value, spec.containers[1].image: Required value]","reason":"Invalid","details":{"name":"noimages","kind":"Pod","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"},{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[1].image"}]},"code":422}',
    );
  });

  it('Forbidden: a list, a named get in a group, a non-resource path', async () => {
    const auth = { token: await serviceAccountToken(h, 'nobody') };
    const list = await h.call('GET', `${NS}/pods`, { auth });
    assert.equal(textOf(list), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \\"system:serviceaccount:default:nobody\\" cannot list resource \\"pods\\" in API group \\"\\" in the namespace \\"default\\"","reason":"Forbidden","details":{"kind":"pods"},"code":403}');
    const get = await h.call('GET', '/apis/apps/v1/namespaces/default/deployments/web', { auth });
    assert.equal(textOf(get), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \\"web\\" is forbidden: User \\"system:serviceaccount:default:nobody\\" cannot get resource \\"deployments\\" in API group \\"apps\\" in the namespace \\"default\\"","reason":"Forbidden","details":{"name":"web","group":"apps","kind":"deployments"},"code":403}');
    const path = await h.call('GET', '/version', { auth });
    assert.equal(textOf(path), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"system:serviceaccount:default:nobody\\" cannot get path \\"/version\\"","reason":"Forbidden","details":{},"code":403}');
  });

  it('MethodNotAllowed and a path with no route: go-restful\'s answers through kube\'s error handler', async () => {
    const put = await h.call('PUT', `${NS}/configmaps`, { body: cm('x') });
    assert.equal(textOf(put), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed","details":{},"code":405}');
    const missing = await h.call('GET', '/api/v1/nosuchthings');
    assert.equal(textOf(missing), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}');
  });

  it('a deleted object: Success with the resource as kind and its uid, no code', async () => {
    const created = await h.call('POST', `${NS}/configmaps`, { body: cm('gone') });
    const uid = (created.json.metadata as { uid: string }).uid;
    const r = await h.call('DELETE', `${NS}/configmaps/gone`);
    assert.equal(r.status, 200);
    assert.equal(textOf(r), `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"gone","kind":"configmaps","uid":"${uid}"}}`);
  });

  it('a bad integer or duration parameter: 400 with Go\'s message', async () => {
    const limit = await h.call('GET', `${NS}/configmaps?limit=ten`);
    assert.equal(textOf(limit), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"strconv.ParseInt: parsing \\"ten\\": invalid syntax","reason":"BadRequest","code":400}');
    const timeout = await h.call('GET', `${NS}/configmaps?timeout=5x`);
    assert.equal(textOf(timeout), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"invalid timeout specified in the request URL - time: unknown unit \\"x\\" in duration \\"5x\\"","reason":"BadRequest","code":400}');
    // Valid forms: a leading sign, leading zeros; a Go duration with several units.
    assert.equal((await h.call('GET', `${NS}/configmaps?limit=%2B007&timeout=1m30s`)).status, 200);
  });
});

describe('boolean query parameters as kube converts them ("True", "t", "yes", empty: true; "0", "False": false)', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
    assert.equal((await h.call('POST', `${NS}/configmaps`, { body: cm('one', { metadata: { name: 'one', labels: { set: 'b' } } }) })).status, 201);
  });
  after(() => h?.stop());

  for (const value of ['True', 't', 'yes', '', 'TRUE']) {
    it(`watch=${value} is a watch`, async () => {
      const w = await h.watch(`${NS}/configmaps?labelSelector=set%3Db&timeoutSeconds=1&watch=${value}`);
      const ev = await w.next();
      assert.equal(ev?.type, 'ADDED');
      w.close();
    });
  }

  for (const value of ['0', 'false', 'False', 'FALSE']) {
    it(`watch=${value} is a list`, async () => {
      const r = await h.call('GET', `${NS}/configmaps?labelSelector=set%3Db&watch=${value}`);
      assert.equal(r.json.kind, 'ConfigMapList');
    });
  }

  it('sendInitialEvents=True with allowWatchBookmarks=True: the objects, then the bookmark that ends them', async () => {
    const w = await h.watch(`${NS}/configmaps?labelSelector=set%3Db&watch=True&sendInitialEvents=True&allowWatchBookmarks=True&resourceVersionMatch=NotOlderThan&timeoutSeconds=5`);
    assert.equal((await w.next())?.type, 'ADDED');
    const bookmark = await w.next();
    assert.equal(bookmark?.type, 'BOOKMARK');
    assert.equal((bookmark?.object.metadata?.annotations as Record<string, string>)['k8s.io/initial-events-end'], 'true');
    w.close();
  });

  it('pretty=True indents (read with strconv.ParseBool, so pretty=yes does not); curl gets it unasked', async () => {
    const indented = /^{\n {2}"\w+": "/;
    const compact = /^{"\w+":"/;
    assert.match((await h.call('GET', `${NS}/configmaps/one?pretty=True`)).text, indented);
    assert.match((await h.call('GET', `${NS}/configmaps/one?pretty=yes`)).text, compact);
    assert.match((await h.call('GET', `${NS}/configmaps/one`, { headers: { 'User-Agent': 'curl/7.88.1' } })).text, indented);
    assert.match((await h.call('GET', `${NS}/configmaps/one?pretty=0`, { headers: { 'User-Agent': 'curl/7.88.1' } })).text, compact);
  });

  it('orphanDependents=True orphans (the orphan finalizer, 200); orphanDependents=False on an object kept by a finalizer is 202', async () => {
    assert.equal((await h.call('POST', `${NS}/configmaps`, { body: cm('orphaned') })).status, 201);
    const o = await h.call('DELETE', `${NS}/configmaps/orphaned?orphanDependents=True`);
    assert.equal(o.status, 200);
    assert.deepEqual((o.json.metadata as { finalizers: string[] }).finalizers, ['orphan']);
    assert.equal((await h.call('POST', `${NS}/configmaps`, { body: cm('held', { metadata: { name: 'held', finalizers: ['example.com/hold'] } }) })).status, 201);
    const b = await h.call('DELETE', `${NS}/configmaps/held?orphanDependents=False`);
    assert.equal(b.status, 202);
  });

  it('force=True on an apply takes fields another manager owns', async () => {
    const apply = (manager: string, value: string, force: string): Promise<Reply> =>
      h.call('PATCH', `${NS}/configmaps/applied?fieldManager=${manager}${force}`, { raw: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\ndata: {k: ${value}}\n`, contentType: 'application/apply-patch+yaml' });
    assert.equal((await apply('first', 'a', '')).status, 201);
    assert.equal((await apply('second', 'b', '')).status, 409);
    const forced = await apply('second', 'b', '&force=True');
    assert.equal(forced.status, 200, forced.text);
    assert.equal((forced.json.data as Record<string, string>).k, 'b');
  });
});
