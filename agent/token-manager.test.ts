import { strict as assert } from 'node:assert';
import { FakeClock } from '../lib/clock.js';
import { TokenManager } from './token-manager.js';

describe('agent token manager (projected service-account tokens)', () => {
  const key = { podUid: 'u1', namespace: 'default', serviceAccount: 'default', audience: '', expirationSeconds: 3607 };

  it('reuses a token until 80% of its life, then asks for a new one; a pod\'s tokens go with it', async () => {
    const clock = new FakeClock(0);
    const tokens = new TokenManager(clock, () => 0);
    let asked = 0;
    const request = async (): Promise<{ token: string; expirationTimestamp: string }> => {
      asked++;
      return { token: `t${asked}`, expirationTimestamp: new Date(clock.now() + 3607_000).toISOString() };
    };
    assert.equal(await tokens.token(key, request), 't1');
    await clock.advance(60_000);
    assert.equal(await tokens.token(key, request), 't1');
    // 80% of 3607 s is 2885.6 s: just before it the token stands, just after it is renewed.
    await clock.advance(2885_000 - 60_000);
    assert.equal(await tokens.token(key, request), 't1');
    await clock.advance(1000);
    assert.equal(await tokens.token(key, request), 't2');
    // Another audience is another token.
    assert.equal(await tokens.token({ ...key, audience: 'vault' }, request), 't3');
    tokens.forget('u1');
    assert.equal(await tokens.token(key, request), 't4');
    assert.equal(asked, 4);
  });

  it('renews a long-lived token after a day', async () => {
    const clock = new FakeClock(0);
    const tokens = new TokenManager(clock, () => 0);
    let asked = 0;
    const week = { ...key, expirationSeconds: 7 * 24 * 3600 };
    const request = async (): Promise<{ token: string; expirationTimestamp: string }> => ({ token: `t${++asked}`, expirationTimestamp: new Date(clock.now() + week.expirationSeconds * 1000).toISOString() });
    await tokens.token(week, request);
    await clock.advance(23 * 3600_000);
    assert.equal(await tokens.token(week, request), 't1');
    await clock.advance(3600_000 + 1);
    assert.equal(await tokens.token(week, request), 't2');
  });
});
