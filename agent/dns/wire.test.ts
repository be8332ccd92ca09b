// Hostile and oversized input to the cluster DNS: malformed messages, compression loops, huge names, EDNS versions,
// truncation to the client's size, TCP framing, connection limits, and a seeded fuzz of mutated queries.
import assert from 'node:assert/strict';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { connect, type Socket } from 'node:net';
import { waitFor } from '../../test/support/util.js';
import { ClusterDnsServer } from './server.js';
import { framed, tcpExchange, udpExchange } from './testing/client.js';
import { fixtureSources, query, rcodeOf, service, slice } from './testing/fixtures.js';

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  [id, flags, qd, an, ns, ar].forEach((v, i) => b.writeUInt16BE(v, i * 2));
  return b;
}

/** A question section from raw name bytes: type A, class IN. */
const question = (nameBytes: number[]): Buffer => Buffer.concat([Buffer.from(nameBytes), Buffer.from([0, 1, 0, 1])]);

const labels = (name: string): number[] => name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]).concat([0]);

function newServer(extra: Parameters<typeof fixtureSources>[0] = true): { server: ClusterDnsServer; sources: ReturnType<typeof fixtureSources> } {
  const sources = fixtureSources(extra);
  return { server: new ClusterDnsServer({ sources, address: '127.0.0.1', port: 0, upstreams: [], tcpIdleTimeoutMs: 300, maxTcpConnections: 4 }), sources };
}

async function reply(server: ClusterDnsServer, msg: Buffer, transport: 'udp' | 'tcp' = 'udp'): Promise<Buffer | undefined> {
  return await server.handle(msg, transport);
}

async function decoded(server: ClusterDnsServer, msg: Buffer, transport: 'udp' | 'tcp' = 'udp'): Promise<DecodedPacket> {
  const out = await reply(server, msg, transport);
  assert.ok(out, 'expected a reply');
  return dnsPacket.decode(out);
}

/** A headless service with n ready endpoints, to answer more than fits in 512 bytes. */
function bigService(sources: ReturnType<typeof fixtureSources>, n: number): void {
  sources.services.set(service('testns', 'big', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80 }] }));
  sources.endpointSlices.set(slice('testns', 'big', 'big-a', Array.from({ length: n }, (_, i) => ({ ip: `10.43.${i >> 8}.${i & 255}` })), [{ name: 'http', port: 80 }]));
}

