// The audit log of a real API server (--audit-policy-file, --audit-log-path): a create recorded at the level the
// policy gives it, with the request body from Request level and the response from RequestResponse; a Secret's data
// never at Metadata; authorization decisions and impersonation in every event; one JSON event per line as kube writes.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../apiserver/index.js';
import { waitFor } from '../support/util.js';
import { startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/version", "/api", "/api/*", "/apis", "/apis/*", "/openapi/*"]
- level: Metadata
  resources: [{group: "", resources: [secrets]}]
- level: RequestResponse
  resources: [{group: "", resources: [configmaps]}]
  namespaces: [kube-system]
  omitManagedFields: true
- level: Request
  resources: [{group: "", resources: [configmaps, secrets]}]
- level: Metadata
`;

describe('audit log', function () {
  this.timeout(30_000);
  let h: Harness;
  let dir: string;
  let log: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-audit-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    log = join(dir, 'audit.log');
    h = await startHarness({ auditPolicyFile: join(dir, 'policy.yaml'), auditLog: { path: log, maxSizeMb: 10, maxBackups: 1 } });
  });
  after(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const events = (): AuditEvent[] =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent);
  /** The events of the requests to a URI, once its ResponseComplete event is written. */
  const eventsOf = (uri: string, verb: string): Promise<AuditEvent[]> =>
    waitFor(() => {
      const evs = events().filter((e) => e.requestURI === uri && e.verb === verb);
      return evs.some((e) => e.stage === 'ResponseComplete') ? evs : undefined;
    }, { timeoutMs: 5000, what: `the audit events of ${verb} ${uri}` });

  it('records a create at the configured level: Request keeps the body as sent, not the answer', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'audited' }, data: { k: 'v' } };
    const uri = '/api/v1/namespaces/default/configmaps?fieldManager=audit-test';
    assert.equal((await h.call('POST', uri, { body: cm })).status, 201);
    const evs = await eventsOf(uri, 'create');
    // omitStages: no RequestReceived.
    assert.deepEqual(evs.map((e) => e.stage), ['ResponseComplete']);
    const ev = evs[0]!;
    assert.equal(ev.kind, 'Event');
    assert.equal(ev.apiVersion, 'audit.k8s.io/v1');
    assert.equal(ev.level, 'Request');
    assert.match(ev.auditID, /^[0-9a-f-]{36}$/);
    assert.deepEqual(ev.user, { username: 'admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] });
    assert.deepEqual(ev.sourceIPs, ['127.0.0.1']);
    assert.deepEqual(ev.objectRef, { resource: 'configmaps', namespace: 'default', name: 'audited', apiVersion: 'v1' });
    assert.deepEqual(ev.responseStatus, { metadata: {}, code: 201 });
    assert.deepEqual(ev.requestObject, cm);
    assert.equal(ev.responseObject, undefined);
    assert.equal(ev.annotations?.['authorization.k8s.io/decision'], 'allow');
    assert.match(ev.requestReceivedTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(ev.stageTimestamp >= ev.requestReceivedTimestamp);
  });

  it('keeps the response at RequestResponse, without managed fields when the rule says so', async () => {
    const uri = '/api/v1/namespaces/kube-system/configmaps';
    assert.equal((await h.call('POST', uri, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sys' }, data: { a: 'b' } } })).status, 201);
    const ev = (await eventsOf(uri, 'create')).at(-1)!;
    assert.equal(ev.level, 'RequestResponse');
    const resp = ev.responseObject as { metadata: J; data: J };
    assert.equal(resp.metadata.name, 'sys');
    assert.ok(resp.metadata.uid);
    assert.equal('managedFields' in resp.metadata, false);
    assert.deepEqual(resp.data, { a: 'b' });
  });

  it("never logs a Secret's data at Metadata level", async () => {
    const uri = '/api/v1/namespaces/default/secrets';
    assert.equal((await h.call('POST', uri, { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { password: 'hunter2' } } })).status, 201);
    assert.equal((await h.call('GET', `${uri}/s`)).status, 200);
    const created = (await eventsOf(uri, 'create')).at(-1)!;
    assert.equal(created.level, 'Metadata');
    assert.equal(created.requestObject, undefined);
    assert.deepEqual(created.objectRef, { resource: 'secrets', namespace: 'default', name: 's', apiVersion: 'v1' });
    await eventsOf(`${uri}/s`, 'get');
    assert.equal(readFileSync(log, 'utf8').includes('hunter2'), false);
  });

  it('records refusals with their Status, and whom an impersonating request acted as', async () => {
    const uri = '/api/v1/namespaces/default/configmaps/audited';
    const r = await h.call('GET', uri, { headers: { 'Impersonate-User': 'mallory' } });
    assert.equal(r.status, 403);
    const ev = (await eventsOf(uri, 'get')).at(-1)!;
    assert.equal(ev.user.username, 'admin');
    assert.deepEqual(ev.impersonatedUser, { username: 'mallory', groups: ['system:authenticated'] });
    assert.equal(ev.responseStatus?.code, 403);
    assert.equal(ev.responseStatus?.reason, 'Forbidden');
    assert.equal(ev.responseStatus?.status, 'Failure');
    assert.equal(ev.annotations?.['authorization.k8s.io/decision'], 'forbid');
  });
});
