// The service proxy on the kernel's packet path: a node namespace with a pod bridge, pod namespaces running small
// servers, an "internet" namespace; Services and Pods in a real API server, EndpointSlices and LoadBalancer addresses
// from the real controllers, and the proxy programming nftables in the node namespace. Run under the e2e lock.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { promisify } from 'node:util';
import type { EndpointSlice, Node, Pod, Service } from '../../api/index.js';
import { EVENTS, EventRecorder, InformerFactory, type KubeEvent, type ResourceClient } from '../../client/index.js';
import type { ControllerContext } from '../../controllers/framework/controller.js';
import { NODES, PODS, SERVICES } from '../../controllers/framework/types.js';
import { EndpointSliceController } from '../../controllers/endpointslice/endpointslice-controller.js';
import { ServiceLbController } from '../../controllers/servicelb/servicelb-controller.js';
import { realClock } from '../../lib/clock.js';
import { hostCommands } from '../../agent/proxy/commands.js';
import { startServiceProxy, type RunningServiceProxy } from '../../agent/proxy/index.js';
import { ServiceProxy } from '../../agent/proxy/proxy.js';
import { chainNames } from '../../agent/proxy/rules.js';
import { MemoryInformer } from '../support/memory-informer.js';
import { INET_IP, NetLab, NODE_IP, namespacesNamed, type HttpAnswer } from '../support/net-lab.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from '../controllers/harness.js';

const execFileAsync = promisify(execFile);
const names = (answers: HttpAnswer[]): string[] => [...new Set(answers.map((a) => a.name ?? `error:${a.error}`))].sort();

