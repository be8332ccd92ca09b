// resolv.conf parsing and pods' DNS configuration, against the kubelet's own cases (pkg/kubelet/network/dns/dns_test.go).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../../api/index.js';
import { formatResolvConf, parseResolvConf, podDnsConfig, readHostResolvConf, upstreamsFrom, type ResolvConf } from './resolv-conf.js';

describe('resolv.conf parsing (kubelet parseResolvConf)', () => {
  const cases: Array<[string, string[], string[], string[]]> = [
    ['', [], [], []],
    [' ', [], [], []],
    ['\t\n\t', [], [], []],
    ['#comment\n', [], [], []],
    [' #comment\n', [], [], []],
    ['#comment\nnameserver 1.2.3.4\nsearch', ['1.2.3.4'], [], []],
    ['nameserver 1.2.3.4', ['1.2.3.4'], [], []],
    ['\tnameserver 1.2.3.4', ['1.2.3.4'], [], []],
    ['nameserver \t 1.2.3.4', ['1.2.3.4'], [], []],
    ['nameserver 1.2.3.4\nnameserver 5.6.7.8', ['1.2.3.4', '5.6.7.8'], [], []],
    ['nameserver 1.2.3.4 #comment', ['1.2.3.4'], [], []],
    ['search foo bar bat\n', [], ['foo', 'bar', 'bat'], []],
    ['search foo\nsearch bar', [], ['bar'], []],
    ['search foo. bar.', [], ['foo', 'bar'], []],
    ['nameserver 1.2.3.4\nsearch foo\nnameserver 5.6.7.8\nsearch bar', ['1.2.3.4', '5.6.7.8'], ['bar'], []],
    ['options ndots:5 attempts:2', [], [], ['ndots:5', 'attempts:2']],
    ['options ndots:1\noptions ndots:5 attempts:3', [], [], ['ndots:5', 'attempts:3']],
  ];
  for (const [text, nameservers, searches, options] of cases) {
    it(`reads ${JSON.stringify(text)}`, () => assert.deepEqual(parseResolvConf(text), { nameservers, searches, options }));
  }

  it('writes search, nameservers and options as containerd does', () => {
    assert.equal(formatResolvConf({ nameservers: ['10.96.0.10', '10.0.0.11'], searches: ['a.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] }), 'search a.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver 10.0.0.11\noptions ndots:5\n');
    assert.equal(formatResolvConf({ nameservers: [], searches: [], options: [] }), '');
  });
});

describe("the node's upstream resolvers", () => {
  let dir = '';
  before(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-resolv-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("skips systemd-resolved's 127.0.0.53 stub for its list of real upstreams", async () => {
    writeFileSync(join(dir, 'stub'), 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n');
    writeFileSync(join(dir, 'real'), 'nameserver 192.0.2.53\nnameserver 198.51.100.53\nsearch corp.example\n');
    const conf = await readHostResolvConf(join(dir, 'stub'), join(dir, 'real'));
    assert.deepEqual(conf.nameservers, ['192.0.2.53', '198.51.100.53']);
    const stubOnly = await readHostResolvConf(join(dir, 'stub'), join(dir, 'missing'));
    assert.deepEqual(stubOnly.nameservers, ['127.0.0.53']);
    writeFileSync(join(dir, 'plain'), 'nameserver 10.255.255.53\n');
    assert.deepEqual((await readHostResolvConf(join(dir, 'plain'), join(dir, 'real'))).nameservers, ['10.255.255.53']);
  });

  it('forwards to nameservers on port 53, never to loopback stubs or to itself', () => {
    const conf: ResolvConf = { nameservers: ['127.0.0.53', '::1', '192.0.2.53', 'fe80::1%eth0', 'not-an-ip', '10.0.0.5'], searches: [], options: [] };
    assert.deepEqual(upstreamsFrom(conf, [{ host: '10.0.0.5', port: 53 }]), [
      { host: '192.0.2.53', port: 53 },
      { host: 'fe80::1', port: 53 },
    ]);
  });
});

function pod(ns: string, spec: Partial<Pod['spec']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'test_pod', namespace: ns }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } };
}

describe("pods' resolv.conf (kubelet GetPodDNS)", () => {
  const host: ResolvConf = { nameservers: ['8.8.8.8'], searches: ['host.domain'], options: [] };
  const opts = { clusterDNS: ['10.0.0.10'], clusterDomain: 'kubernetes.io', host };
  const dnsConfig = { nameservers: ['10.0.0.11'], searches: ['my.domain'], options: [{ name: 'ndots', value: '3' }, { name: 'debug' }] };
  const clusterSearch = ['testNS.svc.kubernetes.io', 'svc.kubernetes.io', 'kubernetes.io', 'host.domain'];

  it('ClusterFirst: the cluster DNS alone, the cluster search list before the host one, ndots:5', () => {
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'ClusterFirst' }), opts), { conf: { nameservers: ['10.0.0.10'], searches: clusterSearch, options: ['ndots:5'] }, warnings: [] });
    const text = formatResolvConf(podDnsConfig(pod('web', {}), { ...opts, clusterDomain: 'cluster.local', clusterDNS: ['10.96.0.10'] }).conf);
    assert.equal(text, 'search web.svc.cluster.local svc.cluster.local cluster.local host.domain\nnameserver 10.96.0.10\noptions ndots:5\n');
  });

  it('None, ClusterFirst, ClusterFirstWithHostNet and Default merged with dnsConfig', () => {
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'None' }), opts).conf, { nameservers: [], searches: [], options: [] });
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'None', dnsConfig: { nameservers: ['203.0.113.1'], searches: ['my.domain', 'second.domain'], options: dnsConfig.options } }), opts).conf, {
      nameservers: ['203.0.113.1'],
      searches: ['my.domain', 'second.domain'],
      options: ['ndots:3', 'debug'],
    });
    const cluster = { nameservers: ['10.0.0.10', '10.0.0.11'], searches: [...clusterSearch, 'my.domain'], options: ['ndots:3', 'debug'] };
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'ClusterFirst', dnsConfig }), opts).conf, cluster);
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true, dnsConfig }), opts).conf, cluster);
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'Default', dnsConfig }), opts).conf, { nameservers: ['8.8.8.8', '10.0.0.11'], searches: ['host.domain', 'my.domain'], options: ['ndots:3', 'debug'] });
  });

  it('gives host-network pods with ClusterFirst the host DNS (Default), as kube does', () => {
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'ClusterFirst', hostNetwork: true }), opts).conf, host);
  });

  it('without --resolv-conf: 127.0.0.1 and search "." for the host policy; without --cluster-dns: Default and an event', () => {
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'Default' }), { ...opts, host: undefined }).conf, { nameservers: ['127.0.0.1'], searches: ['.'], options: [] });
    const r = podDnsConfig(pod('testNS', { dnsPolicy: 'ClusterFirst' }), { ...opts, clusterDNS: [] });
    assert.deepEqual(r.conf, host);
    assert.equal(r.warnings[0]?.reason, 'MissingClusterDNS');
  });

  it('keeps 3 nameservers, 32 search domains of at most 253 characters and 2048 in all, with a warning event', () => {
    const four = podDnsConfig(pod('testNS', { dnsPolicy: 'None', dnsConfig: { nameservers: ['127.0.0.1', '10.0.0.10', '8.8.8.8', '1.2.3.4'] } }), opts);
    assert.deepEqual(four.conf.nameservers, ['127.0.0.1', '10.0.0.10', '8.8.8.8']);
    assert.deepEqual(four.warnings, [{ reason: 'DNSConfigForming', message: 'Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 127.0.0.1 10.0.0.10 8.8.8.8' }]);
    const long = podDnsConfig(pod('testNS', { dnsPolicy: 'None', dnsConfig: { searches: ['testNS.svc.TEST', 'svc.TEST', 'TEST', 'AAA', 'B'.repeat(256), 'BBB'] } }), opts);
    assert.deepEqual(long.conf.searches, ['testNS.svc.TEST', 'svc.TEST', 'TEST', 'AAA', 'BBB']);
    assert.equal(long.warnings[0]?.message, 'Search Line limits were exceeded, some search paths have been omitted, the applied search line is: testNS.svc.TEST svc.TEST TEST AAA BBB');
    const many = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
    assert.equal(podDnsConfig(pod('testNS', { dnsPolicy: 'None', dnsConfig: { searches: many } }), opts).conf.searches.length, 32);
    const wide = Array.from({ length: 30 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(98)}`);
    const fitted = podDnsConfig(pod('testNS', { dnsPolicy: 'None', dnsConfig: { searches: wide } }), opts).conf.searches;
    assert.equal(fitted.length, 20);
    assert.ok(fitted.join(' ').length <= 2048);
    assert.deepEqual(podDnsConfig(pod('testNS', { dnsPolicy: 'None', dnsConfig: { searches: ['a', 'b', 'a'] } }), opts).conf.searches, ['a', 'b']);
  });
});
