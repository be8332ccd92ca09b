// The Bearer token flow with a stand-in for the API server's reviews (a stub: it answers TokenReviews and
// SubjectAccessReviews from a table, so that refusals can be tested before the RBAC authorizer is wired).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attributesFor, parseScope, type ClusterAuth, type Principal, type ResourceAttributes } from './auth.js';
import { startRegistry, type RunningRegistry } from './server.js';
import { TestClient, fakeConfig, sha } from '../test/support/registry/client.js';

const ALICE: Principal = { name: 'alice', groups: ['system:authenticated'] };
const BUILDER: Principal = { name: 'system:serviceaccount:team:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:team'] };

/** Stub reviews: alice may do anything; team's builder may pull and push under team/ only. */
function stubCluster(calls: ResourceAttributes[]): ClusterAuth {
  return {
    authenticate: async (token) => ({ 'alice-token': ALICE, 'builder-token': BUILDER })[token],
    authorize: async (user, attrs) => {
      calls.push(attrs);
      if (user.name === 'alice') return true;
      if (user === BUILDER) return attrs.namespace === 'team' && (attrs.verb === 'get' || attrs.verb === 'create');
      return false;
    },
  };
}

async function login(base: string, password: string | undefined, scopes: string[]): Promise<{ status: number; token?: string }> {
  const q = new URLSearchParams({ service: 'ketch-registry' });
  for (const s of scopes) q.append('scope', s);
  const res = await fetch(`${base}/auth/token?${q.toString()}`, { headers: password === undefined ? {} : { authorization: `Basic ${Buffer.from(`x:${password}`).toString('base64')}` } });
  if (res.status !== 200) return { status: res.status };
  return { status: 200, token: ((await res.json()) as { token: string }).token };
}