describe('cluster DNS: malformed messages', () => {
  const { server } = newServer();

  it('drops messages shorter than a header, and responses', async () => {
    assert.equal(await reply(server, Buffer.alloc(0)), undefined);
    assert.equal(await reply(server, Buffer.from([1, 2, 3, 4, 5])), undefined);
    const resp = query('svc1.testns.svc.cluster.local', 'A');
    resp.writeUInt16BE(resp.readUInt16BE(2) | 0x8000, 2);
    assert.equal(await reply(server, resp), undefined);
  });

  it('answers NOTIMP to opcodes other than QUERY, FORMERR to wrong section counts, with the ID echoed', async () => {
    const update = await decoded(server, Buffer.concat([header(9, 5 << 11, 1), question(labels('svc1.testns.svc.cluster.local'))]));
    assert.equal(rcodeOf(update), 'NOTIMP');
    assert.equal(update.id, 9);
    for (const [qd, an, ns, ar] of [[0, 0, 0, 0], [2, 0, 0, 0], [1, 2, 0, 0], [1, 0, 2, 0], [1, 0, 0, 3]] as const) {
      const p = await decoded(server, Buffer.concat([header(10, 0x0100, qd, an, ns, ar), question(labels('svc1.testns.svc.cluster.local'))]));
      assert.equal(rcodeOf(p), 'FORMERR', `counts ${qd} ${an} ${ns} ${ar}`);
      assert.equal(p.id, 10);
      assert.equal(p.flag_rd, true);
      assert.equal(p.questions?.length, 0);
    }
  });

  it('answers FORMERR to a question cut short, compression loops and pointers forward', async () => {
    const cases: Array<[string, Buffer]> = [
      ['header only', header(1, 0, 1)],
      ['name without its end', Buffer.concat([header(1, 0, 1), Buffer.from([3, 0x61, 0x62])])],
      ['no type and class', Buffer.concat([header(1, 0, 1), Buffer.from(labels('a.b'))])],
      ['pointer to itself', Buffer.concat([header(1, 0, 1), question([0xc0, 12])])],
      ['pointer forward', Buffer.concat([header(1, 0, 1), question([0xc0, 20]), Buffer.from(labels('a'))])],
      ['pointer into the header', Buffer.concat([header(1, 0, 1), question([0xc0, 2])])],
      ['reserved label type', Buffer.concat([header(1, 0, 1), question([0x40, 0x61, 0])])],
    ];
    for (const [what, msg] of cases) assert.equal(rcodeOf(await decoded(server, msg)), 'FORMERR', what);
  });

  it('decodes a message of 8,000 chained compression pointers in bounded time', async () => {
    // An answer record whose name jumps back 2 bytes at a time through 8,000 pointers (offsets have 14 bits) to the
    // question's name: legal, and decoded in time linear in the message.
    const q = question(labels('svc1.testns.svc.cluster.local'));
    const chainStart = 12 + q.length;
    const hops = 8000;
    const chain = Buffer.alloc(hops * 2);
    chain.writeUInt16BE(0xc000 | 12, 0);
    for (let i = 1; i < hops; i++) chain.writeUInt16BE(0xc000 | (chainStart + (i - 1) * 2), i * 2);
    const rr = Buffer.from([0xc0 | ((chainStart + (hops - 1) * 2) >> 8), (chainStart + (hops - 1) * 2) & 0xff, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]);
    const msg = Buffer.concat([header(3, 0x0100, 1, 1), q, chain, rr]);
    const t0 = performance.now();
    const p = await decoded(server, msg, 'tcp');
    assert.ok(performance.now() - t0 < 500, 'bounded decode');
    assert.equal(rcodeOf(p), 'NOERROR');
    assert.equal((p.answers?.[0] as { data?: unknown } | undefined)?.data, '10.0.0.1');
  });

  it('answers FORMERR to names over 255 bytes, and to labels that would not encode back (dots, bytes not UTF-8)', async () => {
    const long = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.') + '.cluster.local';
    assert.equal(rcodeOf(await decoded(server, Buffer.concat([header(1, 0, 1), question(labels(long))]))), 'FORMERR');
    const dotted = [3, 0x61, 0x2e, 0x62, ...labels('testns.svc.cluster.local')];
    assert.equal(rcodeOf(await decoded(server, Buffer.concat([header(1, 0, 1), question(dotted)]))), 'FORMERR');
    const binary = [2, 0xff, 0xfe, ...labels('testns.svc.cluster.local')];
    assert.equal(rcodeOf(await decoded(server, Buffer.concat([header(1, 0, 1), question(binary)]))), 'FORMERR');
    const big = await decoded(server, query('x'.repeat(63) + '.svc1.testns.svc.cluster.local', 'A'));
    assert.equal(rcodeOf(big), 'NXDOMAIN', 'a 63-byte label is fine');
  });

  it('answers NOTIMP to unknown classes, BADVERS to EDNS versions past 0, FORMERR to two OPT records', async () => {
    const q = Buffer.concat([header(1, 0, 1), Buffer.from(labels('svc1.testns.svc.cluster.local')), Buffer.from([0, 1, 0, 7])]);
    assert.equal(rcodeOf(await decoded(server, q)), 'NOTIMP');
    const opt = (version: number): Buffer => Buffer.from([0, 0, 41, 4, 0, 0, version, 0, 0, 0, 0]);
    const base = Buffer.concat([question(labels('svc1.testns.svc.cluster.local'))]);
    const v1 = await decoded(server, Buffer.concat([header(2, 0, 1, 0, 0, 1), base, opt(1)]));
    const o = v1.additionals?.find((a) => a.type === 'OPT');
    assert.ok(o && o.type === 'OPT');
    assert.equal(o.extendedRcode, 1, 'BADVERS is extended rcode 16');
    assert.equal(v1.answers?.length, 0);
    const two = await decoded(server, Buffer.concat([header(3, 0, 1, 0, 0, 2), base, opt(0), opt(0)]));
    assert.equal(rcodeOf(two), 'FORMERR');
  });

  it('answers every mutation of valid queries with nothing or a well-formed reply (seeded fuzz)', async () => {
    let seed = Number(process.env.DNS_FUZZ_SEED ?? 20240611);
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const bases = [query('svc1.testns.svc.cluster.local', 'A', { edns: 1232 }), query('_http._tcp.hdls1.testns.svc.cluster.local', 'SRV'), query('1.0.0.10.in-addr.arpa', 'PTR')];
    for (let i = 0; i < 3000; i++) {
      const msg = Buffer.from(bases[rand(bases.length)]!);
      const mutations = 1 + rand(4);
      let m: Buffer = msg;
      for (let j = 0; j < mutations; j++) {
        const kind = rand(3);
        if (kind === 0) m[rand(m.length)] = rand(256);
        else if (kind === 1) m = m.subarray(0, rand(m.length + 1));
        else m = Buffer.concat([m, Buffer.from(Array.from({ length: rand(40) }, () => rand(256)))]);
      }
      const out = await reply(server, m);
      if (!out) continue;
      assert.ok(out.length <= 4096, 'a UDP reply within 4096 bytes');
      const p = dnsPacket.decode(out);
      assert.equal(p.id, m.readUInt16BE(0), 'the ID echoed');
      assert.equal(p.flag_qr, true);
    }
    assert.equal(rcodeOf(await decoded(server, query('svc1.testns.svc.cluster.local', 'A'))), 'NOERROR');
  });
});

