import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki, issueCert, servingNames } from './pki.js';

describe('cluster PKI on disk', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-pki-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const served = (): { cert: string; key: string } => ({ cert: readFileSync(join(dir, 'pki', 'serving.crt'), 'utf8'), key: readFileSync(join(dir, 'pki', 'serving.key'), 'utf8') });

  it('renews an expiring serving certificate once when many callers ask at the same time, and leaves whole files', async () => {
    const pki = await ensurePki(dir, ['127.0.0.1']);
    const expiring = await issueCert(pki.ca, { commonName: 'ketch-apiserver', usage: 'server', days: 6, ...servingNames(['127.0.0.1']) });
    writeFileSync(join(dir, 'pki', 'serving.key'), expiring.keyPem);
    writeFileSync(join(dir, 'pki', 'serving.crt'), expiring.certPem);
    const all = await Promise.all(Array.from({ length: 8 }, () => ensurePki(dir, ['127.0.0.1'])));
    const onDisk = served();
    assert.equal(new Set(all.map((p) => p.serving.certPem)).size, 1, 'one renewal');
    assert.equal(all[0]!.serving.certPem, onDisk.cert);
    assert.equal(all[0]!.serving.keyPem, onDisk.key);
    assert.ok(Date.parse(new X509Certificate(onDisk.cert).validTo) > Date.now() + 300 * 86_400_000);
  });

  it("issues the pair again when the key on disk is not the certificate's (two processes renewing at once)", async () => {
    const pki = await ensurePki(dir, ['127.0.0.1']);
    const other = await issueCert(pki.ca, { commonName: 'ketch-apiserver', usage: 'server', ...servingNames(['127.0.0.1']) });
    writeFileSync(join(dir, 'pki', 'serving.key'), other.keyPem);
    const again = await ensurePki(dir, ['127.0.0.1']);
    assert.notEqual(again.serving.certPem, pki.serving.certPem);
    assert.notEqual(again.serving.keyPem, other.keyPem);
    const onDisk = served();
    assert.equal(onDisk.cert, again.serving.certPem);
    assert.equal(onDisk.key, again.serving.keyPem);
  });
});
