// The proxy's sync loop with a recording fake in place of nft (the kernel path is test/agent/proxy.test.ts's): full
// first sync, small incremental ones, a failed transaction retried as a full sync, conflicting addresses, stop.
import assert from 'node:assert/strict';
import type { EndpointSlice, Service } from '../../api/index.js';
import { MemoryInformer } from '../../test/support/memory-informer.js';
import { waitFor } from '../../test/support/util.js';
import type { HostCommands } from './commands.js';
import { ServiceProxy } from './proxy.js';

/** Records scripts instead of running nft; fails the next n transactions when asked. */
class RecordingCommands implements HostCommands {
  readonly scripts: string[] = [];
  readonly conntrack: string[][] = [];
  failNext = 0;
  nft(script: string): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('Error: Could not process rule: No such file or directory'));
    }
    this.scripts.push(script);
    return Promise.resolve();
  }
  nftList(): Promise<string> {
    return Promise.resolve('');
  }
  conntrackDelete(args: string[]): Promise<void> {
    this.conntrack.push(args);
    return Promise.resolve();
  }
}

const service = (name: string, spec: Partial<Service['spec']> = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ns' },
  spec: { clusterIP: `10.96.0.${name.length + 10}`, ports: [{ name: 'p', port: 80, protocol: 'TCP' }], ...spec },
});
const slice = (svc: string, ips: string[], protocol: 'TCP' | 'UDP' = 'TCP'): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${svc}-1`, namespace: 'ns', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'p', port: 8080, protocol }],
  endpoints: ips.map((ip) => ({ addresses: [ip] })),
});

function setup(): { proxy: ServiceProxy; services: MemoryInformer<Service>; slices: MemoryInformer<EndpointSlice>; cmd: RecordingCommands } {
  const services = new MemoryInformer<Service>();
  const slices = new MemoryInformer<EndpointSlice>();
  const cmd = new RecordingCommands();
  const proxy = new ServiceProxy({ services, endpointSlices: slices, nodeName: 'n', commands: cmd, minSyncIntervalMs: 10 });
  return { proxy, services, slices, cmd };
}

describe('service proxy sync loop', () => {
  it('writes the whole table first, then only what changed, coalescing a burst of changes', async () => {
    const { proxy, services, slices, cmd } = setup();
    services.set(service('a'));
    slices.set(slice('a', ['10.42.0.2']));
    await proxy.start();
    assert.equal(cmd.scripts.length, 1);
    assert.match(cmd.scripts[0]!, /^add table ip ketch-proxy\ndelete table ip ketch-proxy\n/);
    assert.match(cmd.scripts[0]!, /ns\/a\/tcp\/p__10\.42\.0\.2\/8080/);
    for (let i = 3; i < 8; i++) slices.set(slice('a', ['10.42.0.2', `10.42.0.${i}`]));
    services.set(service('b'));
    await proxy.settled();
    const last = cmd.scripts.at(-1)!;
    assert.ok(cmd.scripts.length <= 3, `${cmd.scripts.length} transactions for a burst`);
    assert.doesNotMatch(last, /delete table/);
    assert.match(last, /10\.42\.0\.7\/8080/);
    await proxy.stop();
    assert.equal(cmd.scripts.at(-1), 'add table ip ketch-proxy\ndelete table ip ketch-proxy\n');
  });

  it('deletes flushed chains a second later without holding back the changes that come meanwhile', async () => {
    const { proxy, services, slices, cmd } = setup();
    services.set(service('a'));
    slices.set(slice('a', ['10.42.0.2', '10.42.0.3']));
    await proxy.start();
    slices.set(slice('a', ['10.42.0.2', '10.42.0.4']));
    await proxy.settled();
    assert.match(cmd.scripts.at(-1)!, /^flush chain ip ketch-proxy endpoint-\S+__10\.42\.0\.3\/8080$/m);
    const t = Date.now();
    slices.set(slice('a', ['10.42.0.2', '10.42.0.5']));
    await proxy.settled();
    assert.ok(Date.now() - t < 500, `the change waited ${Date.now() - t} ms`);
    assert.doesNotMatch(cmd.scripts.at(-1)!, /^delete chain/m, 'too early to delete');
    await waitFor(() => cmd.scripts.some((x) => /^delete chain ip ketch-proxy endpoint-\S+__10\.42\.0\.3\/8080$/m.test(x)), { timeoutMs: 5000, what: 'the stale chain deleted' });
    await proxy.stop();
  });

  it('retries a failed transaction as a full sync', async () => {
    const { proxy, services, slices, cmd } = setup();
    services.set(service('a'));
    await proxy.start();
    cmd.failNext = 1;
    slices.set(slice('a', ['10.42.0.2']));
    await waitFor(() => proxy.stats.failures === 1 && proxy.stats.fullSyncs === 2, { timeoutMs: 5000, what: 'a full resync after the failure' });
    await proxy.settled();
    assert.match(cmd.scripts.at(-1)!, /^add table ip ketch-proxy\ndelete table ip ketch-proxy\n[\s\S]*10\.42\.0\.2\/8080/);
    await proxy.stop();
  });

  it('refuses to start when nft refuses the table, and skips an address and port another service holds', async () => {
    const failing = setup();
    failing.cmd.failNext = 1;
    await assert.rejects(failing.proxy.start(), /could not write its nftables table/);
    await failing.proxy.stop();

    const { proxy, services, slices, cmd } = setup();
    services.set(service('first', { externalIPs: ['192.0.2.9'] }));
    slices.set(slice('first', ['10.42.0.2']));
    services.set(service('second', { externalIPs: ['192.0.2.9'] }));
    slices.set(slice('second', ['10.42.0.3']));
    await proxy.start();
    const elements = cmd.scripts[0]!.match(/192\.0\.2\.9 \. tcp \. 80 : goto [^,}]+/g) ?? [];
    assert.deepEqual(elements.length, 1, 'one service gets the address');
    assert.equal(proxy.stats.failures, 0);
    await proxy.stop();
  });

  it('clears UDP conntrack entries after the rules that stop using an endpoint are in', async () => {
    const { proxy, services, slices, cmd } = setup();
    services.set(service('dns', { ports: [{ name: 'p', port: 53, protocol: 'UDP' }] }));
    slices.set(slice('dns', ['10.42.0.2', '10.42.0.3'], 'UDP'));
    await proxy.start();
    cmd.conntrack.length = 0;
    slices.set(slice('dns', ['10.42.0.3'], 'UDP'));
    await proxy.settled();
    assert.deepEqual(cmd.conntrack, [['-p', 'udp', '--orig-dst', '10.96.0.13', '--dst-nat', '10.42.0.2']]);
    await proxy.stop();
  });
});
