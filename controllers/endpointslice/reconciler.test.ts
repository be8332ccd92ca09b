import assert from 'node:assert/strict';
import { LAST_CHANGE_TRIGGER_TIME_ANNOTATION } from '../../api/annotations.js';
import type { EndpointSlice, Node, Pod, Service } from '../framework/types.js';
import { CONTROLLER_NAME, reconcileSlices, type ReconcileInput } from './reconciler.js';

const svc = (extra: Partial<Service['spec']> = {}, labels: Record<string, string> = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'ns', uid: 'svc-uid', labels },
  spec: { selector: { app: 'web' }, clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], ...extra },
});

const pod = (i: number, o: { ready?: boolean; deleting?: boolean; port?: number; node?: string; hostname?: string } = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `web-${String(i).padStart(3, '0')}`,
    namespace: 'ns',
    uid: `uid-${i}`,
    labels: { app: 'web' },
    ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}),
  },
  spec: {
    nodeName: o.node ?? 'n1',
    ...(o.hostname ? { hostname: o.hostname, subdomain: 'web' } : {}),
    containers: [{ name: 'c', image: 'x', ports: [{ name: 'http', containerPort: o.port ?? 8080 }] }],
  },
  status: {
    phase: 'Running',
    podIP: `10.42.${Math.floor(i / 250)}.${(i % 250) + 2}`,
    conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: '2024-01-01T00:00:00Z' }],
  },
});

const nodes: Record<string, Node> = {
  n1: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'zone-a' } } },
  n2: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } },
};

let serial = 0;
/** What the API server would return: a name, a uid, a generation and a resourceVersion. */
function stored(s: EndpointSlice): EndpointSlice {
  serial++;
  return { ...s, metadata: { ...s.metadata, name: s.metadata.name ?? `web-${serial}`, uid: s.metadata.uid ?? `slice-${serial}`, generation: (s.metadata.generation ?? 0) + 1, resourceVersion: String(serial) } };
}

function run(input: Partial<ReconcileInput> & { pods: Pod[] }): ReturnType<typeof reconcileSlices> {
  return reconcileSlices({ service: svc(), node: (n) => nodes[n], existing: [], ...input });
}

/** Applies a plan to the existing slices, as the controller's writes would. */
function apply(existing: EndpointSlice[], plan: ReturnType<typeof reconcileSlices>): EndpointSlice[] {
  const gone = new Set(plan.delete.map((s) => s.metadata.name));
  const updated = new Map(plan.update.map((s) => [s.metadata.name, stored(s)]));
  return [...existing.filter((s) => !gone.has(s.metadata.name)).map((s) => updated.get(s.metadata.name) ?? s), ...plan.create.map(stored)];
}

const addresses = (slices: EndpointSlice[]): string[] => slices.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)).sort();