describe('service proxy (nftables, network namespaces)', function () {
  this.timeout(180_000);
  const lab = new NetLab();
  let cluster: TestCluster;
  let informers: InformerFactory;
  let running: RunningServiceProxy;
  let proxy: ServiceProxy;
  let services: ResourceClient<Service>;
  let pods: ResourceClient<Pod>;
  let ns: string;
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  let controllers: Promise<unknown>;

  const podObject = (name: string, ip: string, labels: Record<string, string>, node = 'kpx-node'): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: {
      nodeName: node,
      containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] }],
    },
  });
  async function addPod(name: string, ip: string, labels: Record<string, string>, node?: string): Promise<void> {
    await pods.create(ns, podObject(name, ip, labels, node));
    await setReady(name, true, ip);
  }
  function setReady(name: string, ready: boolean, ip?: string): Promise<Pod> {
    return pods.patch(ns, name, { status: { phase: 'Running', ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }, 'merge', { sub: 'status' });
  }
  async function addService(name: string, selector: Record<string, string>, spec: Partial<Service['spec']> = {}): Promise<Service> {
    return services.create(ns, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
    });
  }
  const nftMap = (name: string): Promise<string> => lab.exec(lab.node, ['nft', 'list', 'map', 'ip', 'ketch-proxy', name]);
  /** Polls the data plane: n requests from a namespace until their answers satisfy ok. */
  const until = (from: string, url: string, n: number, ok: (a: HttpAnswer[]) => boolean, what: string): Promise<HttpAnswer[]> =>
    waitFor(async () => {
      const a = await lab.http(from, url, n, 1000);
      return ok(a) ? a : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100, what });

  let hostHadTable = false;

  before(async () => {
    hostHadTable = (await execFileAsync('nft', ['list', 'tables'])).stdout.includes('ketch-proxy');
    await lab.create();
    const [a, b, c] = [await lab.addPod('a', 2), await lab.addPod('b', 3), await lab.addPod('c', 4)];
    await lab.serve(a.ns, 'a');
    await lab.serve(b.ns, 'b');
    await lab.serve(c.ns, 'c');
    await lab.serve(lab.inet, 'inet', 80);
    cluster = await startTestCluster();
    services = cluster.rest.resource<Service>(SERVICES);
    pods = cluster.rest.resource<Pod>(PODS);
    const nodes = cluster.rest.resource<Node>(NODES);
    const node = (name: string, ip: string, ready: boolean): Node => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    });
    await nodes.create(undefined, node('kpx-node', NODE_IP, true));
    await nodes.create(undefined, node('other', '192.168.78.1', false));
    ns = await createNamespace(cluster.rest, 'proxy');
    await addPod('a', a.ip, { app: 'web', self: 'a', sticky: 'yes', udp: 'yes', mixed: 'yes' });
    await addPod('b', b.ip, { app: 'web', sticky: 'yes', udp: 'no' });
    // A pod on another node, at an address nothing answers: Local traffic policies must never pick it.
    await addPod('far', '10.42.1.9', { remote: 'yes', mixed: 'yes' }, 'other');

    informers = new InformerFactory(cluster.rest, { clock: realClock });
    const ctx: ControllerContext = {
      rest: cluster.rest,
      informers,
      clock: realClock,
      recorder: (comp) => new EventRecorder(cluster.rest.resource<KubeEvent>(EVENTS), { component: comp }),
    };
    const ctrls = [new EndpointSliceController(ctx), new ServiceLbController(ctx)];
    informers.start();
    controllers = Promise.all(ctrls.map((r) => r.run(stop.signal)));
    // As the agent will: informers of its own and the proxy over them, programming the node namespace.
    running = await startServiceProxy({ rest: cluster.rest, nodeName: 'kpx-node', commands: hostCommands({ netns: lab.node }), signal: stop.signal });
    proxy = running.proxy;
  });

  after(async () => {
    stop.abort();
    await controllers;
    await running?.stop();
    await informers?.stop();
    await cluster?.close();
    await lab.destroy();
    assert.deepEqual(await namespacesNamed('kpx-'), [], 'no network namespace left');
    const { stdout } = await execFileAsync('nft', ['list', 'tables']);
    // Compared with what was there before: a table another run left is not this test's to judge.
    assert.equal(stdout.includes('ketch-proxy'), hostHadTable, 'the host never gets the table');
  });

  it('sends ClusterIP traffic to both backends, keeping the pod address; drops a not-ready endpoint and takes it back', async () => {
    const svc = await addService('web', { app: 'web' });
    const url = `http://${svc.spec?.clusterIP}/`;
    const c = lab.pod('c').ns;
    const answers = await until(c, url, 20, (a) => names(a).join() === 'a,b', 'both backends answering');
    assert.equal(answers.length, 20);
    assert.ok(answers.every((a) => a.from === lab.pod('c').ip), 'pod to service traffic is not masqueraded');

    const started = Date.now();
    await setReady('b', false);
    await until(c, url, 20, (a) => names(a).join() === 'a', 'only a answering');
    assert.ok(Date.now() - started < 5000, `b left within ${Date.now() - started} ms`);
    await setReady('b', true);
    await until(c, url, 20, (a) => names(a).join() === 'a,b', 'b back');
  });

  it('answers a NodePort and a LoadBalancer address (ServiceLB) on the node address, masqueraded; from the node too', async () => {
    const svc = await addService('front', { app: 'web' }, { type: 'LoadBalancer', ports: [{ name: 'http', port: 8081, targetPort: 'http' }] });
    const nodePort = svc.spec?.ports?.[0]?.nodePort;
    assert.ok(nodePort);
    const np = await until(lab.inet, `http://${NODE_IP}:${nodePort}/`, 10, (a) => a.every((x) => x.name), 'the node port from the internet');
    assert.ok(np.every((a) => a.from === '10.42.0.1'), 'external traffic with policy Cluster is masqueraded');
    await until(lab.inet, `http://${NODE_IP}:8081/`, 5, (a) => a.every((x) => x.name), 'the load balancer address from the internet');
    const ingress = (await services.get(ns, 'front')).status?.loadBalancer?.ingress?.map((i) => i.ip);
    assert.deepEqual(ingress, [NODE_IP], 'ServiceLB gave the Ready node only');
    const fromNode = JSON.parse(await lab.exec(lab.node, [process.execPath, '-e', `fetch('http://${NODE_IP}:${nodePort}/').then(r => r.text()).then(t => process.stdout.write(t))`])) as HttpAnswer;
    assert.ok(fromNode.name === 'a' || fromNode.name === 'b', 'a host process reaches the node port');
  });

  it('answers an external IP routed to the node', async () => {
    await addService('ext', { app: 'web' }, { externalIPs: ['192.0.2.10'] });
    await lab.ip(['-n', lab.inet, 'route', 'add', '192.0.2.10/32', 'via', NODE_IP]);
    await until(lab.inet, 'http://192.0.2.10/', 5, (a) => a.every((x) => x.name), 'the external IP');
  });

  it('keeps the client address with externalTrafficPolicy Local, and drops when no endpoint is local', async () => {
    const local = await addService('web-local', { app: 'web' }, { type: 'NodePort', externalTrafficPolicy: 'Local' });
    const answers = await until(lab.inet, `http://${NODE_IP}:${local.spec?.ports?.[0]?.nodePort}/`, 5, (a) => a.every((x) => x.name), 'the Local node port');
    assert.ok(answers.every((a) => a.from === INET_IP), 'the client address is kept');
    const far = await addService('far-local', { remote: 'yes' }, { type: 'NodePort', externalTrafficPolicy: 'Local' });
    const farPort = far.spec?.ports?.[0]?.nodePort;
    await waitFor(async () => (await nftMap('no-endpoint-nodeports')).includes(`tcp . ${farPort} : drop`), { what: 'the Local node port without local endpoints dropped' });
    const dropped = await lab.http(lab.inet, `http://${NODE_IP}:${farPort}/`, 1, 1000);
    assert.equal(dropped[0]?.error, 'timeout', 'no local endpoint: the SYN is dropped');
  });

  it('sends ClusterIP traffic to local endpoints only with internalTrafficPolicy Local', async () => {
    const svc = await addService('mixed', { mixed: 'yes' }, { internalTrafficPolicy: 'Local' });
    const answers = await until(lab.pod('c').ns, `http://${svc.spec?.clusterIP}/`, 20, (a) => a.length === 20 && names(a).join() === 'a', 'a only');
    assert.equal(answers.length, 20);
  });

  it('hairpins: a pod reaches itself through its service, masqueraded', async () => {
    const svc = await addService('self', { self: 'a' });
    const answers = await until(lab.pod('a').ns, `http://${svc.spec?.clusterIP}/`, 5, (a) => a.every((x) => x.name === 'a'), 'a reaching itself');
    assert.ok(answers.every((a) => a.from === '10.42.0.1'), 'the pod sees the bridge address, not its own');
  });

  it('keeps a client on one endpoint with sessionAffinity ClientIP', async () => {
    const svc = await addService('sticky', { sticky: 'yes' }, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } });
    const url = `http://${svc.spec?.clusterIP}/`;
    await until(lab.pod('c').ns, url, 1, (a) => !!a[0]?.name, 'sticky programmed');
    const answers = await lab.http(lab.pod('c').ns, url, 20);
    assert.equal(names(answers).length, 1, `one backend for 20 new connections: ${names(answers).join()}`);
  });

  it('proxies UDP and clears conntrack entries of an endpoint that went', async () => {
    const svc = await addService('dns', { udp: 'yes' }, { ports: [{ name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }] });
    const ip = svc.spec?.clusterIP ?? '';
    const c = lab.pod('c').ns;
    // One client socket (fixed source port): its conntrack entry outlives an endpoint change unless deleted.
    // The sync that gives the service its first endpoint deletes the service's entries just after the rules are in
    // (those made while packets were rejected): an answer from a in between loses its entry, so ask until both hold.
    await waitFor(
      async () =>
        (await lab.udp(c, ip, 53, 41000, 500)) === 'a' &&
        /src=10\.42\.0\.2 dst=10\.42\.0\.4 sport=5353/.test(await lab.exec(lab.node, ['conntrack', '-L', '-p', 'udp', '--orig-dst', ip])),
      { timeoutMs: 15_000, what: 'a over UDP, with the entry NATed to a' },
    );
    await pods.patch(ns, 'a', { metadata: { labels: { udp: 'no' } } }, 'merge');
    await pods.patch(ns, 'b', { metadata: { labels: { udp: 'yes' } } }, 'merge');
    // a still answers on its address: only the deletion of the entry sends the same client to b.
    await waitFor(async () => (await lab.udp(c, ip, 53, 41000, 500)) === 'b', { timeoutMs: 15_000, what: 'b over UDP from the same socket' });
    const after = await lab.exec(lab.node, ['conntrack', '-L', '-p', 'udp', '--orig-dst', ip]);
    assert.doesNotMatch(after, /src=10\.42\.0\.2 /, 'no entry NATed to a is left');
  });

  it('masquerades pod traffic to the internet with the node address', async () => {
    const [answer] = await lab.http(lab.pod('c').ns, `http://${INET_IP}/`);
    assert.equal(answer?.from, NODE_IP);
  });

  it('falls back to a serving terminating endpoint, and rejects a service without endpoints', async () => {
    await addPod('b-leaving', lab.pod('b').ip, { term: 'yes' });
    const term = await addService('term', { term: 'yes' });
    const url = `http://${term.spec?.clusterIP}/`;
    await until(lab.pod('c').ns, url, 3, (a) => a.every((x) => x.name === 'b'), 'term answered');
    await pods.delete(ns, 'b-leaving', { gracePeriodSeconds: 300 });
    // Once the proxy's informer has the terminating endpoint, settled() waits for the sync it caused.
    const sliceCache = running.endpointSlices.indexer;
    await waitFor(
      () => sliceCache.list().some((s) => s.metadata.labels?.['kubernetes.io/service-name'] === 'term' && s.endpoints.some((e) => e.conditions?.terminating && e.conditions.serving && !e.conditions.ready)),
      { what: 'the terminating endpoint in the proxy\'s cache' },
    );
    await proxy.settled();
    const answers = await lab.http(lab.pod('c').ns, url, 3);
    assert.deepEqual(names(answers), ['b'], 'the terminating endpoint still serves');
    const empty = await addService('empty', { nothing: 'here' });
    const refused = await until(lab.pod('c').ns, `http://${empty.spec?.clusterIP}/`, 1, (a) => a[0]?.error === 'ECONNREFUSED', 'a reject');
    assert.equal(refused[0]?.error, 'ECONNREFUSED');
  });

  it('programs SCTP ports (the kernel here has no SCTP sockets to send with)', async () => {
    const svc = await addService('sctp', { app: 'web' }, { ports: [{ name: 's', port: 9999, targetPort: 9999, protocol: 'SCTP' }] });
    const map = await waitFor(async () => {
      const out = await nftMap('service-ips');
      return out.includes(`${svc.spec?.clusterIP} . sctp . 9999`) ? out : undefined;
    }, { what: 'the SCTP element' });
    assert.match(map, /sctp \. 9999 : goto service-/);
  });
});

