// The node proxy never follows a Node's address to link-local (cloud metadata), unspecified or multicast targets,
// nor to loopback unless the API server itself is on loopback; names are checked once resolved.
import { strict as assert } from 'node:assert';
import { request } from 'node:https';
import { agentLookup, isLoopbackAddress, refusedAddress } from './agent-address.js';
import { agentEndpoint, agentTls, type NodeProxyDeps } from './node-proxy.js';

const node = (address: string, type = 'InternalIP') => ({ status: { addresses: [{ type, address }], daemonEndpoints: { kubeletEndpoint: { Port: 10250 } } } });
const deps = (allowLoopback: boolean): NodeProxyDeps => ({
  getPod: () => Promise.reject(new Error('unused')),
  getNode: () => Promise.reject(new Error('unused')),
  clientCert: { cert: '', key: '' },
  addressPolicy: { allowLoopback },
});

describe('node proxy: which agent addresses are dialled', () => {
  it('refuses link-local, unspecified and multicast addresses always, loopback unless allowed', () => {
    const strict = { allowLoopback: false };
    const local = { allowLoopback: true };
    for (const a of ['169.254.169.254', 'fe80::1', '0.0.0.0', '::', '224.0.0.1', 'ff02::1', '::ffff:169.254.169.254']) {
      assert.ok(refusedAddress(a, local), a);
    }
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      assert.ok(refusedAddress(a, strict), a);
      assert.equal(refusedAddress(a, local), undefined, a);
    }
    for (const a of ['192.0.2.7', '10.0.0.1', '2001:db8::1']) assert.equal(refusedAddress(a, strict), undefined, a);
    assert.equal(isLoopbackAddress('127.0.0.1'), true);
    assert.equal(isLoopbackAddress('0.0.0.0'), false);
  });

  it('answers a Status (400) naming the node and the address instead of connecting', () => {
    assert.throws(() => agentEndpoint('evil', node('169.254.169.254'), deps(true)), (err: Error & { status?: number }) => {
      assert.match(err.message, /node evil: refusing to proxy to 169\.254\.169\.254, a link-local address/);
      return true;
    });
    assert.throws(() => agentEndpoint('n', node('127.0.0.1'), deps(false)), /a loopback address/);
    assert.deepEqual(agentEndpoint('n', node('127.0.0.1'), deps(true)), { host: '127.0.0.1', port: 10250 });
  });

  it('refuses a name that resolves to loopback when loopback is not allowed, at connect time', async () => {
    const lookup = agentLookup({ allowLoopback: false });
    const err = await new Promise<Error | null>((resolve) => lookup('localhost', {}, (e) => resolve(e)));
    assert.match(String(err), /localhost resolves to (127\.0\.0\.1|::1), a loopback address: not dialled/);
    // As an https request to the agent would use it: the connection fails before any byte is sent.
    const { lookup: checked } = agentTls(deps(false));
    const failed = await new Promise<Error>((resolve) => {
      const r = request({ host: 'localhost', port: 1, lookup: checked, rejectUnauthorized: false }, () => resolve(new Error('connected')));
      r.on('error', resolve);
      r.end();
    });
    assert.match(failed.message, /not dialled/);
  });
});
