import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import { Authenticator, markLocalConnection, parseTokenFile } from './authentication.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers, socket: {} }) as unknown as IncomingMessage;

describe('authn', () => {
  it('parses kube-apiserver token files', () => {
    const entries = parseTokenFile('# comment\nt1,alice,uid-1,"dev,ops"\n\nt2,bob,,\nt3,carol,u3\n');
    assert.deepEqual(
      entries.map((e) => [e.token, e.user.name, e.user.uid, e.user.groups]),
      [
        ['t1', 'alice', 'uid-1', ['dev', 'ops']],
        ['t2', 'bob', undefined, []],
        ['t3', 'carol', 'u3', []],
      ],
    );
    assert.throws(() => parseTokenFile('onlytoken\n'), /line 1/);
  });

  it('authenticates bearer tokens and refuses everything else', async () => {
    const a = new Authenticator(parseTokenFile('t1,alice,uid-1,"dev"\n'));
    assert.deepEqual(await a.authenticate(req({ authorization: 'Bearer t1' })), { name: 'alice', uid: 'uid-1', groups: ['dev', 'system:authenticated'] });
    const bad: Record<string, string>[] = [{}, { authorization: 'Bearer t2' }, { authorization: 'Basic dDE6' }, { authorization: 'Bearer' }];
    for (const h of bad) {
      await assert.rejects(a.authenticate(req(h)), (e: { status?: { code: number } }) => e.status?.code === 401);
    }
  });

  it("takes a hosted component's local token on the local socket's connections only", async () => {
    const a = new Authenticator([]);
    const token = a.localToken({ name: 'system:kube-scheduler', groups: [] });
    const other = a.localToken({ name: 'system:kube-controller-manager', groups: [] });
    assert.notEqual(token, other);
    assert.ok(Buffer.from(token, 'base64url').length === 32, '256 random bits');
    const local = {};
    markLocalConnection(local);
    const on = (socket: object, t: string): IncomingMessage => ({ headers: { authorization: `Bearer ${t}` }, socket }) as unknown as IncomingMessage;
    assert.deepEqual(await a.authenticate(on(local, token)), { name: 'system:kube-scheduler', groups: ['system:authenticated'] });
    assert.equal((await a.authenticate(on(local, other))).name, 'system:kube-controller-manager');
    // The same token on a TCP connection (not marked) stands for nobody.
    await assert.rejects(a.authenticate(on({}, token)), (e: { status?: { code: number } }) => e.status?.code === 401);
    await assert.rejects(a.authenticate(on(local, token + 'x')), (e: { status?: { code: number } }) => e.status?.code === 401);
    // Not something a TokenReview vouches for either (it names no connection).
    assert.equal(await a.reviewToken(token), undefined);
  });

  it('asks the further token authenticators about tokens not in the file', async () => {
    const a = new Authenticator(parseTokenFile('t1,alice,uid-1\n'), [
      async (t) => (t === 'jwt' ? { user: { name: 'system:serviceaccount:ns:sa', groups: ['system:serviceaccounts'] }, audiences: ['api'] } : undefined),
    ]);
    assert.deepEqual(await a.authenticate(req({ authorization: 'Bearer jwt' })), {
      name: 'system:serviceaccount:ns:sa',
      groups: ['system:serviceaccounts', 'system:authenticated'],
    });
    await assert.rejects(a.authenticate(req({ authorization: 'Bearer other' })), (e: { status?: { code: number } }) => e.status?.code === 401);
  });

  it('reviews tokens for audiences: static tokens are good for the API audiences only, others ask their authenticator', async () => {
    const seen: (readonly string[] | undefined)[] = [];
    const a = new Authenticator(
      parseTokenFile('t1,alice,uid-1\n'),
      [
        async (t, audiences) => {
          seen.push(audiences);
          return t === 'jwt' && audiences?.includes('vault') ? { user: { name: 'sa', groups: [] }, audiences: ['vault'] } : undefined;
        },
      ],
      ['https://api', 'api2'],
    );
    assert.deepEqual(await a.reviewToken('t1'), { user: { name: 'alice', uid: 'uid-1', groups: ['system:authenticated'] }, audiences: ['https://api', 'api2'] });
    assert.deepEqual(await a.reviewToken('t1', ['api2', 'vault']), { user: { name: 'alice', uid: 'uid-1', groups: ['system:authenticated'] }, audiences: ['api2'] });
    assert.equal(await a.reviewToken('t1', ['vault']), undefined);
    assert.deepEqual(await a.reviewToken('jwt', ['vault']), { user: { name: 'sa', groups: ['system:authenticated'] }, audiences: ['vault'] });
    assert.equal(await a.reviewToken('jwt'), undefined);
    assert.deepEqual(seen, [['vault'], ['https://api', 'api2']]);
    assert.equal(await a.reviewToken('nope'), undefined);
  });
});
