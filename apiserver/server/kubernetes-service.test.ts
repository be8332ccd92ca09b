import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';
import { memoryRegistry, type MemoryRegistry } from '../../test/support/memory-registry.js';
import type { Obj } from '../registry/object.js';
import type { Store } from '../registry/store.js';
import { ENDPOINT_ANNOTATION, IDENTITY_LABEL, KubernetesServiceReconciler, type KubernetesServiceStores } from './kubernetes-service.js';

describe('the kubernetes Service and its endpoints (lease reconciler)', () => {
  let mem: MemoryRegistry;
  let stores: KubernetesServiceStores;
  let clock: FakeClock;
  const log = logger('test');

  const store = (group: string, resource: string): Store => mem.registry.byResource(group, 'v1', resource)!;
  const server = (advertiseAddress: string, securePort = 6443): KubernetesServiceReconciler =>
    new KubernetesServiceReconciler({ stores, advertiseAddress, securePort, serviceCidr: '10.96.0.0/16', log, clock });
  const endpointIPs = async (): Promise<{ endpoints: string[]; slice: string[]; ports: number[] }> => {
    const ep = (await stores.endpoints.get('default', 'kubernetes')) as Obj & { subsets?: Array<{ addresses: Array<{ ip: string }>; ports: Array<{ port: number }> }> };
    const slice = (await stores.endpointSlices.get('default', 'kubernetes')) as Obj & { endpoints: Array<{ addresses: string[] }>; ports: Array<{ port: number }> };
    return {
      endpoints: (ep.subsets ?? []).flatMap((s) => s.addresses.map((a) => a.ip)),
      slice: slice.endpoints.flatMap((e) => e.addresses),
      ports: [...(ep.subsets ?? []).flatMap((s) => s.ports.map((p) => p.port)), ...slice.ports.map((p) => p.port)],
    };
  };
  const leases = async (): Promise<Obj[]> => (await stores.leases.list('kube-system', { labelSelector: `${IDENTITY_LABEL}=kube-apiserver` })).items;

  beforeEach(() => {
    mem = memoryRegistry();
    clock = new FakeClock();
    stores = { services: store('', 'services'), endpoints: store('', 'endpoints'), endpointSlices: store('discovery.k8s.io', 'endpointslices'), leases: store('coordination.k8s.io', 'leases') };
  });
  afterEach(() => mem.close());

  it('creates the Service at the first service IP, 443 to the secure port, and lists the server', async () => {
    const a = server('192.0.2.10');
    await a.pass();
    const svc = (await stores.services.get('default', 'kubernetes')) as Obj & { spec: { clusterIP: string; selector?: unknown; ports: Array<{ port: number; targetPort: number }> } };
    assert.equal(svc.spec.clusterIP, '10.96.0.1');
    assert.equal(svc.spec.selector, undefined, 'no selector: the EndpointSlice controller leaves it alone');
    assert.deepEqual(svc.spec.ports.map((p) => [p.port, p.targetPort]), [[443, 6443]]);
    assert.deepEqual(await endpointIPs(), { endpoints: ['192.0.2.10'], slice: ['192.0.2.10'], ports: [6443, 6443] });
    const [lease] = await leases();
    assert.match(lease?.metadata.name ?? '', /^apiserver-[0-9a-f]{26}$/);
    assert.equal(lease?.metadata.annotations?.[ENDPOINT_ANNOTATION], '192.0.2.10:6443');
  });

  it('lists every server with a live lease; one that stops takes its address away', async () => {
    const a = server('192.0.2.10');
    const b = server('192.0.2.11');
    await a.pass();
    await b.pass();
    assert.deepEqual((await endpointIPs()).endpoints, ['192.0.2.10', '192.0.2.11']);
    await a.pass();
    assert.deepEqual((await endpointIPs()).slice, ['192.0.2.10', '192.0.2.11'], 'a pass of the other server keeps both');
    await b.stop();
    assert.deepEqual(await endpointIPs(), { endpoints: ['192.0.2.10'], slice: ['192.0.2.10'], ports: [6443, 6443] });
    assert.equal((await leases()).length, 1, 'the stopped server deleted its lease');
  });

  it('drops a server whose lease expired (killed), and deletes the lease an hour later', async () => {
    const a = server('192.0.2.10');
    const killed = server('192.0.2.12');
    await a.pass();
    await killed.pass();
    assert.deepEqual((await endpointIPs()).endpoints, ['192.0.2.10', '192.0.2.12']);
    await clock.advance(10_000);
    await a.pass();
    assert.deepEqual((await endpointIPs()).endpoints, ['192.0.2.10', '192.0.2.12'], 'still live 10 s after its last renewal');
    await clock.advance(6_000);
    await a.pass();
    assert.deepEqual((await endpointIPs()).endpoints, ['192.0.2.10'], 'gone once 15 s passed without a renewal');
    assert.equal((await leases()).length, 2, 'the expired lease is kept for a while');
    await clock.advance(3600_000);
    await a.pass();
    assert.deepEqual((await leases()).map((l) => l.metadata.annotations?.[ENDPOINT_ANNOTATION]), ['192.0.2.10:6443']);
  });

  it('a loopback server keeps the Service but lists no endpoint; a moved port is corrected', async () => {
    await server('127.0.0.1', 8443).pass();
    assert.deepEqual(await endpointIPs(), { endpoints: [], slice: [], ports: [8443] });
    await server('192.0.2.10', 9443).pass();
    const svc = (await stores.services.get('default', 'kubernetes')) as Obj & { spec: { ports: Array<{ targetPort: number }> } };
    assert.equal(svc.spec.ports[0]?.targetPort, 9443);
    assert.deepEqual((await endpointIPs()).endpoints, ['192.0.2.10']);
  });

  it('renews on its timer once started, and stop() ends the renewals', async () => {
    const a = server('192.0.2.10');
    await a.start();
    const renewed = async (): Promise<string | undefined> => ((await leases())[0] as Obj & { spec?: { renewTime?: string } }).spec?.renewTime;
    const first = await renewed();
    await clock.advance(5_000);
    await clock.advance(0);
    assert.notEqual(await renewed(), first, 'renewed after the interval');
    await a.stop();
    assert.equal(clock.pending, 0, 'no timer left');
    assert.deepEqual(await leases(), []);
  });
});
