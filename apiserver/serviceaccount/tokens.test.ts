import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureServiceAccountKey, TokenIssuer } from './tokens.js';

describe('service account token issuer', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-sa-tokens-'));
    mkdirSync(join(dir, 'pki'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reuses a verification for at most 10 s, never past exp nor for other audiences', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const issuer = new TokenIssuer(await ensureServiceAccountKey(dir), { now: () => new Date(now) }, 'https://issuer', ['api']);
    const claims = { namespace: 'ns', serviceAccount: { name: 'sa', uid: 'uid-1' } };
    const { token } = await issuer.issue(claims, ['api'], 5);
    const first = await issuer.verify(token);
    assert.deepEqual(await issuer.verify(token), first);
    assert.deepEqual(first.audiences, ['api']);
    await assert.rejects(issuer.verify(token, ['other']), 'not for another audience, even right after');
    now += 5_000;
    await assert.rejects(issuer.verify(token), 'not past its exp, although verified less than 10 s before');
    const long = (await issuer.issue(claims, ['api'], 3600)).token;
    await issuer.verify(long);
    now += 10_000;
    assert.deepEqual((await issuer.verify(long)).serviceAccount, claims.serviceAccount, 'verified again after 10 s');
    await assert.rejects(issuer.verify(`${long.slice(0, -2)}xx`), 'a changed signature is checked, not looked up');
  });
});
