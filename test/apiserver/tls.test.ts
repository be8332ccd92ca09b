// The API server's TLS, checked with real clients: openssl s_client at TLS 1.1 and with weak cipher suites is refused,
// kube's suites are taken; a serving certificate replaced on disk is served to the next connection, without a restart.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { startApiServer, type ApiServer } from '../../apiserver/index.js';
import { ensurePki, issueCert, servingNames } from '../../apiserver/pki/pki.js';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { waitFor } from '../support/util.js';

/** openssl s_client against port with args: whether the handshake completed, and what it printed. */
export function sClient(port: number, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      const out = stdout + stderr;
      resolve({ ok: !err && /Cipher is (?!\(NONE\))/.test(out), out });
    });
    child.stdin?.end();
  });
}

/** The SHA-256 fingerprint of the certificate a TLS client is served on port. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

describe('API server TLS', function () {
  this.timeout(60_000);
  let dir: string;
  let api: ApiServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-tls-'));
    api = await startApiServer({ dataDir: dir, securePort: 0, bindAddress: '127.0.0.1', storage: new EmbeddedStorage({ path: ':memory:' }), servingCertCheckIntervalMs: 100 });
  });
  after(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses TLS 1.1 and weak cipher suites, takes TLS 1.3 and kube\'s TLS 1.2 suites', async () => {
    // SECLEVEL=0 lets this openssl offer TLS 1.1 at all: the refusal must be the server's.
    const old = await sClient(api.port, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    assert.equal(old.ok, false, old.out);
    assert.match(old.out, /alert protocol version|unsupported protocol|wrong version number|no protocols available/i);
    for (const weak of ['AES128-SHA', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'DHE-RSA-AES128-GCM-SHA256']) {
      const r = await sClient(api.port, ['-tls1_2', '-cipher', weak]);
      assert.equal(r.ok, false, `${weak} was accepted:\n${r.out}`);
    }
    for (const good of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      const r = await sClient(api.port, ['-tls1_2', '-cipher', good]);
      assert.ok(r.ok, r.out);
      assert.match(r.out, new RegExp(`Cipher is ${good}`));
    }
    const tls13 = await sClient(api.port, ['-tls1_3']);
    assert.ok(tls13.ok, tls13.out);
    assert.match(tls13.out, /TLSv1\.3/);
  });

  it('serves a serving certificate replaced on disk to the next connection, without a restart', async () => {
    const before = await servedFingerprint(api.port, api.caCertPem);
    const pki = await ensurePki(dir, ['127.0.0.1']);
    assert.equal(before, new X509Certificate(pki.serving.certPem).fingerprint256);
    const renewed = await issueCert(pki.ca, { commonName: 'ketch-apiserver', usage: 'server', days: 30, ...servingNames(['127.0.0.1']) });
    writeFileSync(join(dir, 'pki', 'serving.key'), renewed.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'pki', 'serving.crt'), renewed.certPem);
    const want = new X509Certificate(renewed.certPem).fingerprint256;
    assert.notEqual(want, before);
    await waitFor(async () => (await servedFingerprint(api.port, api.caCertPem)) === want, { timeoutMs: 10_000, what: 'the new certificate to be served' });
  });

  it('renews a serving certificate near its expiry and serves the renewal', async () => {
    const pki = await ensurePki(dir, ['127.0.0.1']);
    // Six days left: inside the week before expiry in which ensurePki renews a leaf.
    const expiring = await issueCert(pki.ca, { commonName: 'ketch-apiserver', usage: 'server', days: 6, ...servingNames(['127.0.0.1']) });
    writeFileSync(join(dir, 'pki', 'serving.key'), expiring.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'pki', 'serving.crt'), expiring.certPem);
    const old = new X509Certificate(expiring.certPem).fingerprint256;
    await waitFor(
      async () => {
        const fp = await servedFingerprint(api.port, api.caCertPem);
        const onDisk = (await ensurePki(dir, ['127.0.0.1'])).serving.certPem;
        return fp !== old && fp === new X509Certificate(onDisk).fingerprint256 && Date.parse(new X509Certificate(onDisk).validTo) > Date.now() + 300 * 86_400_000;
      },
      { timeoutMs: 10_000, what: 'a renewed year-long certificate to be served' },
    );
  });
});
