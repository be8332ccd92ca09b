// The cluster DNS's answers, question by question, against CoreDNS's kubernetes-plugin behaviour (its handler tests'
// cases in ketch's fixtures), and the hostile-input paths of the message layer.
import assert from 'node:assert/strict';
import dnsPacket, { type DecodedPacket, type RecordType } from 'dns-packet';
import { FakeClock } from '../../lib/clock.js';
import { ClusterDnsServer, type ClusterDnsOptions, type Transport } from './server.js';
import { fixtureSources, query, rcodeOf, rr, service, slice, type QueryOptions } from './testing/fixtures.js';

const SOA = 'cluster.local 5 IN SOA ns.dns.cluster.local hostmaster.cluster.local 7200 1800 86400 5';

function newServer(opts: Partial<ClusterDnsOptions> = {}, synced = true): { server: ClusterDnsServer; sources: ReturnType<typeof fixtureSources> } {
  const sources = fixtureSources(synced);
  const server = new ClusterDnsServer({ sources, address: '127.0.0.1', port: 0, upstreams: [], clock: new FakeClock(1_700_000_000_000), ...opts });
  return { server, sources };
}

async function ask(server: ClusterDnsServer, msg: Buffer, transport: Transport = 'udp'): Promise<DecodedPacket | undefined> {
  const out = await server.handle(msg, transport);
  return out ? dnsPacket.decode(out) : undefined;
}

interface Expect {
  rcode?: string;
  answer?: string[];
  ns?: string[];
  extra?: string[];
}

async function check(server: ClusterDnsServer, name: string, type: RecordType | `UNKNOWN_${number}`, want: Expect, opts: QueryOptions = {}): Promise<DecodedPacket> {
  // EDNS0 with dig's default buffer, so that no answer here is truncated.
  const p = await ask(server, query(name, type, { edns: 1232, ...opts }));
  assert.ok(p, `${name} ${type}: no reply`);
  const where = `${name} ${type}`;
  assert.equal(rcodeOf(p), want.rcode ?? 'NOERROR', where);
  assert.deepEqual((p.answers ?? []).map(rr).sort(), (want.answer ?? []).slice().sort(), `${where}: answer`);
  assert.deepEqual((p.authorities ?? []).map(rr).sort(), (want.ns ?? []).slice().sort(), `${where}: authority`);
  const extra = (p.additionals ?? []).filter((a) => a.type !== 'OPT').map(rr);
  assert.deepEqual(extra.sort(), (want.extra ?? []).slice().sort(), `${where}: additional`);
  return p;
}

