import assert from 'node:assert/strict';
import type { Node } from '../../api/index.js';
import type { RestClient } from '../../client/index.js';
import { CLAIM_READ_TTL_MS, ClaimReads } from './claims.js';

/** A REST client that only answers Node GETs, counting them; fails the next one when told to (a fake: the point is what is asked). */
function nodeServer(): { rest: RestClient; gets: () => number; failNext: () => void } {
  let gets = 0;
  let fail = false;
  const rest = {
    resource: () => ({
      get: (_ns: string | undefined, name: string): Promise<Node> => {
        gets++;
        if (fail) {
          fail = false;
          return Promise.reject(new Error('connection refused'));
        }
        return Promise.resolve({ apiVersion: 'v1', kind: 'Node', metadata: { name, resourceVersion: String(gets) } });
      },
    }),
  } as unknown as RestClient;
  return { rest, gets: () => gets, failNext: () => (fail = true) };
}

describe('ClaimReads', () => {
  it('makes one Node request for the pods of a burst, and reads again once the entry is old', async () => {
    let now = 1_000;
    const reads = new ClaimReads(() => now);
    const srv = nodeServer();
    const [a, b] = await Promise.all([reads.node(srv.rest, 'n1'), reads.node(srv.rest, 'n1')]);
    assert.equal(srv.gets(), 1);
    assert.equal(a, b);
    now += CLAIM_READ_TTL_MS - 1;
    await reads.node(srv.rest, 'n1');
    assert.equal(srv.gets(), 1, 'still fresh');
    now += 1;
    assert.equal((await reads.node(srv.rest, 'n1')).metadata.resourceVersion, '2', 'read again');
    await reads.node(srv.rest, 'n2');
    assert.equal(srv.gets(), 3, 'another node is another read');
  });

  it('does not keep a failed read', async () => {
    const reads = new ClaimReads(() => 0);
    const srv = nodeServer();
    srv.failNext();
    await assert.rejects(reads.node(srv.rest, 'n1'), /connection refused/);
    assert.equal((await reads.node(srv.rest, 'n1')).metadata.name, 'n1');
    assert.equal(srv.gets(), 2);
  });
});
