import assert from 'node:assert/strict';
import type { EndpointSlice, Service } from '../../api/index.js';
import { conntrackCleanup } from './conntrack.js';
import { categorize, portEndpoints, servicePorts, type EndpointInfo } from './model.js';
import { chainNames, diffPortRules, EMPTY_RULES, hashName, renderServicePort, Transaction, type ProxyNetwork } from './rules.js';

const net: ProxyNetwork = { clusterCidr: '10.42.0.0/16', serviceCidr: '10.96.0.0/16', masqueradeMark: '0x00004000', podEgressMasquerade: true };

const service = (spec: Partial<Service['spec']> = {}, status?: Service['status']): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'ns' },
  spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  ...(status ? { status } : {}),
});

const ep = (ip: string, o: Partial<EndpointInfo> = {}): EndpointInfo => ({ ip, port: 8080, ready: true, serving: true, terminating: false, local: false, ...o });

function render(svc: Service, endpoints: EndpointInfo[]): ReturnType<typeof renderServicePort> {
  const [port] = servicePorts(svc);
  assert.ok(port);
  return renderServicePort(port, endpoints, net);
}

describe('service proxy rules', () => {
  it('names chains as kube-proxy does: a hash, then namespace/name/protocol/port', () => {
    const n = chainNames({ namespace: 'ns1', service: 'svc1', portName: 'p80', protocol: 'TCP' });
    assert.match(n.cluster, /^service-[A-Z2-7]{8}-ns1\/svc1\/tcp\/p80$/);
    assert.match(n.endpoint({ ip: '10.180.0.1', port: 80 }), /^endpoint-[A-Z2-7]{8}-ns1\/svc1\/tcp\/p80__10\.180\.0\.1\/80$/);
    assert.equal(hashName('x'), hashName('x'));
    assert.notEqual(hashName('x').slice(0, 8), hashName('y').slice(0, 8));
    assert.ok(hashName('a'.repeat(300)).length <= 240);
  });

  it('renders a ClusterIP service: map element, masquerade of outside traffic, numgen over endpoint chains, DNAT', () => {
    const { rules, reachable } = render(service(), [ep('10.42.0.2'), ep('10.42.0.3')]);
    const n = chainNames({ namespace: 'ns', service: 'web', portName: 'http', protocol: 'TCP' });
    const a = n.endpoint({ ip: '10.42.0.2', port: 8080 });
    const b = n.endpoint({ ip: '10.42.0.3', port: 8080 });
    assert.deepEqual([...rules.elements], [[`service-ips|10.96.0.20 . tcp . 80`, `goto ${n.cluster}`]]);
    assert.deepEqual(rules.chains.get(n.cluster), [
      'ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade',
      `numgen random mod 2 vmap { 0 : goto ${a} , 1 : goto ${b} }`,
    ]);
    assert.deepEqual(rules.chains.get(a), ['ip saddr 10.42.0.2 jump mark-for-masquerade', 'meta l4proto tcp dnat to 10.42.0.2:8080']);
    assert.equal(rules.chains.size, 3);
    assert.deepEqual(reachable.map((e) => e.ip), ['10.42.0.2', '10.42.0.3']);
  });

  it('masquerades pods\' service traffic too with masqueradeAll (a bridge without br_netfilter)', () => {
    const [port] = servicePorts(service());
    const { rules } = renderServicePort(port!, [ep('10.42.0.2')], { ...net, masqueradeAll: true });
    const n = chainNames({ namespace: 'ns', service: 'web', portName: 'http', protocol: 'TCP' });
    assert.equal(rules.chains.get(n.cluster)?.[0], 'ip daddr 10.96.0.20 tcp dport 80 jump mark-for-masquerade');
  });

  it('rejects a service without endpoints and drops Local traffic without local endpoints', () => {
    const none = render(service({ type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] }), []);
    assert.deepEqual([...none.rules.elements], [
      ['no-endpoint-services|10.96.0.20 . tcp . 80', 'goto reject-chain'],
      ['no-endpoint-nodeports|tcp . 30080', 'goto reject-chain'],
    ]);
    assert.equal(none.rules.chains.size, 0);
    const local = render(service({ type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] }), [ep('10.42.1.2')]);
    const n = chainNames({ namespace: 'ns', service: 'web', portName: 'http', protocol: 'TCP' });
    assert.equal(local.rules.elements.get('service-nodeports|tcp . 30080'), `goto ${n.external}`);
    assert.equal(local.rules.elements.get('no-endpoint-nodeports|tcp . 30080'), 'drop');
    // Pods and the node itself still reach it through the cluster chain; nothing falls through to the local chain.
    assert.deepEqual(local.rules.chains.get(n.external), [
      `ip saddr 10.42.0.0/16 goto ${n.cluster}`,
      'fib saddr type local jump mark-for-masquerade',
      `fib saddr type local goto ${n.cluster}`,
    ]);
  });

  it('sends external traffic with policy Cluster through masquerade, LoadBalancer and external IPs to the external chain', () => {
    const svc = service({ type: 'LoadBalancer', externalIPs: ['192.0.2.9'], ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] }, { loadBalancer: { ingress: [{ ip: '192.168.5.1' }] } });
    const { rules } = render(svc, [ep('10.42.0.2')]);
    const n = chainNames({ namespace: 'ns', service: 'web', portName: 'http', protocol: 'TCP' });
    for (const ip of ['192.0.2.9', '192.168.5.1']) assert.equal(rules.elements.get(`service-ips|${ip} . tcp . 80`), `goto ${n.external}`);
    assert.deepEqual(rules.chains.get(n.external), ['jump mark-for-masquerade', `goto ${n.cluster}`]);
  });

  it('keeps affinity in per-endpoint sets with the service timeout, checked before the random pick', () => {
    const { rules } = render(service({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), [ep('10.42.0.2')]);
    const n = chainNames({ namespace: 'ns', service: 'web', portName: 'http', protocol: 'TCP' });
    const e = { ip: '10.42.0.2', port: 8080 };
    assert.equal(rules.sets.get(n.affinity(e)), '{ type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }');
    assert.equal(rules.chains.get(n.cluster)?.[1], `ip saddr @${n.affinity(e)} goto ${n.endpoint(e)}`);
    assert.equal(rules.chains.get(n.endpoint(e))?.[1], `update @${n.affinity(e)} { ip saddr }`);
  });

  it('uses ready endpoints, falls back to serving terminating ones, and keeps Local to this node', () => {
    const [port] = servicePorts(service({ internalTrafficPolicy: 'Local' }));
    const eps = [ep('10.42.0.2', { ready: false, serving: true, terminating: true, local: true }), ep('10.42.1.2', { ready: true })];
    const c = categorize(eps, port!);
    assert.deepEqual(c.local.map((e) => e.ip), ['10.42.0.2'], 'no ready local endpoint: the terminating local one');
    assert.deepEqual(c.reachable.map((e) => e.ip), ['10.42.0.2']);
    const [cluster] = servicePorts(service());
    assert.deepEqual(categorize(eps, cluster!).cluster.map((e) => e.ip), ['10.42.1.2']);
    assert.deepEqual(categorize([eps[0]!], cluster!).cluster.map((e) => e.ip), ['10.42.0.2'], 'the fallback');
    assert.equal(categorize([ep('10.42.0.9', { ready: false, serving: false })], cluster!).hasAny, false);
  });

  it('reads endpoints of a port from slices by port name and protocol, ready winning over a duplicate', () => {
    const slice = (endpoints: EndpointSlice['endpoints'], protocol: 'TCP' | 'UDP' = 'TCP'): EndpointSlice => ({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: {}, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol }], endpoints,
    });
    const eps = portEndpoints(
      [slice([{ addresses: ['10.42.0.2'], conditions: { ready: false } }, { addresses: ['10.42.0.3'], nodeName: 'me' }]), slice([{ addresses: ['10.42.0.2'] }]), slice([{ addresses: ['10.42.0.4'] }], 'UDP')],
      { portName: 'http', protocol: 'TCP' },
      'me',
    );
    assert.deepEqual(eps.map((e) => [e.ip, e.ready, e.local]), [['10.42.0.2', true, false], ['10.42.0.3', true, true]]);
    assert.deepEqual(servicePorts(service({ clusterIP: 'None' })), [], 'headless services are not proxied');
  });

  it('writes only what changed: one endpoint replaced rewrites the service chain and adds one endpoint chain', () => {
    const before = render(service(), [ep('10.42.0.2'), ep('10.42.0.3')]).rules;
    const after = render(service(), [ep('10.42.0.2'), ep('10.42.0.4')]).rules;
    const tx = new Transaction();
    const stale = diffPortRules(tx, before, after);
    const n = chainNames({ namespace: 'ns', service: 'web', portName: 'http', protocol: 'TCP' });
    const gone = n.endpoint({ ip: '10.42.0.3', port: 8080 });
    const added = n.endpoint({ ip: '10.42.0.4', port: 8080 });
    assert.deepEqual(stale, [gone]);
    assert.deepEqual(tx.text().trim().split('\n'), [
      `add chain ip ketch-proxy ${added}`,
      `flush chain ip ketch-proxy ${n.cluster}`,
      `flush chain ip ketch-proxy ${gone}`,
      `add rule ip ketch-proxy ${n.cluster} ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade`,
      `add rule ip ketch-proxy ${n.cluster} numgen random mod 2 vmap { 0 : goto ${n.endpoint({ ip: '10.42.0.2', port: 8080 })} , 1 : goto ${added} }`,
      `add rule ip ketch-proxy ${added} ip saddr 10.42.0.4 jump mark-for-masquerade`,
      `add rule ip ketch-proxy ${added} meta l4proto tcp dnat to 10.42.0.4:8080`,
    ]);
    const same = new Transaction();
    assert.deepEqual(diffPortRules(same, after, render(service(), [ep('10.42.0.2'), ep('10.42.0.4')]).rules), []);
    assert.equal(same.text(), '', 'no change, no transaction');
  });

  it('replaces a map element whose verdict changes, and removes a service whole', () => {
    const withEps = render(service(), [ep('10.42.0.2')]).rules;
    const without = render(service(), []).rules;
    const tx = new Transaction();
    diffPortRules(tx, withEps, without);
    const text = tx.text();
    assert.match(text, /^delete element ip ketch-proxy service-ips \{ 10\.96\.0\.20 \. tcp \. 80 \}$/m);
    assert.match(text, /^add element ip ketch-proxy no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 : goto reject-chain \}$/m);
    const gone = new Transaction();
    assert.equal(diffPortRules(gone, withEps, EMPTY_RULES).length, 2, 'both chains become stale');
    assert.doesNotMatch(gone.text(), /^add /m);
  });

  it('rewrites a port\'s chains when its affinity timeout changes, so the set can be declared anew', () => {
    const a = render(service({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), [ep('10.42.0.2')]).rules;
    const b = render(service({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 90 } } }), [ep('10.42.0.2')]).rules;
    const tx = new Transaction();
    diffPortRules(tx, a, b);
    const lines = tx.text().split('\n');
    const flushAt = lines.findIndex((l) => l.startsWith('flush chain'));
    const deleteAt = lines.findIndex((l) => l.startsWith('delete set'));
    const addAt = lines.findIndex((l) => l.startsWith('add set') && l.includes('timeout 90s'));
    assert.ok(flushAt >= 0 && flushAt < deleteAt && deleteAt < addAt, tx.text());
  });

  it('clears UDP conntrack entries of endpoints that went, and of a UDP service that got its first endpoint', () => {
    const [udp] = servicePorts(service({ type: 'NodePort', ports: [{ name: 'dns', port: 53, nodePort: 30053, protocol: 'UDP' }] }));
    const old = { info: udp!, reachable: [ep('10.42.0.2'), ep('10.42.0.3')] };
    const cur = { info: udp!, reachable: [ep('10.42.0.3')] };
    assert.deepEqual(conntrackCleanup(old, cur).map((w) => w.args.join(' ')), [
      '-p udp --orig-dst 10.96.0.20 --dst-nat 10.42.0.2',
      '-p udp --orig-port-dst 30053 --dst-nat 10.42.0.2',
    ]);
    assert.deepEqual(conntrackCleanup({ info: udp!, reachable: [] }, cur).map((w) => w.args.join(' ')), ['-p udp --orig-dst 10.96.0.20', '-p udp --orig-port-dst 30053']);
    const [tcp] = servicePorts(service());
    assert.deepEqual(conntrackCleanup({ info: tcp!, reachable: [ep('10.42.0.2')] }, { info: tcp!, reachable: [] }), [], 'TCP needs none');
  });
});