describe('cluster DNS answers', () => {
  const { server, sources } = newServer();

  it('answers a service A record, authoritative, TTL 5, question and ID echoed', async () => {
    const p = await check(server, 'svc1.testns.svc.cluster.local', 'A', { answer: ['svc1.testns.svc.cluster.local 5 IN A 10.0.0.1'] }, { id: 777 });
    assert.equal(p.id, 777);
    assert.equal(p.flag_aa, true);
    assert.equal(p.flag_qr, true);
    assert.equal(p.flag_rd, true);
    assert.equal(p.flag_ra, true);
    assert.deepEqual(p.questions, [{ name: 'svc1.testns.svc.cluster.local', type: 'A', class: 'IN' }]);
    await check(server, 'svcempty.testns.svc.cluster.local', 'A', { answer: ['svcempty.testns.svc.cluster.local 5 IN A 10.0.0.2'] });
  });

  it('answers AAAA with NOERROR and no data for an IPv4-only service, and AAAA for an IPv6 one', async () => {
    await check(server, 'svc1.testns.svc.cluster.local', 'AAAA', { ns: [SOA] });
    await check(server, 'svc6.testns.svc.cluster.local', 'AAAA', { answer: ['svc6.testns.svc.cluster.local 5 IN AAAA 1234:abcd::1'] });
    await check(server, 'svc6.testns.svc.cluster.local', 'A', { ns: [SOA] });
  });

  it('answers NXDOMAIN with the SOA for names that do not exist in the cluster domain', async () => {
    for (const name of ['svc0.testns.svc.cluster.local', 'svc1.nonexistent.svc.cluster.local', 'bogusendpoint.hdls1.testns.svc.cluster.local', 'bogusendpoint.svc0.testns.svc.cluster.local', 'foo.cluster.local', 'a.b.c.svc1.testns.svc.cluster.local', 'endpoint.external.testns.svc.cluster.local']) {
      await check(server, name, 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    }
    await check(server, 'svc0.testns.svc.cluster.local', 'AAAA', { rcode: 'NXDOMAIN', ns: [SOA] });
  });

  it('answers NODATA for the apex, svc, pod and namespace names', async () => {
    for (const name of ['cluster.local', 'svc.cluster.local', 'pod.cluster.local', 'testns.svc.cluster.local']) await check(server, name, 'A', { ns: [SOA] });
  });

  it('answers SRV for a service and its named ports, with the address in the additional section', async () => {
    const srv = (owner: string): string => `${owner} 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local`;
    await check(server, 'svc1.testns.svc.cluster.local', 'SRV', { answer: [srv('svc1.testns.svc.cluster.local')], extra: ['svc1.testns.svc.cluster.local 5 IN A 10.0.0.1'] });
    await check(server, '_http._tcp.svc1.testns.svc.cluster.local', 'SRV', { answer: [srv('_http._tcp.svc1.testns.svc.cluster.local')], extra: ['svc1.testns.svc.cluster.local 5 IN A 10.0.0.1'] });
    await check(server, '_dns._udp.dns.testns.svc.cluster.local', 'SRV', {
      answer: ['_dns._udp.dns.testns.svc.cluster.local 5 IN SRV 0 100 53 dns.testns.svc.cluster.local'],
      extra: ['dns.testns.svc.cluster.local 5 IN A 10.0.0.3'],
    });
    await check(server, 'dns.testns.svc.cluster.local', 'SRV', {
      answer: ['dns.testns.svc.cluster.local 5 IN SRV 0 50 53 dns.testns.svc.cluster.local'],
      extra: ['dns.testns.svc.cluster.local 5 IN A 10.0.0.3'],
    });
    await check(server, '_https._tcp.svc1.testns.svc.cluster.local', 'SRV', { rcode: 'NXDOMAIN', ns: [SOA] });
    await check(server, '_http._udp.svc1.testns.svc.cluster.local', 'SRV', { rcode: 'NXDOMAIN', ns: [SOA] });
    // A name with a port and protocol still has the service's address.
    await check(server, '_http._tcp.svc1.testns.svc.cluster.local', 'A', { answer: ['_http._tcp.svc1.testns.svc.cluster.local 5 IN A 10.0.0.1'] });
  });

  it('answers a headless service with one A record per ready endpoint, across slices', async () => {
    const a = (ip: string): string => `hdls1.testns.svc.cluster.local 5 IN A ${ip}`;
    await check(server, 'hdls1.testns.svc.cluster.local', 'A', { answer: ['172.0.0.2', '172.0.0.3', '172.0.0.4', '172.0.0.5'].map(a) });
    await check(server, 'hdlsprtls.testns.svc.cluster.local', 'A', { answer: ['hdlsprtls.testns.svc.cluster.local 5 IN A 172.0.0.20'] });
    // publishNotReadyAddresses publishes the endpoint that is not ready.
    await check(server, 'pub.testns.svc.cluster.local', 'A', { answer: ['pub.testns.svc.cluster.local 5 IN A 10.42.0.7', 'pub.testns.svc.cluster.local 5 IN A 10.42.0.8'] });
  });

  it('answers the per-endpoint SRV records of a headless service, weights split evenly', async () => {
    const owner = '_http._tcp.hdls1.testns.svc.cluster.local';
    const srv = (target: string): string => `${owner} 5 IN SRV 0 25 80 ${target}.hdls1.testns.svc.cluster.local`;
    await check(server, owner, 'SRV', {
      answer: [srv('172-0-0-2'), srv('172-0-0-3'), srv('dup-name')],
      extra: [
        '172-0-0-2.hdls1.testns.svc.cluster.local 5 IN A 172.0.0.2',
        '172-0-0-3.hdls1.testns.svc.cluster.local 5 IN A 172.0.0.3',
        'dup-name.hdls1.testns.svc.cluster.local 5 IN A 172.0.0.4',
        'dup-name.hdls1.testns.svc.cluster.local 5 IN A 172.0.0.5',
      ],
    });
    // No ports: no SRV record (CoreDNS's -1 sentinel).
    await check(server, 'hdlsprtls.testns.svc.cluster.local', 'SRV', { ns: [SOA] });
  });

  it('answers endpoint names: hostname/subdomain pods (StatefulSets), dashed IPs, shared hostnames', async () => {
    await check(server, 'web-0.web.testns.svc.cluster.local', 'A', { answer: ['web-0.web.testns.svc.cluster.local 5 IN A 10.42.0.5'] });
    await check(server, 'web-1.web.testns.svc.cluster.local', 'A', { answer: ['web-1.web.testns.svc.cluster.local 5 IN A 10.42.1.6'] });
    await check(server, '172-0-0-2.hdls1.testns.svc.cluster.local', 'A', { answer: ['172-0-0-2.hdls1.testns.svc.cluster.local 5 IN A 172.0.0.2'] });
    await check(server, '172-0-0-20.hdlsprtls.testns.svc.cluster.local', 'A', { answer: ['172-0-0-20.hdlsprtls.testns.svc.cluster.local 5 IN A 172.0.0.20'] });
    await check(server, 'dup-name.hdls1.testns.svc.cluster.local', 'A', { answer: ['dup-name.hdls1.testns.svc.cluster.local 5 IN A 172.0.0.4', 'dup-name.hdls1.testns.svc.cluster.local 5 IN A 172.0.0.5'] });
    // An endpoint of a ClusterIP service is reachable by name too; one that is not ready is not.
    await check(server, 'ep1a.svc1.testns.svc.cluster.local', 'A', { answer: ['ep1a.svc1.testns.svc.cluster.local 5 IN A 172.0.0.1'] });
    await check(server, '172-0-0-9.hdls1.testns.svc.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
  });

  it('answers an ExternalName service with a CNAME, followed inside the cluster domain', async () => {
    await check(server, 'external.testns.svc.cluster.local', 'CNAME', { answer: ['external.testns.svc.cluster.local 5 IN CNAME ext.interwebs.test'] });
    await check(server, 'external-to-service.testns.svc.cluster.local', 'A', {
      answer: ['external-to-service.testns.svc.cluster.local 5 IN CNAME svc1.testns.svc.cluster.local', 'svc1.testns.svc.cluster.local 5 IN A 10.0.0.1'],
    });
    // SRV is not built for ExternalName services; an IP as externalName is no alias.
    await check(server, 'external.testns.svc.cluster.local', 'SRV', { ns: [SOA] });
    await check(server, 'external-ip.testns.svc.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    // No upstream to follow ext.interwebs.test: the CNAME alone.
    await check(server, 'external.testns.svc.cluster.local', 'A', { answer: ['external.testns.svc.cluster.local 5 IN CNAME ext.interwebs.test'] });
  });

  it('answers PTR for service, endpoint and pod IPs, and forwards the rest', async () => {
    await check(server, '1.0.0.10.in-addr.arpa', 'PTR', { answer: ['1.0.0.10.in-addr.arpa 5 IN PTR svc1.testns.svc.cluster.local'] });
    await check(server, '2.0.0.172.in-addr.arpa', 'PTR', { answer: ['2.0.0.172.in-addr.arpa 5 IN PTR 172-0-0-2.hdls1.testns.svc.cluster.local'] });
    await check(server, '5.0.42.10.in-addr.arpa', 'PTR', { answer: ['5.0.42.10.in-addr.arpa 5 IN PTR web-0.web.testns.svc.cluster.local'] });
    await check(server, '1.0.240.10.in-addr.arpa', 'PTR', { answer: ['1.0.240.10.in-addr.arpa 5 IN PTR 10-240-0-1.podns.pod.cluster.local'] });
    await check(server, '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa', 'PTR', {
      answer: ['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa 5 IN PTR svc6.testns.svc.cluster.local'],
    });
    // Not a service, endpoint or pod (the host-network pod names its node): forwarded; with no upstream, REFUSED here.
    await check(server, '5.5.168.192.in-addr.arpa', 'PTR', { rcode: 'REFUSED' });
    await check(server, '9.0.0.172.in-addr.arpa', 'PTR', { rcode: 'REFUSED' });
    await check(server, 'svc1.testns.svc.cluster.local', 'PTR', { ns: [SOA] });
  });

  it('answers pod A records a-b-c-d.NS.pod (pods insecure) in existing namespaces', async () => {
    await check(server, '10-240-0-1.podns.pod.cluster.local', 'A', { answer: ['10-240-0-1.podns.pod.cluster.local 5 IN A 10.240.0.1'] });
    await check(server, '172-0-0-2.podns.pod.cluster.local', 'A', { answer: ['172-0-0-2.podns.pod.cluster.local 5 IN A 172.0.0.2'] });
    await check(server, 'blah.podns.pod.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    await check(server, '10-240-0-1.pod-nons.pod.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    await check(server, 'podns.pod.cluster.local', 'A', { ns: [SOA] });
    await check(server, '1234-abcd--1.podns.pod.cluster.local', 'AAAA', { answer: ['1234-abcd--1.podns.pod.cluster.local 5 IN AAAA 1234:abcd::1'] });
    // Not an address (a zone index, too many groups): a name error, not a failure.
    await check(server, 'fe80--1%eth0.podns.pod.cluster.local', 'AAAA', { rcode: 'NXDOMAIN', ns: [SOA] });
    await check(server, '1-2-3-4-5.podns.pod.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
  });

  it('meets reverse names and stored addresses in one form, whatever form the objects use', async () => {
    sources.services.set(service('testns', 'v6long', { clusterIP: '2001:DB8:0:0:0:0:0:A', clusterIPs: ['2001:DB8:0:0:0:0:0:A'], ports: [{ port: 80 }] }));
    await check(server, 'a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', 'PTR', {
      answer: ['a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa 5 IN PTR v6long.testns.svc.cluster.local'],
    });
    await check(server, 'v6long.testns.svc.cluster.local', 'AAAA', { answer: ['v6long.testns.svc.cluster.local 5 IN AAAA 2001:db8::a'] });
    sources.services.delete(service('testns', 'v6long', {}));
  });

  it('answers the apex SOA and NS, ns.dns and dns-version', async () => {
    await check(server, 'cluster.local', 'SOA', { answer: [SOA] });
    await check(server, 'cluster.local', 'NS', { answer: ['cluster.local 5 IN NS ns.dns.cluster.local'], extra: ['ns.dns.cluster.local 5 IN A 10.96.0.10'] });
    await check(server, 'ns.dns.cluster.local', 'A', { answer: ['ns.dns.cluster.local 5 IN A 10.96.0.10'] });
    await check(server, 'dns-version.cluster.local', 'TXT', { answer: ['dns-version.cluster.local 28800 IN TXT 1.1.0'] });
    await check(server, 'svc1.testns.svc.cluster.local', 'TXT', { ns: [SOA] });
    await check(server, 'svc1.testns.svc.cluster.local', 'SOA', { ns: [SOA] });
    await check(server, 'svc.cluster.local', 'NS', { ns: [SOA] });
    await check(server, 'foo.svc.cluster.local', 'NS', { rcode: 'NXDOMAIN', ns: [SOA] });
  });

  it('answers other and unknown types with NODATA or NXDOMAIN, and refuses zone transfers', async () => {
    await check(server, 'svc1.testns.svc.cluster.local', 'HINFO', { ns: [SOA] });
    await check(server, 'svc1.testns.svc.cluster.local', 'MX', { ns: [SOA] });
    await check(server, 'svc1.testns.svc.cluster.local', 'UNKNOWN_65280', { ns: [SOA] });
    await check(server, 'nope.testns.svc.cluster.local', 'UNKNOWN_65280', { rcode: 'NXDOMAIN', ns: [SOA] });
    await check(server, 'cluster.local', 'AXFR', { rcode: 'REFUSED' });
  });

  it('matches names case-insensitively and answers with the name as asked', async () => {
    await check(server, 'SVC1.TestNS.svc.Cluster.Local', 'A', { answer: ['SVC1.TestNS.svc.Cluster.Local 5 IN A 10.0.0.1'] });
    await check(server, 'Nope.TestNS.svc.Cluster.Local', 'A', { rcode: 'NXDOMAIN', ns: [SOA.replace(/^cluster\.local/, 'Cluster.Local')] });
  });

  it('follows changes: a new service, an endpoint going not ready, a deleted service', async () => {
    sources.services.set(service('testns', 'late', { clusterIP: '10.0.0.9', clusterIPs: ['10.0.0.9'], ports: [{ port: 80 }] }));
    await check(server, 'late.testns.svc.cluster.local', 'A', { answer: ['late.testns.svc.cluster.local 5 IN A 10.0.0.9'] });
    sources.endpointSlices.set(slice('testns', 'web', 'web-a', [{ ip: '10.42.0.5', hostname: 'web-0', ready: false }, { ip: '10.42.1.6', hostname: 'web-1' }], [{ name: 'http', port: 80 }]));
    await check(server, 'web.testns.svc.cluster.local', 'A', { answer: ['web.testns.svc.cluster.local 5 IN A 10.42.1.6'] });
    await check(server, 'web-0.web.testns.svc.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    sources.services.delete(service('testns', 'late', {}));
    await check(server, 'late.testns.svc.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    await check(server, '9.0.0.10.in-addr.arpa', 'PTR', { rcode: 'REFUSED' });
  });
});

describe('cluster DNS answer cache', () => {
  it('answers a repeated query from memory with its own ID, and forgets on any change', async () => {
    const { server, sources } = newServer();
    const a = async (id: number): Promise<DecodedPacket> => (await ask(server, query('svc1.testns.svc.cluster.local', 'A', { id })))!;
    assert.equal((await a(1)).answers?.length, 1);
    const again = await a(2);
    assert.equal(again.id, 2);
    assert.equal((again.answers?.[0] as { data?: unknown } | undefined)?.data, '10.0.0.1');
    sources.services.set(service('testns', 'svc1', { clusterIP: '10.0.0.77', clusterIPs: ['10.0.0.77'], ports: [{ name: 'http', port: 80 }] }));
    assert.equal(((await a(3)).answers?.[0] as { data?: unknown } | undefined)?.data, '10.0.0.77');
    sources.namespaces.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'testns' } });
    assert.equal(rcodeOf((await a(4))), 'NXDOMAIN', 'a namespace change counts too');
  });

  it('keeps at most answerCacheSize replies, and none with a size of 0', async () => {
    const { server } = newServer({ answerCacheSize: 0 });
    for (let i = 0; i < 3; i++) assert.equal(rcodeOf((await ask(server, query('svc1.testns.svc.cluster.local', 'A', { id: i })))!), 'NOERROR');
    const small = newServer({ answerCacheSize: 2 }).server;
    for (let i = 0; i < 20; i++) assert.equal(rcodeOf((await ask(small, query(`n${i}.testns.svc.cluster.local`, 'A')))!), 'NXDOMAIN');
    assert.ok(small.cachedAnswers <= 2);
    assert.equal(server.cachedAnswers, 0);
  });
});

describe('cluster DNS options', () => {
  it('answers SERVFAIL instead of NXDOMAIN before the informers have synced', async () => {
    const { server } = newServer({}, false);
    await check(server, 'svc0.testns.svc.cluster.local', 'A', { rcode: 'SERVFAIL', ns: [SOA] });
  });

  it('answers pod names only for pods that exist with pods verified, none with pods disabled', async () => {
    const verified = newServer({ podMode: 'verified' }).server;
    await check(verified, '10-240-0-1.podns.pod.cluster.local', 'A', { answer: ['10-240-0-1.podns.pod.cluster.local 5 IN A 10.240.0.1'] });
    await check(verified, '10-240-0-2.podns.pod.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    await check(verified, '10-240-0-1.testns.pod.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
    const disabled = newServer({ podMode: 'disabled' }).server;
    await check(disabled, '10-240-0-1.podns.pod.cluster.local', 'A', { rcode: 'NXDOMAIN', ns: [SOA] });
  });

  it('serves another cluster domain and TTL', async () => {
    const { server } = newServer({ clusterDomain: 'k8s.example', ttl: 30 });
    await check(server, 'svc1.testns.svc.k8s.example', 'A', { answer: ['svc1.testns.svc.k8s.example 30 IN A 10.0.0.1'] });
    await check(server, 'svc1.testns.svc.cluster.local', 'A', { rcode: 'REFUSED' });
  });
});
