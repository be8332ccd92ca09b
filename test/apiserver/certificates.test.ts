// certificates.k8s.io/v1 CertificateSigningRequest against a real API server and the real kubectl: who asked is the
// server's to record, validation as kube's, kubectl's columns, `kubectl certificate approve|deny` through /approval,
// and /status that may add a certificate only to an approved request and never touches the approval.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createCsr, generateKeyPair } from '../../lib/x509.js';
import { kubectlEnv } from '../e2e/cluster.js';
import { startHarness, type Harness } from './harness.js';

const PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

describe('CertificateSigningRequest (API server, kubectl)', function () {
  this.timeout(60_000);
  let h: Harness;
  let request: string;
  before(async () => {
    h = await startHarness();
    const keys = await generateKeyPair();
    request = Buffer.from(await createCsr(keys, { commonName: 'jane', organizations: ['dev'] })).toString('base64');
  });
  after(async () => h?.stop());

  const kubectl = (...args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      const child = execFile('kubectl', args, { env: kubectlEnv(h.api.adminKubeconfigPath, h.dataDir), timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
      child.stdin?.end();
    });
  const csr = (name: string, spec: Record<string, unknown> = {}): Record<string, unknown> => ({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request, signerName: 'kubernetes.io/kube-apiserver-client', usages: ['digital signature', 'client auth'], expirationSeconds: 3600, ...spec },
  });

  it('records the requesting user, whatever the body says, and starts with an empty status', async () => {
    const r = await h.call('POST', PATH, { body: { ...csr('jane'), spec: { ...(csr('jane').spec as object), username: 'root', groups: ['system:masters'] }, status: { conditions: [{ type: 'Approved', status: 'True' }] } } });
    assert.equal(r.status, 201, r.text);
    const spec = r.json.spec as Record<string, unknown>;
    assert.equal(spec.username, 'admin');
    assert.deepEqual(spec.groups, ['kubeadm:cluster-admins', 'system:authenticated']);
    assert.deepEqual(r.json.status, {});
    // A token user is recorded as the token's user.
    const t = await h.call('POST', PATH, { body: csr('by-token'), auth: { token: h.adminToken } });
    assert.equal((t.json.spec as Record<string, unknown>).username, 'admin');
  });

  it('validates as kube does: the PEM, the signer, the usages, the duration', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ request: Buffer.from('not pem').toString('base64') }, /spec\.request: Invalid value: "<request data>": expected one PEM block of type "CERTIFICATE REQUEST", found none/],
      [{ signerName: 'kubernetes.io/legacy-unknown' }, /kubernetes\.io\/legacy-unknown is not an allowed signerName/],
      [{ signerName: 'noslash' }, /spec\.signerName: Invalid value: "noslash": must be a fully qualified domain and path/],
      [{ usages: ['client auth', 'flying'] }, /spec\.usages\[1\]: Unsupported value: "flying"/],
      [{ usages: ['client auth', 'client auth'] }, /spec\.usages\[1\]: Duplicate value: "client auth"/],
      [{ usages: [] }, /spec\.usages: Required value/],
      [{ expirationSeconds: 599 }, /spec\.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds/],
    ];
    for (const [spec, re] of cases) {
      const r = await h.call('POST', PATH, { body: csr('bad', spec) });
      assert.equal(r.status, 422, r.text);
      assert.match(String(r.json.message), re);
    }
  });

  it('kubectl get csr shows kube\'s columns; approve and deny go through /approval', async () => {
    await h.call('POST', PATH, { body: csr('other', { signerName: 'example.com/custom', expirationSeconds: undefined }) });
    const table = await kubectl('get', 'csr');
    assert.equal(table.code, 0, table.out);
    assert.match(table.out, /^NAME\s+AGE\s+SIGNERNAME\s+REQUESTOR\s+REQUESTEDDURATION\s+CONDITION\n/);
    assert.match(table.out, /\njane\s+\d+s\s+kubernetes\.io\/kube-apiserver-client\s+admin\s+60m\s+Pending\n/);
    assert.match(table.out, /\nother\s+\d+s\s+example\.com\/custom\s+admin\s+<none>\s+Pending\n/);
    assert.equal((await kubectl('certificate', 'approve', 'jane')).out, 'certificatesigningrequest.certificates.k8s.io/jane approved\n');
    assert.equal((await kubectl('certificate', 'deny', 'other')).out, 'certificatesigningrequest.certificates.k8s.io/other denied\n');
    const jane = await h.call('GET', `${PATH}/jane`);
    const conds = (jane.json.status as { conditions: Record<string, string>[] }).conditions;
    assert.deepEqual(conds.map((c) => [c.type, c.status, c.reason]), [['Approved', 'True', 'KubectlApprove']]);
    assert.ok(conds[0]!.lastUpdateTime && conds[0]!.lastTransitionTime);
    assert.match((await kubectl('get', 'csr')).out, /\njane\s+.*\s+Approved\nother\s+.*\s+Denied\n/);
    // kubectl will not deny an approved request; the server refuses it too, and an approval cannot be taken back.
    assert.match((await kubectl('certificate', 'deny', 'jane')).out, /is already Approved/);
    const cur = (await h.call('GET', `${PATH}/jane`)).json;
    const both = await h.call('PUT', `${PATH}/jane/approval`, { body: { ...cur, status: { conditions: [...conds, { type: 'Denied', status: 'True' }] } } });
    assert.equal(both.status, 422);
    assert.match(String(both.json.message), /Approved and Denied conditions are mutually exclusive/);
    const undo = await h.call('PUT', `${PATH}/jane/approval`, { body: { ...cur, status: { conditions: [] } } });
    assert.equal(undo.status, 422);
    assert.match(String(undo.json.message), /updates may not remove a condition of type "Approved"/);
    const stale = await h.call('PUT', `${PATH}/other/approval`, { body: { ...(await h.call('GET', `${PATH}/other`)).json, metadata: { name: 'other', resourceVersion: '1' } } });
    assert.equal(stale.status, 409);
  });

  it('/status: a certificate only once approved, never changed, and the approval untouched', async () => {
    const pem = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
    await h.call('POST', PATH, { body: csr('pending') });
    const early = await h.call('PUT', `${PATH}/pending/status`, { body: { ...(await h.call('GET', `${PATH}/pending`)).json, status: { certificate: pem } } });
    assert.equal(early.status, 422, early.text);
    assert.match(String(early.json.message), /certificate may only be set if the Approved condition is present/);
    const cur = (await h.call('GET', `${PATH}/jane`)).json;
    // The status write drops the Approved condition from its body: it stays, and the certificate is taken.
    const ok = await h.call('PUT', `${PATH}/jane/status`, { body: { ...cur, status: { certificate: pem } } });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual((ok.json.status as { conditions: { type: string }[] }).conditions.map((c) => c.type), ['Approved']);
    assert.equal((ok.json.status as { certificate: string }).certificate, pem);
    const changed = await h.call('PUT', `${PATH}/jane/status`, { body: { ...ok.json, status: { ...(ok.json.status as object), certificate: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n').toString('base64') } } });
    assert.equal(changed.status, 422);
    assert.match(String(changed.json.message), /updates may not modify existing certificate content/);
    // A main-resource update changes metadata only.
    const upd = await h.call('PUT', `${PATH}/jane`, { body: { ...ok.json, metadata: { ...(ok.json.metadata as object), labels: { a: 'b' } }, spec: { ...(ok.json.spec as object), signerName: 'example.com/x' } } });
    assert.equal(upd.status, 200, upd.text);
    assert.deepEqual([(upd.json.metadata as { labels: object }).labels, (upd.json.spec as { signerName: string }).signerName], [{ a: 'b' }, 'kubernetes.io/kube-apiserver-client']);
    assert.match((await kubectl('get', 'csr', 'jane')).out, /Approved,Issued\n/);
  });
});
