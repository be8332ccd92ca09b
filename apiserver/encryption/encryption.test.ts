import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDefaultEncryptionConfig, loadEncryptionConfig, parseEncryptionConfig } from './config.js';
import { aesCbc, aesGcm, identity, ProviderChain, secretbox } from './transformers.js';

const KEY32 = Buffer.alloc(32, 7);
const b64 = KEY32.toString('base64');
const KEY = '/registry/core/secrets/default/s1';
const config = (providers: string, resources = '[secrets]'): string =>
  `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: ${resources}\n  providers:\n${providers}`;

describe('encryption at rest', () => {
  it('each provider writes kube\'s prefix and layout, reads its own data back, and refuses tampered data', () => {
    const plain = Buffer.from('{"data":{"password":"c2VjcmV0"}}');
    const cases = [
      { t: aesGcm('k1', KEY32), prefix: 'k8s:enc:aesgcm:v1:k1:', overhead: 12 + 16 },
      { t: aesCbc('k1', KEY32), prefix: 'k8s:enc:aescbc:v1:k1:', overhead: 16 + (16 - (plain.length % 16)) },
      { t: secretbox('k1', KEY32), prefix: 'k8s:enc:secretbox:v1:k1:', overhead: 24 + 16 },
    ];
    for (const { t, prefix, overhead } of cases) {
      const chain = new ProviderChain([t]);
      const stored = Buffer.from(chain.toStorage(plain, KEY));
      assert.equal(stored.subarray(0, prefix.length).toString(), prefix);
      assert.equal(stored.length, prefix.length + plain.length + overhead, prefix);
      assert.ok(!stored.includes(Buffer.from('c2VjcmV0')), `${prefix}: plain text in the stored bytes`);
      assert.deepEqual(Buffer.from(chain.fromStorage(stored, KEY)), plain);
      const tampered = Buffer.from(stored);
      tampered[tampered.length - 1] = tampered.at(-1)! ^ 1;
      assert.throws(() => chain.fromStorage(tampered, KEY), /failed to decrypt/, prefix);
      assert.equal(chain.stale(stored), false);
    }
  });

  it('AES-GCM authenticates the storage key: a value copied under another key does not read', () => {
    const chain = new ProviderChain([aesGcm('k1', KEY32)]);
    const stored = chain.toStorage(Buffer.from('{}'), KEY);
    assert.throws(() => chain.fromStorage(stored, '/registry/core/secrets/default/other'), /failed to decrypt/);
  });

  it('AES-CBC reads what openssl wrote with kube\'s layout (IV, then PKCS#7-padded ciphertext)', () => {
    const iv = Buffer.alloc(16, 3);
    const body = execFileSync('openssl', ['enc', '-aes-256-cbc', '-K', KEY32.toString('hex'), '-iv', iv.toString('hex')], { input: 'hello from openssl' });
    const chain = new ProviderChain([aesCbc('k1', KEY32)]);
    const stored = Buffer.concat([Buffer.from('k8s:enc:aescbc:v1:k1:'), iv, body]);
    assert.equal(Buffer.from(chain.fromStorage(stored, KEY)).toString(), 'hello from openssl');
  });

  it('the first provider writes, all read; data under another provider is stale; identity refuses encrypted data', () => {
    const old = new ProviderChain([aesGcm('old', KEY32)]);
    const rotated = new ProviderChain([aesGcm('new', Buffer.alloc(32, 9)), aesGcm('old', KEY32), identity]);
    const byOld = old.toStorage(Buffer.from('{"a":1}'), KEY);
    assert.equal(Buffer.from(rotated.fromStorage(byOld, KEY)).toString(), '{"a":1}');
    assert.equal(rotated.stale(byOld), true);
    assert.equal(rotated.stale(rotated.toStorage(Buffer.from('{}'), KEY)), false);
    // Plain JSON (written before encryption) is read by identity, and is stale.
    assert.equal(Buffer.from(rotated.fromStorage(Buffer.from('{"b":2}'), KEY)).toString(), '{"b":2}');
    assert.equal(rotated.stale(Buffer.from('{"b":2}')), true);
    // Without the old key: kube's messages.
    assert.throws(() => new ProviderChain([aesGcm('new', Buffer.alloc(32, 9))]).fromStorage(byOld, KEY), /no matching prefix found/);
    assert.throws(() => new ProviderChain([identity]).fromStorage(byOld, KEY), /identity transformer tried to read encrypted data/);
    const idFirst = new ProviderChain([identity, aesGcm('old', KEY32)]);
    assert.equal(idFirst.stale(byOld), true);
    assert.equal(idFirst.stale(Buffer.from('{}')), false);
  });

  it('reads EncryptionConfiguration as kube does: resources by name or group wildcard, keys checked', () => {
    const cfg = parseEncryptionConfig(config(`  - secretbox: {keys: [{name: a, secret: ${b64}}]}\n  - identity: {}\n`, '[secrets, "*.apps", deployments.batch]'));
    assert.ok(cfg.chainFor('', 'secrets'));
    assert.ok(cfg.chainFor('apps', 'deployments'));
    assert.equal(cfg.chainFor('', 'configmaps'), undefined);
    assert.ok(parseEncryptionConfig(config('  - identity: {}\n', '["*.*"]')).chainFor('batch', 'jobs'));
    const bad: [string, RegExp][] = [
      [config(`  - aesgcm: {keys: [{name: a, secret: ${Buffer.alloc(20).toString('base64')}}]}\n`), /secret is not of the expected length, got 20, expected one of \[16,24,32\]/],
      [config(`  - secretbox: {keys: [{name: a, secret: ${Buffer.alloc(16).toString('base64')}}]}\n`), /expected one of \[32\]/],
      [config(`  - aescbc: {keys: [{name: a, secret: ${b64}}, {name: a, secret: ${b64}}]}\n`), /keys\[1\]\.name: Duplicate value: "a"/],
      [config('  - kms: {name: x}\n'), /Unsupported value: "kms"/],
      [config(`  - aesgcm: {keys: []}\n`), /at least one key is required/],
      [config('  - identity: {}\n    aesgcm: {keys: []}\n'), /more than one provider specified in a single element/],
      [config('  - identity: {}\n', '[secrets, secrets]'), /Duplicate value: "secrets"/],
      ['kind: Nope', /not an EncryptionConfiguration/],
    ];
    for (const [text, re] of bad) assert.throws(() => parseEncryptionConfig(text), re);
  });

  it('ketch up\'s default configuration: made once, 0600, Secrets under a 32-byte AES-GCM key then identity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ketch-enc-'));
    try {
      const path = await ensureDefaultEncryptionConfig(join(dir, 'encryption-config.yaml'));
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const cfg = await loadEncryptionConfig(path);
      const chain = cfg.chainFor('', 'secrets')!;
      const stored = Buffer.from(chain.toStorage(Buffer.from('{}'), KEY));
      assert.match(stored.toString('latin1'), /^k8s:enc:aesgcm:v1:key-\d{8}:/);
      assert.deepEqual(cfg.resources, ['secrets']);
      const again = await loadEncryptionConfig(await ensureDefaultEncryptionConfig(path));
      assert.equal(Buffer.from(again.chainFor('', 'secrets')!.fromStorage(stored, KEY)).toString(), '{}', 'the second start keeps the key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
