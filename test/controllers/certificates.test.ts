// Joining nodes end to end without containers: a real API server with the bootstrap and certificate controllers
// (ketch server in this process), `ketch token`, kubeadm-style discovery of the CA, the agent's TLS bootstrap with a
// token, renewal of the node's client certificate with no restart, serving certificates checked against the Node's
// addresses, and the token cleaner.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapTokenSecret, generateBootstrapToken } from '../../api/bootstrap-token.js';
import type { CertificateSigningRequest } from '../../api/schemas/certificates.js';
import { bootstrapClientCertificate, CertificateManager, CertificateStore, clientRequest, requestCertificate, rotationDeadline, servingRequest } from '../../agent/certificates/index.js';
import { discoverCa } from '../../cli/commands/join.js';
import { runServer, type RunningServer } from '../../cli/commands/server.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { refFor, SECRETS, NODES } from '../../client/resources.js';
import { RestClient } from '../../client/rest.js';
import { FakeClock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';
import { parseCsr, publicKeyPin, signedBy, createCsr, generateKeyPair, validity } from '../../lib/x509.js';
import { ketchIn } from '../e2e/cluster.js';
import { freePort, waitFor } from '../support/util.js';

const CSRS = refFor('certificates.k8s.io/v1', 'CertificateSigningRequest');
const log = logger('test');

describe('joining nodes: bootstrap tokens, CSRs, discovery, TLS bootstrap, rotation', function () {
  this.timeout(60_000);
  let dir: string;
  let server: RunningServer;
  let url: string;
  let ca: string;
  const whoami = async (rest: RestClient): Promise<{ username: string; groups: string[] }> =>
    ((await rest.request<{ status: { userInfo: { username: string; groups: string[] } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } })).status.userInfo);
  const tokenClient = (token: string): RestClient => new RestClient({ server: url, ca, token, namespace: 'default' });
  const bootstrapFile = (token: string): string => {
    const path = join(dir, `bootstrap-${token.slice(0, 6)}.kubeconfig`);
    writeFileSync(path, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${url}", certificate-authority-data: ${Buffer.from(ca).toString('base64')}}}]\nusers: [{name: u, user: {token: ${token}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`);
    return path;
  };
  const csrs = (): Promise<CertificateSigningRequest[]> => server.rest.resource<CertificateSigningRequest>(CSRS).list().then((l) => l.items);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-join-'));
    server = await runServer({
      '--data-dir': join(dir, 'server'),
      '--secure-port': String(await freePort()),
      '--bind-address': '127.0.0.1',
      '--disable-scheduler': 'true',
      '--leader-elect': 'false',
      '--controllers': 'csrapproving,csrsigning,tokencleaner,bootstrapsigner',
    });
    url = server.url;
    ca = server.rest.config.ca!;
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let token = '';
  let pin = '';
  it('ketch token create --print-join-command prints the join line; token list shows it as kubeadm does', async () => {
    const kubeconfig = server.adminKubeconfigPath;
    const created = await ketchIn(kubeconfig, ['token', 'create', '--print-join-command', '--description', 'for worker-1']);
    assert.equal(created.code, 0, created.stderr);
    const m = /^ketch join (https:\/\/127\.0\.0\.1:\d+) --token ([a-z0-9]{6}\.[a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})\n$/.exec(created.stdout);
    assert.ok(m, created.stdout);
    assert.equal(m[1], url);
    token = m[2]!;
    pin = m[3]!;
    assert.equal(pin, publicKeyPin(ca));
    const list = await ketchIn(kubeconfig, ['token', 'list']);
    assert.match(list.stdout, /^TOKEN\s+TTL\s+EXPIRES\s+USAGES\s+DESCRIPTION\s+EXTRA GROUPS\n/);
    assert.match(list.stdout, new RegExp(`\\n${token.replace('.', '\\.')}\\s+23h\\s+\\S+Z\\s+authentication,signing\\s+for worker-1\\s+system:bootstrappers:ketch:default-node-token\\n`));
    // The token authenticates as kube's bootstrap user.
    assert.deepEqual(await whoami(tokenClient(token)), { username: `system:bootstrap:${token.slice(0, 6)}`, groups: ['system:bootstrappers', 'system:bootstrappers:ketch:default-node-token', 'system:authenticated'] });
  });

  it('discovers the CA as kubeadm does: cluster-info read anonymously, signed with the token, the CA pinned', async () => {
    assert.equal(await discoverCa(url, { id: token.slice(0, 6), secret: token.slice(7) }, [pin], false, 10_000), ca);
    await assert.rejects(discoverCa(url, { id: token.slice(0, 6), secret: token.slice(7) }, [`sha256:${'0'.repeat(64)}`], false, 10_000), /none of the public keys "sha256:[0-9a-f]{64}" are pinned/);
    // The same id with another secret: the signature does not check out.
    await assert.rejects(discoverCa(url, { id: token.slice(0, 6), secret: 'x'.repeat(16) }, [pin], false, 10_000), /failed to verify JWS signature/);
    await assert.rejects(discoverCa(url, generateBootstrapToken(), [pin], false, 1500), /there is no JWS signed token in the cluster-info ConfigMap/);
    // Only that one path is open without credentials.
    const anon = new RestClient({ server: url, ca, namespace: 'default' });
    await assert.rejects(anon.request('GET', '/api/v1/namespaces/kube-public/configmaps'), /Unauthorized/);
    await assert.rejects(anon.request('GET', '/api/v1/namespaces/kube-system/secrets'), /Unauthorized/);
  });

  let nodeRest: RestClient;
  it('TLS bootstrap: the token gets a system:node certificate, auto-approved and signed by the cluster CA', async () => {
    const root = join(dir, 'worker-1');
    const kubeconfig = join(root, 'kubeconfig');
    await bootstrapClientCertificate({ bootstrapKubeconfig: bootstrapFile(token), kubeconfig, certDir: join(root, 'pki'), nodeName: 'worker-1', signal: new AbortController().signal, log });
    nodeRest = new RestClient(loadClientConfig({ kubeconfig }));
    assert.deepEqual(await whoami(nodeRest), { username: 'system:node:worker-1', groups: ['system:nodes', 'system:authenticated'] });
    const cert = (await new CertificateStore(join(root, 'pki'), 'kubelet-client').current())!.cert;
    assert.ok(signedBy(cert, ca));
    const life = validity(cert).notAfter.getTime() - Date.now();
    assert.ok(life > 364 * 86_400_000 && life <= 365 * 86_400_000, 'the --cluster-signing-duration default: one year');
    const csr = (await csrs()).find((c) => c.spec.username === `system:bootstrap:${token.slice(0, 6)}`)!;
    assert.equal(csr.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
    assert.deepEqual(csr.status?.conditions?.map((c) => [c.type, c.reason]), [['Approved', 'AutoApproved']]);
    // A second bootstrap with a usable certificate asks for nothing.
    const before = (await csrs()).length;
    await bootstrapClientCertificate({ bootstrapKubeconfig: bootstrapFile(token), kubeconfig, certDir: join(root, 'pki'), nodeName: 'worker-1', signal: new AbortController().signal, log });
    assert.equal((await csrs()).length, before);
  });

  it('renews the client certificate at 70-90% of its life and the REST client uses it with no restart', async () => {
    const root = join(dir, 'worker-1');
    const store = new CertificateStore(join(root, 'pki'), 'kubelet-client');
    const old = (await store.current())!;
    const clock = new FakeClock(Date.now());
    const watchSeen: string[] = [];
    const stop = new AbortController();
    // A watch opened before the rotation goes on after it (on a new connection with the new certificate).
    const watching = (async () => {
      for await (const ev of nodeRest.resource(NODES).watch(undefined, { signal: stop.signal, resourceVersion: '0' })) watchSeen.push(`${ev.type} ${ev.object.metadata?.name ?? ''}`);
    })();
    const mgr = new CertificateManager({ store, request: (signal) => requestCertificate(nodeRest, clientRequest('worker-1'), signal), onRotate: (p) => nodeRest.setClientCertificate(p.cert, p.key), clock, random: () => 0.5, log });
    await mgr.start();
    const { notBefore, notAfter } = validity(old.cert);
    assert.equal(mgr.deadline, rotationDeadline(old.cert, 0.5));
    assert.equal(mgr.deadline, notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * 0.8);
    await clock.advance(mgr.deadline - clock.now() - 1000);
    assert.equal((await store.current())!.cert, old.cert, 'not renewed before its deadline');
    await clock.advance(1000);
    await waitFor(async () => (await store.current())!.cert !== old.cert, { timeoutMs: 15_000, what: 'the renewed certificate' });
    const renewed = (await store.current())!;
    assert.equal(nodeRest.config.cert?.trim(), renewed.cert.trim());
    assert.ok(signedBy(renewed.cert, ca));
    // The node renewed itself: its own request, approved through selfnodeclient.
    const mine = (await csrs()).filter((c) => c.spec.username === 'system:node:worker-1');
    assert.equal(mine.length, 1);
    assert.deepEqual(mine[0]!.status?.conditions?.map((c) => c.type), ['Approved']);
    assert.equal((await whoami(nodeRest)).username, 'system:node:worker-1');
    await server.rest.resource(NODES).create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'after-rotation' } });
    await waitFor(() => watchSeen.includes('ADDED after-rotation'), { what: 'the watch to carry on after the rotation' });
    mgr.stop();
    stop.abort();
    await watching;
  });

  it('a serving request is approved when its SANs are the Node\'s name and addresses, and left pending otherwise', async () => {
    await server.rest.resource(NODES).create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker-1' } });
    await server.rest.resource(NODES).patch(undefined, 'worker-1', { status: { addresses: [{ type: 'InternalIP', address: '10.9.0.7' }, { type: 'Hostname', address: 'w1' }] } }, 'merge', { sub: 'status' });
    // A request naming an address the node does not have: created first, so the approver has seen it by the time
    // the good one is issued (one worker, in order).
    const keys = await generateKeyPair();
    const stray = await nodeRest.resource<CertificateSigningRequest>(CSRS).create(undefined, {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'stray-san' },
      spec: { request: Buffer.from(await createCsr(keys, { commonName: 'system:node:worker-1', organizations: ['system:nodes'] }, { ips: ['10.9.0.7', '192.0.2.1'] })).toString('base64'), signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'] },
    });
    const good = await requestCertificate(nodeRest, { ...servingRequest('worker-1', '10.9.0.7'), dns: ['worker-1', 'w1'] }, AbortSignal.timeout(20_000));
    const req = await parseCsr(Buffer.from((await server.rest.resource<CertificateSigningRequest>(CSRS).get(undefined, good.csrName)).spec.request, 'base64').toString());
    assert.deepEqual([req.dns, req.ips], [['worker-1', 'w1'], ['10.9.0.7']]);
    assert.ok(signedBy(good.cert, ca));
    const strayNow = await server.rest.resource<CertificateSigningRequest>(CSRS).get(undefined, stray.metadata.name!);
    assert.deepEqual(strayNow.status?.conditions ?? [], [], 'a request with a foreign address is not approved');
    // Approved by hand, a request the signer's rules refuse is failed, not signed.
    const masters = await tokenClient(token).resource<CertificateSigningRequest>(CSRS).create(undefined, {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'masters' },
      spec: { request: Buffer.from(await createCsr(keys, { commonName: 'system:node:x', organizations: ['system:masters'] })).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['digital signature', 'client auth'] },
    });
    await server.rest.request('PUT', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${masters.metadata.name!}/approval`, {
      body: { ...masters, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'ByHand' }] } },
    });
    const failed = await waitFor(async () => {
      const c = await server.rest.resource<CertificateSigningRequest>(CSRS).get(undefined, 'masters');
      return c.status?.conditions?.find((x) => x.type === 'Failed');
    }, { what: 'the Failed condition' });
    assert.deepEqual([failed.reason, failed.message], ['SignerValidationFailure', 'subject organization is not system:nodes']);
  });

  it('refuses expired, non-authentication and wrong tokens; the token cleaner deletes expired ones', async () => {
    const secrets = server.rest.resource(SECRETS);
    const make = async (expiresInMs: number, authentication = true): Promise<string> => {
      const t = generateBootstrapToken();
      await secrets.create('kube-system', bootstrapTokenSecret({ ...t, expiration: new Date(Date.now() + expiresInMs).toISOString().replace(/\.\d{3}Z$/, 'Z'), usages: { authentication, signing: false }, extraGroups: [] }) as never);
      return `${t.id}.${t.secret}`;
    };
    const soon = await make(3000);
    const past = await make(-60_000);
    const noAuth = await make(3_600_000, false);
    assert.equal((await whoami(tokenClient(soon))).username, `system:bootstrap:${soon.slice(0, 6)}`);
    await assert.rejects(whoami(tokenClient(past)), /Unauthorized/);
    await assert.rejects(whoami(tokenClient(noAuth)), /Unauthorized/);
    await assert.rejects(whoami(tokenClient(`${soon.slice(0, 7)}${'a'.repeat(16)}`)), /Unauthorized/);
    const gone = async (t: string): Promise<boolean> => !(await secrets.list('kube-system')).items.some((s) => s.metadata?.name === `bootstrap-token-${t.slice(0, 6)}`);
    await waitFor(() => gone(past), { timeoutMs: 10_000, what: 'the expired token to be deleted' });
    assert.equal(await gone(soon), false);
    await waitFor(() => gone(soon), { timeoutMs: 15_000, what: 'the token to be deleted at its expiration' });
    await assert.rejects(whoami(tokenClient(soon)), /Unauthorized/);
    assert.equal(await gone(noAuth), false);
  });
});
