// The EndpointSlice, Endpoints and ServiceLB controllers against a real API server: pods made ready, not ready and
// terminating through the status subresource (no containers run), slices of at most --max-endpoints-per-slice, only the
// affected service synced on a pod change, and kubectl's view of the slices.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { promisify } from 'node:util';
import { LAST_CHANGE_TRIGGER_TIME_ANNOTATION } from '../../api/annotations.js';
import { EVENTS, EventRecorder, InformerFactory, type KubeEvent, type ResourceClient } from '../../client/index.js';
import { realClock } from '../../lib/clock.js';
import type { Controller, ControllerContext } from '../../controllers/framework/controller.js';
import {
  ENDPOINTS, ENDPOINTSLICES, NODES, PODS, SERVICES, type EndpointSlice, type Endpoints, type Node, type Pod, type Service,
} from '../../controllers/framework/types.js';
import { EndpointsController } from '../../controllers/endpoints/endpoints-controller.js';
import { EndpointSliceController } from '../../controllers/endpointslice/endpointslice-controller.js';
import { GarbageCollector } from '../../controllers/garbagecollector/garbagecollector.js';
import { ServiceLbController } from '../../controllers/servicelb/servicelb-controller.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';

const execFileAsync = promisify(execFile);

describe('endpoint controllers', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let pods: ResourceClient<Pod>;
  let services: ResourceClient<Service>;
  let slices: ResourceClient<EndpointSlice>;
  let endpoints: ResourceClient<Endpoints>;
  let nodes: ResourceClient<Node>;
  let stop: AbortController;
  let informers: InformerFactory;
  let sliceController: EndpointSliceController;
  /** Keys the EndpointSlice controller synced, in order. */
  const synced: string[] = [];
  let running: Promise<unknown>;

  const node = (name: string, ip: string, ready = true): Node => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'topology.kubernetes.io/zone': `zone-${name}` } },
    status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  before(async () => {
    cluster = await startTestCluster();
    pods = cluster.rest.resource<Pod>(PODS);
    services = cluster.rest.resource<Service>(SERVICES);
    slices = cluster.rest.resource<EndpointSlice>(ENDPOINTSLICES);
    endpoints = cluster.rest.resource<Endpoints>(ENDPOINTS);
    nodes = cluster.rest.resource<Node>(NODES);
    await nodes.create(undefined, node('n1', '192.168.5.1'));
    await nodes.create(undefined, node('n2', '192.168.5.2'));
    informers = new InformerFactory(cluster.rest, { clock: realClock });
    const events = cluster.rest.resource<KubeEvent>(EVENTS);
    const ctx: ControllerContext = { rest: cluster.rest, informers, clock: realClock, recorder: (c) => new EventRecorder(events, { component: c }) };
    sliceController = new EndpointSliceController(ctx, { maxEndpointsPerSlice: 10 });
    const original = sliceController.processKey.bind(sliceController);
    sliceController.processKey = (key, signal) => {
      synced.push(key);
      return original(key, signal);
    };
    const controllers: Controller[] = [sliceController, new EndpointsController(ctx), new ServiceLbController(ctx), new GarbageCollector(ctx)];
    stop = new AbortController();
    setMaxListeners(0, stop.signal); // every controller and informer wait listens to it
    informers.start();
    running = Promise.all(controllers.map((c) => c.run(stop.signal)));
  });

  after(async () => {
    stop?.abort();
    await running;
    await informers?.stop();
    await cluster?.close();
  });

  const service = (name: string, spec: Partial<Service['spec']> = {}): Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels: { team: 'a' } },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
  });

  let ipSeq = 2;
  /** A pod of app=APP on a node, running and ready (or not), with its own IP. */
  async function runPod(ns: string, app: string, name: string, o: { ready?: boolean; node?: string; port?: number } = {}): Promise<Pod> {
    await pods.create(ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app } },
      spec: { nodeName: o.node ?? 'n1', containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: o.port ?? 8080 }] }] },
    });
    const ip = `10.42.${Math.floor(ipSeq / 250)}.${(ipSeq++ % 250) + 2}`;
    return setReady(ns, name, o.ready ?? true, ip);
  }
  function setReady(ns: string, name: string, ready: boolean, ip?: string): Promise<Pod> {
    const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return pods.patch(ns, name, { status: { phase: 'Running', ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t }] } }, 'merge', { sub: 'status' });
  }
  const slicesOf = async (ns: string, svc: string): Promise<EndpointSlice[]> => (await slices.list(ns, { labelSelector: `kubernetes.io/service-name=${svc}` })).items;
  const endpointsOf = async (ns: string, svc: string): Promise<Array<{ name: string; ready?: boolean; serving?: boolean; terminating?: boolean }>> =>
    (await slicesOf(ns, svc))
      .flatMap((s) => s.endpoints.map((e) => ({ name: e.targetRef?.name ?? '', ...e.conditions })))
      .sort((a, b) => a.name.localeCompare(b.name));

  it('keeps slices and Endpoints of a service with ready, not-ready and terminating pods', async () => {
    const ns = await createNamespace(cluster.rest);
    await services.create(ns, service('web'));
    await runPod(ns, 'web', 'web-a');
    await runPod(ns, 'web', 'web-b', { node: 'n2' });
    await runPod(ns, 'web', 'web-c', { ready: false });
    await waitFor(async () => (await endpointsOf(ns, 'web')).length === 3, { what: 'three endpoints in slices' });
    const [slice] = await slicesOf(ns, 'web');
    assert.equal(slice?.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.equal(slice?.metadata.labels?.team, 'a');
    assert.deepEqual(slice?.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    const b = slice?.endpoints.find((e) => e.targetRef?.name === 'web-b');
    assert.equal(b?.nodeName, 'n2');
    assert.equal(b?.zone, 'zone-n2');
    assert.ok(slice?.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME_ANNOTATION], 'the slice carries its trigger time');
    assert.deepEqual(await endpointsOf(ns, 'web'), [
      { name: 'web-a', ready: true, serving: true, terminating: false },
      { name: 'web-b', ready: true, serving: true, terminating: false },
      { name: 'web-c', ready: false, serving: false, terminating: false },
    ]);
    const ep = await waitFor(async () => {
      const e = await endpoints.get(ns, 'web').catch(() => undefined);
      return e?.subsets?.[0]?.addresses?.length === 2 ? e : undefined;
    }, { what: 'the Endpoints object' });
    assert.deepEqual(ep.subsets?.[0]?.notReadyAddresses?.map((a) => a.targetRef?.name), ['web-c']);
    assert.deepEqual(ep.subsets?.[0]?.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.ok(ep.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME_ANNOTATION]);

    await setReady(ns, 'web-a', false);
    await waitFor(async () => (await endpointsOf(ns, 'web'))[0]?.ready === false, { what: 'web-a not ready' });
    await pods.delete(ns, 'web-b', { gracePeriodSeconds: 30 });
    await waitFor(async () => (await endpointsOf(ns, 'web'))[1]?.terminating === true, { what: 'web-b terminating' });
    assert.deepEqual((await endpointsOf(ns, 'web'))[1], { name: 'web-b', ready: false, serving: true, terminating: true });
    await waitFor(async () => {
      const e = await endpoints.get(ns, 'web');
      return (e.subsets ?? []).every((s) => !s.addresses?.length) && e.subsets?.[0]?.notReadyAddresses?.length === 2;
    }, { what: 'the Endpoints without web-b and with web-a not ready' });

    await services.delete(ns, 'web');
    await waitFor(async () => (await slicesOf(ns, 'web')).length === 0, { what: 'the slices collected with their service' });
    await waitFor(async () => !(await endpoints.get(ns, 'web').catch(() => undefined)), { what: 'the Endpoints deleted' });
  });

  it('cuts slices at --max-endpoints-per-slice and syncs only the service a pod belongs to', async () => {
    const ns = await createNamespace(cluster.rest);
    await services.create(ns, service('big'));
    await services.create(ns, service('other'));
    for (let i = 0; i < 25; i++) await runPod(ns, 'big', `big-${i}`);
    await runPod(ns, 'other', 'other-0');
    await waitFor(async () => (await endpointsOf(ns, 'big')).length === 25 && (await endpointsOf(ns, 'other')).length === 1, { what: '26 endpoints' });
    const sizes = (await slicesOf(ns, 'big')).map((s) => s.endpoints.length).sort((a, b) => a - b);
    assert.deepEqual(sizes, [5, 10, 10]);
    const before = new Map((await slicesOf(ns, 'big')).map((s) => [s.metadata.name, s.metadata.resourceVersion]));
    const otherBefore = (await slicesOf(ns, 'other'))[0]?.metadata.resourceVersion;

    synced.length = 0;
    await setReady(ns, 'big-7', false);
    await waitFor(async () => (await endpointsOf(ns, 'big')).find((e) => e.name === 'big-7')?.ready === false, { what: 'big-7 not ready' });
    const after = await slicesOf(ns, 'big');
    const rewritten = after.filter((s) => before.get(s.metadata.name) !== s.metadata.resourceVersion).map((s) => s.metadata.name);
    assert.equal(rewritten.length, 1, 'only the slice holding big-7 was written');
    assert.ok(after.find((s) => s.metadata.name === rewritten[0])?.endpoints.some((e) => e.targetRef?.name === 'big-7'));
    assert.equal((await slicesOf(ns, 'other'))[0]?.metadata.resourceVersion, otherBefore, 'the other service was not written');
    assert.deepEqual([...new Set(synced)], [`${ns}/big`], 'only the affected service was synced');
  });

  it('shows slices as kubectl does', async () => {
    const ns = await createNamespace(cluster.rest);
    await services.create(ns, service('shown'));
    for (let i = 0; i < 4; i++) await runPod(ns, 'shown', `shown-${i}`);
    await waitFor(async () => (await endpointsOf(ns, 'shown')).length === 4, { what: 'four endpoints' });
    const { stdout } = await execFileAsync('kubectl', ['--kubeconfig', cluster.server.adminKubeconfigPath, 'get', 'endpointslices', '-n', ns]);
    const [header, row] = stdout.trim().split('\n');
    assert.match(header ?? '', /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$/);
    assert.match(row ?? '', /^shown-\w+\s+IPv4\s+8080\s+10\.42\.\d+\.\d+,10\.42\.\d+\.\d+,10\.42\.\d+\.\d+ \+ 1 more\.\.\.\s+\d+s$/);
  });

  it('gives LoadBalancer services the Ready nodes\' addresses unless they name a class, and takes them back', async () => {
    const ns = await createNamespace(cluster.rest);
    await services.create(ns, service('lb', { type: 'LoadBalancer' }));
    await services.create(ns, service('lb-other', { type: 'LoadBalancer', loadBalancerClass: 'example.com/lb' }));
    const ingress = async (name: string): Promise<string[]> => ((await services.get(ns, name)).status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
    await waitFor(async () => (await ingress('lb')).length === 2, { what: 'the ingress of lb' });
    assert.deepEqual(await ingress('lb'), ['192.168.5.1', '192.168.5.2']);
    await nodes.patch(undefined, 'n2', { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, 'merge', { sub: 'status' });
    await waitFor(async () => (await ingress('lb')).join() === '192.168.5.1', { what: 'n2 leaving the ingress' });
    await nodes.patch(undefined, 'n2', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'merge', { sub: 'status' });
    await waitFor(async () => (await ingress('lb')).length === 2, { what: 'n2 back in the ingress' });
    assert.deepEqual(await ingress('lb-other'), [], 'a service with a class is left to its controller');
    // The node ports and traffic policy go with the type, as kube's API server drops them.
    const clusterIP = await services.patch(ns, 'lb', { spec: { type: 'ClusterIP' } }, 'merge');
    assert.equal(clusterIP.spec?.ports?.[0]?.nodePort, undefined);
    assert.equal(clusterIP.spec?.externalTrafficPolicy, undefined);
    await waitFor(async () => (await ingress('lb')).length === 0, { what: 'the ingress taken back' });
  });
});