describe('cluster DNS: sizes and truncation', () => {
  const { server, sources } = newServer();
  bigService(sources, 80);
  sources.services.set(service('testns', 'mid', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80 }] }));
  sources.endpointSlices.set(slice('testns', 'mid', 'mid-a', Array.from({ length: 35 }, (_, i) => ({ ip: `10.44.0.${i}` })), [{ name: 'http', port: 80 }]));

  it('truncates a UDP answer to 512 bytes with TC, honours the EDNS0 buffer, sends everything over TCP', async () => {
    const plain = await reply(server, query('big.testns.svc.cluster.local', 'A'));
    assert.ok(plain && plain.length <= 512);
    const p = dnsPacket.decode(plain);
    assert.equal(p.flag_tc, true);
    assert.ok((p.answers?.length ?? 0) > 0 && (p.answers?.length ?? 0) < 80);
    const small = dnsPacket.decode((await reply(server, query('big.testns.svc.cluster.local', 'A', { edns: 100 })))!);
    assert.equal(small.answers?.length, p.answers?.length, 'an EDNS0 size under 512 counts as 512');
    const edns = await reply(server, query('big.testns.svc.cluster.local', 'A', { edns: 4096 }));
    assert.ok(edns && edns.length <= 4096 && edns.length > 512);
    const e = dnsPacket.decode(edns);
    assert.equal(e.flag_tc, false);
    assert.equal(e.answers?.length, 80);
    assert.equal(e.additionals?.find((a) => a.type === 'OPT')?.type, 'OPT', 'OPT kept in the reply');
    const tcp = dnsPacket.decode((await reply(server, query('_http._tcp.big.testns.svc.cluster.local', 'SRV'), 'tcp'))!);
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 80);
    assert.equal(tcp.additionals?.length, 80);
  });

  it('drops additional records first: an SRV answer that fits without them is cut with TC', async () => {
    const p = dnsPacket.decode((await reply(server, query('_http._tcp.mid.testns.svc.cluster.local', 'SRV', { edns: 4096 })))!);
    assert.equal(p.answers?.length, 35);
    assert.equal(p.flag_tc, true);
    const extra = p.additionals?.filter((a) => a.type !== 'OPT').length ?? 0;
    assert.ok(extra > 0 && extra < 35, `${extra} additional records`);
  });
});

