// Hollow nodes: a fake agent with no runtime for scale tests and the scheduler benchmark. It registers N Nodes,
// renews their leases and marks the pods bound to them Running and Ready (and finishes their deletion).
import { limiter } from '../lib/limit.js';
import { isAlreadyExists, isConflict, isNotFound, nowRFC3339, type Lease, type Node, type Pod } from '../api/index.js';
import { Informer, type RestClient } from '../client/index.js';
import { every, realClock, type Clock } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import { LEASE_RENEW_MS, renewLease } from './node-status.js';
import { AGENT_VERSION, LEASES, NODES, PODS } from './resources.js';

export interface HollowNodesOptions {
  rest: RestClient;
  count: number;
  /** Node names are PREFIX0, PREFIX1, ... (default "hollow-node-"). */
  prefix?: string;
  clock?: Clock;
  /** Capacity of each node (default cpu 4, memory 16Gi, pods 110). */
  capacity?: Record<string, string>;
  labels?: Record<string, string>;
  /**
   * How many API writes run at once (default 64, the client's sockets): the nodes stand for as many kubelets, each with
   * a connection of its own; at 16 the pod status writes of 1,000 nodes were capped near 700/s by the round trip.
   * Lease renewals have slots of their own.
   */
  concurrency?: number;
  /**
   * The client of the lease renewals (default: rest). As each kubelet has its own connection for its heartbeats,
   * a client of their own keeps them from waiting for connections behind pod-status writes.
   */
  heartbeatRest?: RestClient;
}

/**
 * Lease renewals in flight at once, apart from the other writes: a node's heartbeat never waits behind a backlog of
 * pod-status writes, which under load would make it miss the node monitor's grace period and go NotReady. Every node
 * renews each LEASE_RENEW_MS, so the slots grow with the nodes (one per 100, 8 at least): at a fixed 8 and ~50 ms a
 * renewal under load, 5,000 hollow nodes could renew ~160 leases a second of the 500 they need (bench:density at
 * 5,000 x 150,000 then ended with more pods Running than replicas: pods deleted after they ran).
 */
export const heartbeatSlots = (nodes: number): number => Math.max(8, Math.ceil(nodes / 100));

export interface HollowNodes {
  nodes: string[];
  stop(): Promise<void>;
}


/** The status of hollow node i: fixed capacity, every condition fine, a made-up InternalIP. */
function hollowNodeStatus(name: string, i: number, capacity: Record<string, string>, now: string): NonNullable<Node['status']> {
  const c = (type: string, ok: boolean, reason: string) => ({ type, status: (ok ? 'True' : 'False') as 'True' | 'False', reason, message: 'hollow node', lastHeartbeatTime: now, lastTransitionTime: now });
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      c('MemoryPressure', false, 'KubeletHasSufficientMemory'),
      c('DiskPressure', false, 'KubeletHasNoDiskPressure'),
      c('PIDPressure', false, 'KubeletHasSufficientPID'),
      c('Ready', true, 'KubeletReady'),
    ],
    addresses: [
      { type: 'InternalIP', address: `10.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}` },
      { type: 'Hostname', address: name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: `hollow-${i}`,
      systemUUID: `hollow-${i}`,
      bootID: `hollow-${i}`,
      kernelVersion: 'hollow',
      osImage: 'hollow',
      containerRuntimeVersion: 'fake://0.0.0',
      kubeletVersion: AGENT_VERSION,
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

/**
 * The status a bound pod gets on a hollow node: Running and Ready at once, with a made-up pod IP. Sent as a merge patch
 * of the status subresource, as a kubelet patches its pods' status (the rest of the status stays as the server has it).
 */
function hollowPodStatus(pod: Pod, hostIP: string, ip: string, now: string): NonNullable<Pod['status']> {
  const uid = pod.metadata.uid ?? '';
  const cond = (type: string) => ({ type, status: 'True' as const, lastTransitionTime: now });
  return {
    phase: 'Running',
    conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: now,
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      state: { running: { startedAt: now } },
      lastState: {},
      ready: true,
      started: true,
      restartCount: 0,
      image: c.image,
      imageID: `fake://${c.image}`,
      containerID: `fake://${uid}-${c.name}`,
    })),
  };
}

/**
 * What a hollow node keeps of a pod (its informer's transform): the name, uid and deletion, the node, the containers'
 * names and images, the phase. A thousand hollow nodes hold every bound pod; kept whole, with field ownership, their
 * process held 420-575 MB at 30,000 pods and spent its CPU collecting it, on the cores the control plane is measured on.
 */
