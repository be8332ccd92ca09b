// Pod routes between nodes, with a second machine played by a network namespace joined to this one by a veth pair
// (198.51.100.0/29, a documentation range; the test refuses to run if this host uses it): the routes go into the real routing table and a ping crosses them.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { strict as assert } from 'node:assert';
import type { Node } from '../api/index.js';
import { Informer } from '../client/index.js';
import { logger } from '../lib/logger.js';
import { startTestApiServer, type TestApiServer } from '../test/support/cluster.js';
import { waitFor } from '../test/support/util.js';
import { NODES } from './resources.js';
import { NodeRoutes, onLink, routeFor } from './routes.js';

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const routeTo = (cidr: string): string => ip('route', 'show', cidr).trim();
const pingOk = (addr: string): boolean => spawnSync('busybox', ['ping', '-c', '1', '-W', '2', addr], { stdio: 'ignore' }).status === 0;

describe('agent pod routes between nodes', () => {
  describe('routeFor', () => {
    const node = (name: string, cidr: string | undefined, addr: string | undefined): Node => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      spec: cidr ? { podCIDR: cidr } : {},
      status: addr ? { addresses: [{ type: 'InternalIP', address: addr }, { type: 'Hostname', address: name }] } : {},
    });
    const self = { name: 'a', ip: '198.51.100.1', clusterCIDR: '10.74.0.0/16' };

    it('routes another node\'s pod CIDR through its InternalIP', () => {
      assert.deepEqual(routeFor(node('b', '10.74.9.0/24', '198.51.100.2'), self), { cidr: '10.74.9.0/24', via: '198.51.100.2' });
    });

    it('needs no route for this node, a node without a pod CIDR, or one without a usable IPv4 InternalIP', () => {
      assert.equal(routeFor(node('a', '10.74.1.0/24', '198.51.100.9'), self), undefined);
      assert.equal(routeFor(node('b', undefined, '198.51.100.2'), self), undefined);
      assert.equal(routeFor(node('b', '10.74.9.0/24', undefined), self), undefined);
      assert.equal(routeFor(node('b', '10.74.9.0/24', '198.51.100.1'), self), undefined, 'same address as this host');
      assert.equal(routeFor(node('b', '10.74.9.0/24', '127.0.0.1'), self), undefined, 'loopback: another agent on this host');
      assert.equal(routeFor(node('b', '10.74.9.0/24', 'fd00::2'), self), undefined);
    });

    it('refuses a Node that would steer this host: a pod CIDR outside the cluster CIDR, a link-local or odd next hop', () => {
      assert.equal(routeFor(node('b', '0.0.0.0/0', '198.51.100.2'), self), undefined, 'default route');
      assert.equal(routeFor(node('b', '10.0.0.0/8', '198.51.100.2'), self), undefined, 'wider than the cluster CIDR');
      assert.equal(routeFor(node('b', '192.0.2.0/24', '198.51.100.2'), self), undefined, 'outside the cluster CIDR');
      assert.equal(routeFor(node('b', '10.74.9.1/24', '198.51.100.2'), self), undefined, 'host bits set');
      assert.equal(routeFor(node('b', '10.74.9.0/24', '169.254.169.254'), self), undefined, 'link-local next hop');
      assert.equal(routeFor(node('b', '10.74.9.0/24', '224.0.0.1'), self), undefined, 'multicast next hop');
      assert.equal(routeFor(node('b', '10.74.9.0/24', '0.0.0.0'), self), undefined, 'unspecified next hop');
    });
  });

  it('takes a next hop only on a directly connected network', () => {
    const ifs = {
      eth0: [{ address: '192.168.5.10', netmask: '255.255.255.0', family: 'IPv4', internal: false, mac: '', cidr: '192.168.5.10/24' }],
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', internal: true, mac: '', cidr: '127.0.0.1/8' }],
    } as unknown as Parameters<typeof onLink>[1];
    assert.equal(onLink('192.168.5.77', ifs), true);
    assert.equal(onLink('192.168.6.77', ifs), false);
    assert.equal(onLink('127.0.0.2', ifs), false, 'loopback is no next hop');
  });

  describe('against a real API server and routing table', function () {
    this.timeout(60_000);
    const tag = randomBytes(3).toString('hex');
    const netns = `ketch-rt-${tag}`;
    const vethHost = `krt${tag}a`;
    const vethPeer = `krt${tag}b`;
    const PEER_CIDR = '10.74.9.0/24';
    const PEER_POD = '10.74.9.1';
    const FAR_CIDR = '10.74.10.0/24';
    let api: TestApiServer;
    let informer: Informer<Node>;
    let routes: NodeRoutes | undefined;

    before(async () => {
      const inUse = (ip('-4', 'addr') + ip('-4', 'route')).split('\n').filter((l) => /\b198\.51\.100\.|\b10\.74\./.test(l));
      if (inUse.length) throw new Error(`this host already uses 198.51.100.0/24 or 10.74.0.0/16, which this test needs: ${inUse.join('; ')}`);
      ip('netns', 'add', netns);
      ip('link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethPeer);
      ip('link', 'set', vethPeer, 'netns', netns);
      ip('addr', 'add', '198.51.100.1/29', 'dev', vethHost);
      ip('link', 'set', vethHost, 'up');
      ip('-n', netns, 'addr', 'add', '198.51.100.2/29', 'dev', vethPeer);
      ip('-n', netns, 'link', 'set', vethPeer, 'up');
      ip('-n', netns, 'addr', 'add', '198.51.100.3/29', 'dev', vethPeer);
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      // A "pod" on the other machine.
      ip('-n', netns, 'addr', 'add', `${PEER_POD}/32`, 'dev', 'lo');
      api = await startTestApiServer();
    });

    after(async () => {
      await routes?.stop();
      await informer?.stop();
      await api?.stop();
      spawnSync('ip', ['route', 'del', PEER_CIDR]);
      spawnSync('ip', ['link', 'del', vethHost]);
      spawnSync('ip', ['netns', 'del', netns]);
    });

    it('adds a route when a node gets its pod CIDR, follows address changes, removes it on delete and on stop', async () => {
      const nodes = api.rest.resource<Node>(NODES);
      await nodes.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: `self-${tag}` }, spec: { podCIDR: '10.74.8.0/24' } });
      await nodes.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: `peer-${tag}` } });
      await nodes.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: `far-${tag}` }, spec: { podCIDR: FAR_CIDR } });
      for (const [name, addr] of [[`self-${tag}`, '198.51.100.1'], [`peer-${tag}`, '198.51.100.2'], [`far-${tag}`, '203.0.113.7']] as const) {
        const n = await nodes.get(undefined, name);
        await nodes.updateStatus({ ...n, status: { addresses: [{ type: 'InternalIP', address: addr }] } });
      }

      informer = new Informer<Node>(nodes);
      routes = new NodeRoutes({ nodes: informer, nodeName: `self-${tag}`, hostIP: '198.51.100.1', clusterCIDR: '10.74.0.0/16', log: logger('test') });
      routes.start();
      informer.start();
      await informer.waitForSync();
      await routes.settled();
      assert.equal(routeTo(PEER_CIDR), '', 'no route before the peer has a pod CIDR');
      assert.equal(routeTo('10.74.8.0/24'), '', 'no route to this node\'s own pods');
      assert.equal(routeTo(FAR_CIDR), '', 'a node that is not on a connected network gets no route');
      assert.equal(pingOk(PEER_POD), false, 'the peer\'s pod is unreachable without the route');

      await nodes.patch(undefined, `peer-${tag}`, { spec: { podCIDR: PEER_CIDR } });
      await waitFor(() => routeTo(PEER_CIDR).includes('via 198.51.100.2'), { timeoutMs: 10_000, what: 'the route to the peer\'s pods' });
      assert.ok(pingOk(PEER_POD), 'a ping reaches the peer\'s pod through the route');
      assert.deepEqual([...routes.routes().keys()], [`peer-${tag}`]);

      // The peer's address changes (a second address of the same machine): the route follows.
      const moved = await nodes.get(undefined, `peer-${tag}`);
      await nodes.updateStatus({ ...moved, status: { addresses: [{ type: 'InternalIP', address: '198.51.100.3' }] } });
      await waitFor(() => routeTo(PEER_CIDR).includes('via 198.51.100.3'), { timeoutMs: 10_000, what: 'the route through the new address' });
      assert.ok(pingOk(PEER_POD), 'the ping crosses the changed route');

      await nodes.delete(undefined, `peer-${tag}`);
      await waitFor(() => routeTo(PEER_CIDR) === '', { timeoutMs: 10_000, what: 'the route removed with its node' });

      await nodes.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: `peer2-${tag}` }, spec: { podCIDR: PEER_CIDR } });
      const n2 = await nodes.get(undefined, `peer2-${tag}`);
      await nodes.updateStatus({ ...n2, status: { addresses: [{ type: 'InternalIP', address: '198.51.100.2' }] } });
      await waitFor(() => routeTo(PEER_CIDR).includes('via 198.51.100.2'), { timeoutMs: 10_000, what: 'the route for a new node' });
      await routes.stop();
      assert.equal(routeTo(PEER_CIDR), '', 'stop removes the routes the agent added');
    });
  });
});
