// Forwarding names outside the cluster to upstream resolvers that the test runs itself on loopback: answers passed
// through, UDP then TCP on truncation, the next upstream after a timeout, SERVFAIL when none answers, the in-flight
// limit, and ExternalName targets resolved upstream.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket, { type Answer } from 'dns-packet';
import { ClusterDnsServer, type ClusterDnsOptions } from './server.js';
import { framed, tcpExchange, udpExchange } from './testing/client.js';
import { fixtureSources, query, rcodeOf } from './testing/fixtures.js';
import { startTestUpstream, type TestUpstream } from './testing/upstream.js';

const many = (name: string, n: number): Answer[] => Array.from({ length: n }, (_, i) => ({ name, type: 'A', ttl: 60, class: 'IN', data: `192.0.2.${i + 1}` }));

/** The internet of this test: example.test has one address, big.example.test 60 (more than 512 bytes over UDP). */
async function internet(delayMs = 0): Promise<TestUpstream> {
  return startTestUpstream(async (q, transport) => {
    const name = q.questions?.[0]?.name ?? '';
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (name === 'example.test') return { answers: many(name, 1) };
    if (name === 'ext.interwebs.test') return { answers: [{ name, type: 'A', ttl: 60, class: 'IN', data: '198.51.100.7' }] };
    if (name === 'big.example.test') return transport === 'udp' ? { flags: dnsPacket.TRUNCATED_RESPONSE, answers: many(name, 5) } : { answers: many(name, 60) };
    if (name === '7.100.51.198.in-addr.arpa') return { answers: [{ name, type: 'PTR', ttl: 60, class: 'IN', data: 'ext.interwebs.test' }] };
    return { flags: 3 }; // NXDOMAIN
  });
}

async function startServer(upstreams: Array<{ host: string; port: number }>, extra: Partial<ClusterDnsOptions> = {}): Promise<{ server: ClusterDnsServer; port: number }> {
  const server = new ClusterDnsServer({ sources: fixtureSources(), address: '127.0.0.1', port: 0, upstreams, upstreamTimeoutMs: 300, ...extra });
  const { port } = await server.start();
  return { server, port };
}

describe('cluster DNS: forwarding', () => {
  let up: TestUpstream;
  let server: ClusterDnsServer;
  let port: number;
  before(async () => {
    up = await internet();
    ({ server, port } = await startServer([{ host: up.host, port: up.port }]));
  });
  after(async () => {
    await server.stop();
    await up.close();
  });

  it('forwards names outside the cluster and returns the upstream answer with the client ID', async () => {
    const before = up.seen.length;
    const p = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('example.test', 'A', { id: 31 })));
    assert.equal(p.id, 31);
    assert.equal(rcodeOf(p), 'NOERROR');
    assert.deepEqual(p.answers?.map((a) => (a as { data?: unknown }).data), ['192.0.2.1']);
    const asked = up.seen.slice(before);
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.q.questions?.[0]?.name, 'example.test');
    const nx = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('missing.test', 'A')));
    assert.equal(rcodeOf(nx), 'NXDOMAIN', 'the upstream rcode passes through');
  });

  it('asks again over TCP when the UDP answer is truncated, then fits the answer to the client', async () => {
    const before = up.seen.length;
    const full = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('big.example.test', 'A', { edns: 4096 })));
    assert.equal(full.answers?.length, 60);
    assert.equal(full.flag_tc, false);
    assert.deepEqual(up.seen.slice(before).map((s) => s.transport), ['udp', 'tcp']);
    const cut = await udpExchange('127.0.0.1', port, query('big.example.test', 'A'));
    assert.ok(cut.length <= 512);
    assert.equal(dnsPacket.decode(cut).flag_tc, true);
    const t = await tcpExchange('127.0.0.1', port, [framed(query('big.example.test', 'A', { id: 5 }))], 1);
    const tp = dnsPacket.decode(t.messages[0]!);
    assert.equal(tp.id, 5);
    assert.equal(tp.answers?.length, 60);
  });

  it('resolves an ExternalName target upstream: the CNAME and the target addresses', async () => {
    const p = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('external.testns.svc.cluster.local', 'A', { edns: 1232 })));
    assert.deepEqual(
      p.answers?.map((a) => `${a.name} ${a.type} ${String((a as { data?: unknown }).data)}`),
      ['external.testns.svc.cluster.local CNAME ext.interwebs.test', 'ext.interwebs.test A 198.51.100.7'],
    );
  });

  it('forwards reverse names that are no cluster IP', async () => {
    const p = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('7.100.51.198.in-addr.arpa', 'PTR')));
    assert.equal((p.answers?.[0] as { data?: unknown } | undefined)?.data, 'ext.interwebs.test');
  });
});

describe('cluster DNS: failing upstreams', () => {
  const silent: Socket[] = [];
  /** A UDP port that reads queries and never answers. */
  async function blackHole(): Promise<{ host: string; port: number }> {
    const s = createSocket('udp4');
    silent.push(s);
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return { host: '127.0.0.1', port: s.address().port };
  }
  after(() => {
    for (const s of silent) s.close();
  });

  it('tries the next upstream after one times out, and answers SERVFAIL when none answers', async () => {
    const up = await internet();
    const hole = await blackHole();
    const { server, port } = await startServer([hole, { host: up.host, port: up.port }]);
    try {
      const t0 = Date.now();
      const p = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('example.test', 'A')));
      assert.equal(rcodeOf(p), 'NOERROR');
      assert.ok(Date.now() - t0 >= 250, 'after the first upstream timed out');
    } finally {
      await server.stop();
      await up.close();
    }
    const dead = await startServer([await blackHole(), await blackHole()]);
    try {
      const p = dnsPacket.decode(await udpExchange('127.0.0.1', dead.port, query('example.test', 'A', { id: 77 })));
      assert.equal(rcodeOf(p), 'SERVFAIL');
      assert.equal(p.id, 77);
      assert.equal(p.questions?.[0]?.name, 'example.test');
    } finally {
      await dead.server.stop();
    }
  });

  it('refuses forwards past the in-flight limit (CoreDNS max_concurrent)', async () => {
    const slow = await internet(400);
    const { server, port } = await startServer([{ host: slow.host, port: slow.port }], { maxForwardsInFlight: 1, upstreamTimeoutMs: 2000 });
    try {
      const first = udpExchange('127.0.0.1', port, query('example.test', 'A', { id: 1 }));
      await new Promise((r) => setTimeout(r, 50));
      const second = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('example.test', 'A', { id: 2 })));
      assert.equal(rcodeOf(second), 'REFUSED');
      assert.equal(rcodeOf(dnsPacket.decode(await first)), 'NOERROR');
      // Cluster names are answered whatever the forwards in flight.
      const inside = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('svc1.testns.svc.cluster.local', 'A')));
      assert.equal(rcodeOf(inside), 'NOERROR');
    } finally {
      await server.stop();
      await slow.close();
    }
  });
});