describe('service proxy at scale and across restarts (nftables)', function () {
  this.timeout(180_000);
  const lab = new NetLab();
  const nsName = `kpx-big-${lab.id}`;

  before(async () => {
    await lab.ip(['netns', 'add', nsName]);
  });
  after(async () => {
    await lab.ip(['netns', 'del', nsName]);
    assert.deepEqual(await namespacesNamed(nsName), []);
  });

  const service = (i: number): Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: 'big' },
    spec: { clusterIP: `10.96.${Math.floor(i / 250)}.${(i % 250) + 2}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  });
  const slice = (i: number, first = 0): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-abc`, namespace: 'big', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: 10 }, (_, j) => ({ addresses: [`10.${40 + Math.floor(i / 250)}.${i % 250}.${first + j + 2}`], nodeName: 'n' })),
  });

  it('rewrites only the changed service when one endpoint of 1,000 services changes, and deletes its old chain later', async () => {
    const services = new MemoryInformer<Service>();
    const slices = new MemoryInformer<EndpointSlice>();
    for (let i = 0; i < 1000; i++) {
      services.set(service(i));
      slices.set(slice(i));
    }
    const proxy = new ServiceProxy({ services, endpointSlices: slices, nodeName: 'n', commands: hostCommands({ netns: nsName }) });
    await proxy.start();
    const full = proxy.lastTransaction;
    assert.ok(full.split('\n').length > 30_000, 'the first sync wrote every service');
    // One endpoint of svc-500 moves to a new address.
    const changed = slice(500);
    changed.endpoints[3] = { addresses: ['10.99.0.7'], nodeName: 'n' };
    slices.set(changed);
    await proxy.settled();
    const tx = proxy.lastTransaction;
    const lines = tx.trim().split('\n');
    assert.ok(lines.every((l) => l.includes('big/svc-500/')), `only svc-500's chains and elements:\n${tx}`);
    assert.ok(lines.length <= 20, `${lines.length} lines`);
    const n = chainNames({ namespace: 'big', service: 'svc-500', portName: 'http', protocol: 'TCP' });
    const oldChain = n.endpoint({ ip: '10.42.0.5', port: 8080 });
    assert.ok(lines.includes(`add chain ip ketch-proxy ${n.endpoint({ ip: '10.99.0.7', port: 8080 })}`), tx);
    assert.ok(lines.includes(`flush chain ip ketch-proxy ${oldChain}`), tx);
    assert.ok(lines.includes(`flush chain ip ketch-proxy ${n.cluster}`), tx);
    const chain = await execFileAsync('ip', ['netns', 'exec', nsName, 'nft', 'list', 'chain', 'ip', 'ketch-proxy', n.cluster]);
    assert.match(chain.stdout, /10\.99\.0\.7\/8080/, 'the new endpoint is live');
    // The flushed chain is deleted a second later, by the proxy on its own.
    await waitFor(async () => {
      const { stdout } = await execFileAsync('ip', ['netns', 'exec', nsName, 'nft', 'list', 'chains', 'ip']);
      return !stdout.includes(oldChain);
    }, { timeoutMs: 5000, what: 'the stale chain deleted' });
    // A killed proxy leaves its table; the next one replaces it whole in its first transaction.
    const services2 = new MemoryInformer<Service>();
    const slices2 = new MemoryInformer<EndpointSlice>();
    services2.set(service(7));
    slices2.set(slice(7));
    const next = new ServiceProxy({ services: services2, endpointSlices: slices2, nodeName: 'n', commands: hostCommands({ netns: nsName }) });
    await next.start();
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', nsName, 'nft', 'list', 'chains', 'ip']);
    assert.ok(stdout.includes('big/svc-7/') && !stdout.includes('big/svc-500/'), 'only the new run\'s services');
    await next.stop();
    const tables = await execFileAsync('ip', ['netns', 'exec', nsName, 'nft', 'list', 'tables']);
    assert.equal(tables.stdout.trim(), '', 'stop removes the table');
  });
});