describe('registry: bearer token auth', () => {
  let dir: string;
  let reg: RunningRegistry;
  const calls: ResourceAttributes[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ketch-reg-auth-'));
    reg = await startRegistry({ root: dir, port: 0, host: '127.0.0.1', auth: { cluster: stubCluster(calls) } });
  });
  after(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('maps scopes to review attributes: namespace from the first path component, verbs from actions', () => {
    assert.deepEqual(parseScope('repository:team/app:pull,push'), { type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository:localhost:5000/x:pull'), { type: 'repository', name: 'localhost:5000/x', actions: ['pull'] });
    assert.equal(parseScope('nonsense'), undefined);
    assert.deepEqual(attributesFor('repository', 'team/app/web', 'push'), { verb: 'create', namespace: 'team', name: 'app/web' });
    assert.deepEqual(attributesFor('repository', 'busybox', 'pull'), { verb: 'get', name: 'busybox' });
    assert.deepEqual(attributesFor('repository', 'team/app', 'delete'), { verb: 'delete', namespace: 'team', name: 'app' });
    assert.deepEqual(attributesFor('registry', 'catalog', '*'), { verb: 'list' });
    assert.equal(attributesFor('repository', 'team/app', 'admin'), undefined);
  });

  it('challenges requests without a token with the realm, service and scope', async () => {
    const base = await fetch(`${reg.url}/v2/`);
    assert.equal(base.status, 401);
    assert.equal(base.headers.get('www-authenticate'), `Bearer realm="${reg.url}/auth/token",service="ketch-registry"`);
    const push = await new TestClient(reg.url).fetch('/v2/team/app/blobs/uploads/', { method: 'POST' });
    assert.equal(push.status, 401);
    assert.match(push.headers.get('www-authenticate') ?? '', /scope="repository:team\/app:push"/);
    assert.equal(((await push.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNAUTHORIZED');
  });

  it('refuses an unauthenticated push: anonymous tokens carry no push, bad credentials get no token', async () => {
    assert.equal((await login(reg.url, 'wrong', ['repository:team/app:push'])).status, 401);
    const anon = await login(reg.url, undefined, ['repository:team/app:pull,push']);
    assert.equal(anon.status, 200);
    const c = new TestClient(reg.url, { authorization: `Bearer ${anon.token}` });
    const push = await c.fetch('/v2/team/app/blobs/uploads/', { method: 'POST' });
    assert.equal(push.status, 401);
    assert.match(push.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    // Without --anonymous-pull, pulls need credentials too.
    assert.equal((await c.fetch('/v2/team/app/tags/list')).status, 401);
  });

  it("lets a namespace's service account push under its own prefix only", async () => {
    const own = await login(reg.url, 'builder-token', ['repository:team/app:pull,push']);
    const ownClient = new TestClient(reg.url, { authorization: `Bearer ${own.token}` });
    const pushed = await ownClient.pushImage('team/app', 'v1', { config: fakeConfig('t'), layers: [Buffer.from('layer')] });
    assert.match(pushed.digest, /^sha256:/);
    assert.ok(calls.some((a) => a.verb === 'create' && a.namespace === 'team' && a.name === 'app'));
    const other = await login(reg.url, 'builder-token', ['repository:other/app:pull,push']);
    const otherClient = new TestClient(reg.url, { authorization: `Bearer ${other.token}` });
    const refused = await otherClient.fetch('/v2/other/app/blobs/uploads/', { method: 'POST' });
    assert.equal(refused.status, 401);
    // A token for one repository says nothing of another.
    assert.equal((await ownClient.fetch('/v2/other/app/blobs/uploads/', { method: 'POST' })).status, 401);
    // Deleting was not granted either.
    assert.equal((await ownClient.fetch(`/v2/team/app/manifests/${pushed.digest}`, { method: 'DELETE' })).status, 401);
  });

  it('mounts only from a repository the token may pull from', async () => {
    const admin = await login(reg.url, 'alice-token', ['repository:src/x:pull,push']);
    const a = new TestClient(reg.url, { authorization: `Bearer ${admin.token}` });
    const blob = Buffer.from('mount me');
    assert.equal((await a.pushBlob('src/x', blob)).status, 201);
    const b = await login(reg.url, 'builder-token', ['repository:team/y:pull,push', 'repository:src/x:pull']);
    const bc = new TestClient(reg.url, { authorization: `Bearer ${b.token}` });
    const r = await bc.fetch(`/v2/team/y/blobs/uploads/?mount=${sha(blob)}&from=src/x`, { method: 'POST' });
    assert.equal(r.status, 202, 'the builder may not pull src/x, so the mount falls back to an upload');
    const r2 = await a.fetch(`/v2/src/x/blobs/uploads/?mount=${sha(blob)}&from=src/x`, { method: 'POST' });
    assert.equal(r2.status, 201);
  });

  it('serves the catalog and the collector only to those allowed', async () => {
    const builder = await login(reg.url, 'builder-token', ['registry:catalog:*']);
    assert.equal((await fetch(`${reg.url}/v2/_catalog`, { headers: { authorization: `Bearer ${builder.token}` } })).status, 401);
    const alice = await login(reg.url, 'alice-token', ['registry:catalog:*']);
    const cat = await fetch(`${reg.url}/v2/_catalog`, { headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(cat.status, 200);
    assert.ok(((await cat.json()) as { repositories: string[] }).repositories.includes('team/app'));
    assert.equal((await fetch(`${reg.url}/ketch/gc`, { method: 'POST' })).status, 401);
    assert.equal((await fetch(`${reg.url}/ketch/gc`, { method: 'POST', headers: { authorization: 'Bearer builder-token' } })).status, 403);
    const gc = await fetch(`${reg.url}/ketch/gc?dryRun=true`, { method: 'POST', headers: { authorization: 'Bearer alice-token' } });
    assert.equal(gc.status, 200);
    assert.equal(((await gc.json()) as { dryRun: boolean }).dryRun, true);
  });

  it('refuses forged and foreign tokens', async () => {
    const good = await login(reg.url, 'alice-token', ['repository:team/app:pull']);
    const [h, p] = (good.token ?? '').split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as { access: { actions: string[] }[] };
    claims.access[0]!.actions.push('push');
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${(good.token ?? '').split('.')[2]}`;
    for (const token of [forged, 'alice-token', 'not.a.jwt']) {
      const r = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 401, token);
    }
  });
});