describe('cluster DNS: sockets', () => {
  const { server } = newServer();
  let port = 0;
  before(async () => {
    port = (await server.start()).port;
  });
  after(() => server.stop());

  it('answers over UDP and TCP on the same port', async () => {
    const u = dnsPacket.decode(await udpExchange('127.0.0.1', port, query('svc1.testns.svc.cluster.local', 'A', { id: 11 })));
    assert.equal(u.id, 11);
    assert.equal((u.answers?.[0] as { data?: unknown } | undefined)?.data, '10.0.0.1');
    const t = await tcpExchange('127.0.0.1', port, [framed(query('svc1.testns.svc.cluster.local', 'A', { id: 12 }))], 1);
    assert.equal(dnsPacket.decode(t.messages[0]!).id, 12);
  });

  it('answers pipelined TCP queries in one write, and a query split byte by byte', async () => {
    const both = Buffer.concat([framed(query('svc1.testns.svc.cluster.local', 'A', { id: 21 })), framed(query('hdls1.testns.svc.cluster.local', 'A', { id: 22 }))]);
    const r = await tcpExchange('127.0.0.1', port, [both], 2);
    assert.deepEqual(r.messages.map((m) => dnsPacket.decode(m).id).sort(), [21, 22]);
    const one = framed(query('svc1.testns.svc.cluster.local', 'A', { id: 23 }));
    const split = await tcpExchange('127.0.0.1', port, [...one].map((b) => Buffer.from([b])), 1);
    assert.equal(dnsPacket.decode(split.messages[0]!).id, 23);
  });

  it('fails to start on a port that is taken, and leaves nothing bound', async () => {
    const other = new ClusterDnsServer({ sources: fixtureSources(), address: '127.0.0.1', port, upstreams: [] });
    await assert.rejects(other.start(), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
    await other.stop();
    assert.equal(dnsPacket.decode(await udpExchange('127.0.0.1', port, query('svc1.testns.svc.cluster.local', 'A', { id: 13 }))).id, 13);
  });

  it('accepts at most maxTcpConnections connections at once', async () => {
    const limited = new ClusterDnsServer({ sources: fixtureSources(), address: '127.0.0.1', port: 0, upstreams: [], maxTcpConnections: 4 });
    const lport = (await limited.start()).port;
    const socks: Socket[] = [];
    try {
      const closed: number[] = [];
      for (let i = 0; i < 6; i++) {
        const s = connect({ host: '127.0.0.1', port: lport });
        s.on('error', () => undefined); // the server hangs up on the ones past the limit
        s.on('close', () => closed.push(i));
        await new Promise((resolve) => s.once('connect', resolve));
        socks.push(s);
      }
      await waitFor(() => closed.length >= 2, { what: 'the connections past the limit closed' });
      assert.deepEqual(closed.sort(), [4, 5]);
      // The four within the limit are served.
      for (const [i, s] of socks.slice(0, 4).entries()) {
        const got = new Promise<Buffer>((resolve) => s.once('data', resolve));
        s.write(framed(query('svc1.testns.svc.cluster.local', 'A', { id: 100 + i })));
        assert.equal(dnsPacket.decode((await got).subarray(2)).id, 100 + i);
      }
    } finally {
      for (const s of socks) s.destroy();
      await limited.stop();
    }
  });

  it('closes a TCP connection that sends a frame too short for a header, and one left idle', async () => {
    const bad = await tcpExchange('127.0.0.1', port, [Buffer.from([0, 3, 1, 2, 3])], 1);
    assert.equal(bad.closed, true);
    assert.equal(bad.messages.length, 0);
    const zero = await tcpExchange('127.0.0.1', port, [Buffer.from([0, 0])], 1);
    assert.equal(zero.closed, true);
    const t0 = Date.now();
    const idle = await tcpExchange('127.0.0.1', port, [Buffer.alloc(0)], 1, 5000);
    assert.equal(idle.closed, true);
    assert.ok(Date.now() - t0 < 4000, 'closed by the idle timeout');
  });
});