export function hollowPodForm(pod: Pod): Pod {
  const m = pod.metadata;
  const metadata: Pod['metadata'] = { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
  if (m.deletionTimestamp !== undefined) metadata.deletionTimestamp = m.deletionTimestamp;
  const out: Pod = { apiVersion: 'v1', kind: 'Pod', metadata, spec: { nodeName: pod.spec.nodeName, containers: pod.spec.containers.map((c) => ({ name: c.name, image: c.image })) } };
  if (pod.status?.phase !== undefined) out.status = { phase: pod.status.phase };
  return out;
}

export async function startHollowNodes(o: HollowNodesOptions): Promise<HollowNodes> {
  const clock = o.clock ?? realClock;
  const prefix = o.prefix ?? 'hollow-node-';
  const log = logger('agent', { hollow: prefix });
  const nodesApi = o.rest.resource<Node>(NODES);
  const leasesApi = (o.heartbeatRest ?? o.rest).resource<Lease>(LEASES);
  const podsApi = o.rest.resource<Pod>(PODS);
  const limit = limiter(o.concurrency ?? 64);
  const heartbeat = limiter(heartbeatSlots(o.count));
  const capacity = o.capacity ?? { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  const names = Array.from({ length: o.count }, (_, i) => `${prefix}${i}`);
  const nameSet = new Set(names);
  const registered = new Map<string, Node>();
  const leases = new Map<string, Lease>();
  const now = (): string => nowRFC3339(new Date(clock.now()));

  await Promise.all(
    names.map((name, i) =>
      limit(async () => {
        const labels = { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'ketch.io/hollow': 'true', ...(o.labels ?? {}) };
        try {
          await nodesApi.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec: {} } as Node);
        } catch (err) {
          // A node of that name from an earlier run is adopted.
          if (!isAlreadyExists(err)) throw err;
        }
        registered.set(name, await nodesApi.patch(undefined, name, { status: hollowNodeStatus(name, i, capacity, now()) }, 'merge', { sub: 'status' }));
      }),
    ),
  );
  log.info('hollow nodes registered', { count: names.length });

  let stopped = false;
  const renewAll = (): Promise<unknown> =>
    Promise.all(
      names.map((name) =>
        heartbeat(async () => {
          const node = registered.get(name);
          if (!node || stopped) return;
          try {
            leases.set(name, await renewLease(leasesApi, node, new Date(clock.now()), leases.get(name)));
          } catch (err) {
            leases.delete(name);
            log.debug('hollow lease renewal failed', { node: name, error: String(err) });
          }
        }),
      ),
    );
  const renewing = every(clock, LEASE_RENEW_MS, renewAll, (err) => log.warn('hollow lease renewal failed', { error: String(err) }));

  let ipSeq = 0;
  const podIPs = new Map<string, string>();
  const informer = new Informer<Pod>(podsApi, { fieldSelector: 'spec.nodeName!=', clock, log, transform: hollowPodForm });
  const handle = (pod: Pod): void => {
    if (stopped || !nameSet.has(pod.spec.nodeName ?? '')) return;
    const uid = pod.metadata.uid ?? '';
    if (pod.metadata.deletionTimestamp) {
      void limit(() => podsApi.delete(pod.metadata.namespace, pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid } })).catch((err: unknown) => {
        if (!isNotFound(err) && !isConflict(err)) log.warn('hollow pod delete failed', { error: String(err) });
      });
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Running' || phase === 'Succeeded' || phase === 'Failed') return;
    let ip = podIPs.get(uid);
    if (!ip) {
      const n = ++ipSeq;
      ip = `10.${128 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`;
      podIPs.set(uid, ip);
    }
    const hostIP = registered.get(pod.spec.nodeName ?? '')?.status?.addresses?.[0]?.address ?? '';
    // The uid makes the patch a precondition: a pod deleted and made again under the name is not this one.
    const patch = { metadata: { uid }, status: hollowPodStatus(pod, hostIP, ip, now()) };
    void limit(() => podsApi.patch(pod.metadata.namespace, pod.metadata.name ?? '', patch, 'merge', { sub: 'status' })).catch((err: unknown) => {
      if (!isNotFound(err) && !isConflict(err)) log.warn('hollow pod status update failed', { error: String(err) });
    });
  };
  informer.addEventHandler({ onAdd: handle, onUpdate: (_o, p) => handle(p), onDelete: (p) => podIPs.delete(p.metadata.uid ?? '') });
  informer.start();
  await informer.waitForSync();

  return {
    nodes: names,
    async stop() {
      stopped = true;
      renewing.cancel();
      await informer.stop();
    },
  };
}
