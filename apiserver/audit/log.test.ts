// The audit policy's rule matching (kube's policy checker cases) and the log file's size-based rotation.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../lib/logger.js';
import type { Attributes } from '../authorization/types.js';
import type { AuditEvent } from '../filters/audit-context.js';
import { AuditLog, backupName, RotatingFile } from './log.js';
import { evaluatePolicy, parseAuditPolicy } from './policy.js';

const user = { name: 'alice', groups: ['dev', 'system:authenticated'] };
const resource = (verb: string, resource: string, extra: Partial<Attributes> = {}): Attributes => ({
  user,
  verb,
  namespace: 'default',
  apiGroup: '',
  apiVersion: 'v1',
  resource,
  subresource: '',
  name: '',
  path: '',
  resourceRequest: true,
  ...extra,
});
const path = (p: string): Attributes => ({ user, verb: 'get', namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '', path: p, resourceRequest: false });

describe('audit policy', () => {
  const policy = parseAuditPolicy(`
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
- level: None
  nonResourceURLs: [/healthz*, /version]
- level: Metadata
  resources: [{group: "", resources: [secrets, configmaps]}]
- level: Request
  verbs: [create]
  namespaces: [kube-system]
- level: RequestResponse
  resources: [{group: apps, resources: ["*/scale", "deployments"], resourceNames: [web]}]
  omitManagedFields: true
- level: Request
  userGroups: [dev]
  resources: [{group: "", resources: ["pods/*"]}]
  omitStages: [ResponseStarted]
- level: Metadata
`);

  it('takes the first rule that matches, every field it sets', () => {
    assert.equal(evaluatePolicy(policy, { ...path('/healthz/ready'), user: { name: 'system:kube-proxy', groups: [] } }).level, 'None');
    assert.equal(evaluatePolicy(policy, path('/healthz/ready')).level, 'None');
    assert.equal(evaluatePolicy(policy, path('/version')).level, 'None');
    assert.equal(evaluatePolicy(policy, path('/versions')).level, 'Metadata');
    assert.equal(evaluatePolicy(policy, resource('create', 'secrets', { namespace: 'kube-system' })).level, 'Metadata');
    assert.equal(evaluatePolicy(policy, resource('create', 'pods', { namespace: 'kube-system' })).level, 'Request');
    assert.equal(evaluatePolicy(policy, resource('update', 'deployments', { apiGroup: 'apps', name: 'web' })).level, 'RequestResponse');
    assert.equal(evaluatePolicy(policy, resource('update', 'deployments', { apiGroup: 'apps', subresource: 'scale', name: 'web' })).level, 'RequestResponse');
    assert.equal(evaluatePolicy(policy, resource('update', 'deployments', { apiGroup: 'apps', name: 'db' })).level, 'Metadata');
    assert.equal(evaluatePolicy(policy, resource('get', 'pods', { subresource: 'log' })).level, 'Request');
    // "pods/*" matches the resource itself too (kube's checker compares the resource, not that a subresource is there).
    assert.equal(evaluatePolicy(policy, resource('get', 'pods')).level, 'Request');
    assert.equal(evaluatePolicy(policy, { ...resource('get', 'pods'), user: { name: 'bob', groups: ['ops'] } }).level, 'Metadata');
  });

  it('unions the policy\'s omitStages with the rule\'s, and takes omitManagedFields from the rule when set', () => {
    const d = evaluatePolicy(policy, resource('get', 'pods', { subresource: 'log' }));
    assert.deepEqual([...d.omitStages].sort(), ['RequestReceived', 'ResponseStarted']);
    assert.equal(evaluatePolicy(policy, resource('update', 'deployments', { apiGroup: 'apps', name: 'web' })).omitManagedFields, true);
    assert.equal(evaluatePolicy(policy, resource('get', 'nodes', { namespace: '' })).omitManagedFields, false);
  });

  it('refuses a policy without rules or with a bad level', () => {
    assert.throws(() => parseAuditPolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n'), /0 rules/);
    assert.throws(() => parseAuditPolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Everything}]\n'), /rules\[0\]\.level: Unsupported value: "Everything"/);
    assert.throws(() => parseAuditPolicy('apiVersion: v1\nkind: ConfigMap\n'), /not an audit\.k8s\.io\/v1 Policy/);
  });
});

describe('audit log file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-audit-log-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates past --audit-log-maxsize and keeps --audit-log-maxbackup files', () => {
    let t = Date.parse('2026-01-02T03:04:05.000Z');
    const file = new RotatingFile({ path: join(dir, 'audit.log'), maxSizeMb: 1, maxBackups: 2, now: () => new Date((t += 1000)) });
    const line = `${'x'.repeat(1023)}\n`;
    // 4.5 MB in 1 KiB lines: four rotations, two backups kept (the newest).
    for (let i = 0; i < 4.5 * 1024; i++) file.write(line);
    file.close();
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 3, files.join(' '));
    assert.ok(files.includes('audit.log'));
    for (const f of files) assert.ok(statSync(join(dir, f)).size <= 1024 * 1024, f);
    assert.match(files[0]!, /^audit-2026-01-02T03-04-\d\d\.\d{3}\.log$/);
    assert.equal(backupName('/var/log/audit.log', new Date('2026-01-02T03:04:05.678Z')), '/var/log/audit-2026-01-02T03-04-05.678.log');
  });

  it('writes one JSON event per line, in order', async () => {
    const p = join(dir, 'a', 'audit.log');
    const log = new AuditLog(parseAuditPolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n'), { path: p }, logger('audit-test'));
    const ev = (i: number): AuditEvent => ({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: String(i), stage: 'ResponseComplete', requestURI: '/', verb: 'get', user: { username: 'u' }, sourceIPs: [], requestReceivedTimestamp: '', stageTimestamp: '' });
    for (let i = 0; i < 3; i++) log.process(ev(i));
    await new Promise((r) => setImmediate(r));
    log.process(ev(3));
    log.close();
    const lines = readFileSync(p, 'utf8').trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditEvent).auditID), ['0', '1', '2', '3']);
    assert.equal(statSync(p).mode & 0o777, 0o600);
  });
});