describe('EndpointSlice reconciler', () => {
  it('puts 250 ready pods into slices of at most 100, with the service labels, owner and resolved ports', () => {
    const pods = Array.from({ length: 250 }, (_, i) => pod(i));
    const plan = run({ pods, service: svc({}, { team: 'a' }) });
    assert.deepEqual(plan.create.map((s) => s.endpoints.length), [100, 100, 50]);
    assert.equal(plan.update.length + plan.delete.length, 0);
    const s = plan.create[0]!;
    assert.deepEqual(s.metadata.labels, { team: 'a', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': CONTROLLER_NAME });
    assert.equal(s.metadata.generateName, 'web-');
    assert.deepEqual(s.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.equal(s.addressType, 'IPv4');
    assert.deepEqual(s.endpoints[0], {
      addresses: ['10.42.0.2'],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace: 'ns', name: 'web-000', uid: 'uid-0' },
      nodeName: 'n1',
      zone: 'zone-a',
    });
    assert.equal(addresses(plan.create).length, 250);
    assert.equal(new Set(addresses(plan.create)).size, 250);
  });

  it('rewrites only the slice holding a changed endpoint, and nothing when nothing changed', () => {
    const pods = Array.from({ length: 250 }, (_, i) => pod(i));
    const slices = apply([], run({ pods }));
    assert.deepEqual(run({ pods, existing: slices }), { create: [], update: [], delete: [], skippedPods: [] });
    pods[120] = pod(120, { ready: false });
    const plan = run({ pods, existing: slices });
    assert.equal(plan.create.length + plan.delete.length, 0);
    assert.equal(plan.update.length, 1);
    const holder = slices.find((s) => s.endpoints.some((e) => e.targetRef?.name === 'web-120'))!;
    assert.equal(plan.update[0]!.metadata.name, holder.metadata.name);
    assert.equal(plan.update[0]!.metadata.resourceVersion, holder.metadata.resourceVersion, 'the update carries the cached resourceVersion');
    assert.deepEqual(plan.update[0]!.endpoints.find((e) => e.targetRef?.name === 'web-120')?.conditions, { ready: false, serving: false, terminating: false });
  });

  it('marks terminating pods not ready but serving, and ready with publishNotReadyAddresses', () => {
    const pods = [pod(1, { deleting: true }), pod(2, { ready: false, deleting: true })];
    const plain = run({ pods }).create[0]!.endpoints.map((e) => e.conditions);
    assert.deepEqual(plain, [{ ready: false, serving: true, terminating: true }, { ready: false, serving: false, terminating: true }]);
    const published = run({ pods, service: svc({ publishNotReadyAddresses: true }) }).create[0]!.endpoints.map((e) => e.conditions);
    assert.deepEqual(published, [{ ready: true, serving: true, terminating: true }, { ready: true, serving: false, terminating: true }]);
  });

  it('groups pods by how their named ports resolve, and sets hostnames for pods in the service subdomain', () => {
    const plan = run({ pods: [pod(1), pod(2, { port: 9090, hostname: 'db-0' }), pod(3)] });
    const byPort = new Map(plan.create.map((s) => [s.ports?.[0]?.port, s.endpoints.map((e) => e.targetRef?.name)]));
    assert.deepEqual(Object.fromEntries(byPort), { 8080: ['web-001', 'web-003'], 9090: ['web-002'] });
    assert.equal(plan.create.find((s) => s.ports?.[0]?.port === 9090)!.endpoints[0]!.hostname, 'db-0');
  });

  it('keeps one placeholder slice for a service without endpoints, and does not rewrite it', () => {
    const plan = run({ pods: [] });
    assert.equal(plan.create.length, 1);
    assert.deepEqual(plan.create[0]!.endpoints, []);
    assert.deepEqual(plan.create[0]!.ports, []);
    const slices = apply([], plan);
    assert.deepEqual(run({ pods: [], existing: slices }), { create: [], update: [], delete: [], skippedPods: [] });
    // Endpoints arrive: the placeholder is reused (updated), not deleted and created again.
    const next = run({ pods: [pod(1)], existing: slices });
    assert.equal(next.create.length + next.delete.length, 0);
    assert.equal(next.update[0]!.metadata.name, slices[0]!.metadata.name);
    assert.equal(next.update[0]!.endpoints.length, 1);
  });

  it('fills the slices it writes anyway before new ones, and reuses emptied slices', () => {
    const slices = apply([], run({ pods: Array.from({ length: 150 }, (_, i) => pod(i)) }));
    // 30 endpoints of the half-full slice go, 40 new pods come: they fill it instead of starting a slice.
    const pods = Array.from({ length: 150 }, (_, i) => pod(i)).filter((p) => {
      const n = Number(p.metadata.name?.slice(4));
      return n < 100 || n >= 130;
    });
    for (let i = 150; i < 190; i++) pods.push(pod(i));
    const plan = run({ pods, existing: slices });
    assert.equal(plan.create.length, 0);
    assert.equal(plan.delete.length, 0);
    const after = apply(slices, plan);
    assert.deepEqual(after.map((s) => s.endpoints.length).sort(), [100, 60]);
    assert.equal(addresses(after).length, 160);
  });

  it('honours a smaller --max-endpoints-per-slice', () => {
    const plan = run({ pods: Array.from({ length: 25 }, (_, i) => pod(i)), maxEndpointsPerSlice: 10 });
    assert.deepEqual(plan.create.map((s) => s.endpoints.length), [10, 10, 5]);
  });

  it('leaves out (and reports) pods on unknown nodes, deletes slices of another owner, and stamps the trigger time', () => {
    const foreign = stored({ ...run({ pods: [pod(5)] }).create[0]!, metadata: { ...run({ pods: [pod(5)] }).create[0]!.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'old-uid' }] } });
    const plan = run({ pods: [pod(1), pod(2, { node: 'gone' })], existing: [foreign], triggerTime: '2024-01-01T00:00:00Z' });
    assert.deepEqual(plan.skippedPods, ['web-002']);
    assert.deepEqual(plan.delete.map((s) => s.metadata.uid), [foreign.metadata.uid]);
    assert.equal(plan.create.length, 1);
    assert.deepEqual(plan.create[0]!.endpoints.map((e) => e.targetRef?.name), ['web-001']);
    assert.equal(plan.create[0]!.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME_ANNOTATION], '2024-01-01T00:00:00Z');
    assert.equal(run({ pods: [pod(2, { node: 'n2' })] }).create[0]!.endpoints[0]!.zone, undefined, 'a node without a zone label gives none');
  });
});
