// The agent's Node: registration, the pod CIDR wait, the lease heartbeat and the node conditions.
import { isAlreadyExists, isConflict, isNotFound, nowRFC3339, nowRFC3339Micro, type Lease, type Node, type NodeCondition } from '../api/index.js';
import type { ResourceClient, RestClient } from '../client/index.js';
import { every, sleepUnlessAborted, type Clock, type TimerHandle } from '../lib/clock.js';
import { logger, type Logger } from '../lib/logger.js';
import { goArch, hostAddresses, hostCapacity, hostPressure, systemInfo } from './host.js';
import { AGENT_VERSION, LEASES, NODE_LEASE_NAMESPACE, NODES } from './resources.js';

export const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_MS = 10_000;
export const STATUS_UPDATE_MS = 10_000;
/** Even when nothing changed, the status is written this often (kubelet's nodeStatusReportFrequency). */
export const STATUS_REPORT_MS = 5 * 60_000;

export interface RuntimeHealth {
  ready: boolean;
  message: string;
}

export interface NodeStatusOptions {
  rest: RestClient;
  nodeName: string;
  rootDir: string;
  clock: Clock;
  /** containerd://1.6.20, ketch-runtime://0.1.0 */
  runtimeVersion: string;
  /** The port of the agent's HTTPS server (Node.status.daemonEndpoints.kubeletEndpoint.Port). */
  port: number;
  address?: string;
  labels?: Record<string, string>;
  maxPods?: number;
  runtimeHealth(): Promise<RuntimeHealth>;
  /** The volumes mounted for pods that kubelet reports in use (status.volumesInUse), sorted. */
  volumesInUse?(): string[];
}

/** A lease object for `node`, owned by the Node so it goes when the node goes. */
export function nodeLease(node: Node, now: Date): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: node.metadata.name,
      namespace: NODE_LEASE_NAMESPACE,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.metadata.name ?? '', uid: node.metadata.uid ?? '' }],
    },
    spec: { holderIdentity: node.metadata.name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: nowRFC3339Micro(now) },
  } as Lease;
}

/** Creates or renews the node's lease; returns the lease as written. */
export async function renewLease(leases: ResourceClient<Lease>, node: Node, now: Date, current?: Lease): Promise<Lease> {
  const name = node.metadata.name ?? '';
  let lease = current;
  if (!lease) {
    try {
      lease = await leases.get(NODE_LEASE_NAMESPACE, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        return await leases.create(NODE_LEASE_NAMESPACE, nodeLease(node, now));
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        lease = await leases.get(NODE_LEASE_NAMESPACE, name);
      }
    }
  }
  const next: Lease = { ...lease, spec: { ...lease.spec, holderIdentity: name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: nowRFC3339Micro(now) } };
  try {
    return await leases.update(next);
  } catch (err) {
    if (!isConflict(err) && !isNotFound(err)) throw err;
    return renewLease(leases, node, now); // re-read and try once more from scratch
  }
}

/** Keeps lastTransitionTime when a condition's status did not change. */
export function mergeConditions(old: NodeCondition[] | undefined, next: NodeCondition[]): NodeCondition[] {
  return next.map((c) => {
    const prev = old?.find((o) => o.type === c.type);
    return prev && prev.status === c.status && prev.lastTransitionTime ? { ...c, lastTransitionTime: prev.lastTransitionTime } : c;
  });
}

const sameIgnoringHeartbeat = (a: NodeCondition[] | undefined, b: NodeCondition[]): boolean =>
  JSON.stringify((a ?? []).map(({ lastHeartbeatTime: _h, ...r }) => r)) === JSON.stringify(b.map(({ lastHeartbeatTime: _h, ...r }) => r));

/** The same condition types with the same status and reason (messages and times aside). */
export const sameVerdicts = (a: NodeCondition[] | undefined, b: NodeCondition[]): boolean =>
  JSON.stringify((a ?? []).map((c) => [c.type, c.status, c.reason])) === JSON.stringify(b.map((c) => [c.type, c.status, c.reason]));

export class NodeStatusManager {
  readonly nodes: ResourceClient<Node>;
  readonly leases: ResourceClient<Lease>;
  private readonly log: Logger;
  private node: Node | undefined;
  private lease: Lease | undefined;
  private readonly timers = new Map<string, TimerHandle>();
  private lastReport = 0;
  private stopped = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly o: NodeStatusOptions) {
    this.nodes = o.rest.resource<Node>(NODES);
    this.leases = o.rest.resource<Lease>(LEASES);
    this.log = logger('agent', { node: o.nodeName });
  }

  get current(): Node | undefined {
    return this.node;
  }

  async hostIP(): Promise<string> {
    return this.o.address ?? hostAddresses()[0]!.address;
  }

  private async desiredStatus(old: Node | undefined): Promise<NonNullable<Node['status']> & { conditions: NodeCondition[] }> {
    const capacity = await hostCapacity(this.o.rootDir, this.o.maxPods);
    const now = nowRFC3339(new Date(this.o.clock.now()));
    const health = await this.o.runtimeHealth().catch((err: unknown) => ({ ready: false, message: `runtime: ${String(err)}` }));
    const p = await hostPressure(this.o.rootDir);
    const cond = (type: string, ok: boolean, reasonTrue: string, reasonFalse: string, message: string): NodeCondition => ({
      type,
      status: ok ? 'True' : 'False',
      reason: ok ? reasonTrue : reasonFalse,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    const conditions = mergeConditions(old?.status?.conditions, [
      cond('MemoryPressure', p.memory.pressure, 'KubeletHasInsufficientMemory', 'KubeletHasSufficientMemory', p.memory.message),
      cond('DiskPressure', p.disk.pressure, 'KubeletHasDiskPressure', 'KubeletHasNoDiskPressure', p.disk.message),
      cond('PIDPressure', p.pid.pressure, 'KubeletHasInsufficientPID', 'KubeletHasSufficientPID', p.pid.message),
      cond('Ready', health.ready, 'KubeletReady', 'KubeletNotReady', health.ready ? 'agent is posting ready status' : health.message),
    ]);
    return {
      capacity: { ...capacity },
      allocatable: { ...capacity },
      conditions,
      addresses: hostAddresses(await this.hostIP()),
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.port } },
      nodeInfo: await systemInfo(this.o.runtimeVersion, AGENT_VERSION),
      // Written empty once volumes were in use, so that the list empties; left out while none ever was.
      ...(this.o.volumesInUse && (this.o.volumesInUse().length || old?.status?.volumesInUse?.length) ? { volumesInUse: this.o.volumesInUse() } : {}),
    };
  }

  private labels(): Record<string, string> {
    return { 'kubernetes.io/hostname': this.o.nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': goArch(), ...(this.o.labels ?? {}) };
  }

  /** Creates the Node (or adopts an existing one) and writes its status. */
  async register(): Promise<Node> {
    const name = this.o.nodeName;
    let node: Node;
    try {
      node = await this.nodes.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: this.labels() }, spec: {} } as Node);
      this.log.info('node registered', { node: name });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      node = await this.nodes.get(undefined, name);
      const labels = { ...(node.metadata.labels ?? {}), ...this.labels() };
      if (JSON.stringify(labels) !== JSON.stringify(node.metadata.labels ?? {})) {
        node = await this.nodes.patch(undefined, name, { metadata: { labels } });
      }
      this.log.info('node already registered, adopting it', { node: name });
    }
    this.node = node;
    await this.updateStatus(true);
    return this.node;
  }

  /** Writes the node status when a condition, capacity or address changed, or every STATUS_REPORT_MS. */
  async updateStatus(force = false): Promise<void> {
    const run = async (): Promise<void> => {
      const old = this.node;
      const status = await this.desiredStatus(old);
      const now = this.o.clock.now();
      const { conditions, ...rest } = status;
      const { conditions: oldConditions, ...oldRest } = old?.status ?? {};
      const sameRest = JSON.stringify(rest) === JSON.stringify({ ...rest, ...pick(oldRest, Object.keys(rest)) });
      const changed = !sameIgnoringHeartbeat(oldConditions, conditions) || !sameRest;
      if (!force && !changed && now - this.lastReport < STATUS_REPORT_MS) return;
      this.node = await this.nodes.patch(undefined, this.o.nodeName, { status }, 'merge', { sub: 'status' });
      this.lastReport = now;
      // A condition's status or reason, capacity or addresses changing is news; a new message alone (free memory, disk)
      // or the periodic report is the heartbeat, at debug: a node where nothing happens keeps the terminal quiet.
      const ready = conditions.find((c) => c.type === 'Ready')?.status;
      if (changed && (!sameVerdicts(oldConditions, conditions) || !sameRest)) this.log.info('node status updated', { node: this.o.nodeName, ready });
      else this.log.debug('node status reported', { node: this.o.nodeName, ready });
    };
    this.busy = this.busy.then(run, run);
    await this.busy;
  }

  /** Waits until the node has spec.podCIDR (allocated by the controller manager), re-reading the node. */
  async waitForPodCIDR(signal: AbortSignal, onNode?: (n: Node) => void): Promise<string> {
    const has = (n: Node | undefined): string | undefined => n?.spec?.podCIDR || n?.spec?.podCIDRs?.[0];
    let logged = false;
    while (!signal.aborted) {
      const n = await this.nodes.get(undefined, this.o.nodeName).catch((err: unknown) => {
        this.log.debug('node read failed, watching it instead', { error: String(err) });
        return undefined;
      });
      if (n) {
        this.node = { ...n, status: this.node?.status ?? n.status };
        onNode?.(n);
      }
      const cidr = has(n);
      if (cidr) return cidr;
      if (!logged) this.log.info('waiting for a pod CIDR on the node', { node: this.o.nodeName });
      logged = true;
      try {
        for await (const ev of this.nodes.watch(undefined, { fieldSelector: `metadata.name=${this.o.nodeName}`, resourceVersion: n?.metadata.resourceVersion, signal, timeoutSeconds: 30 })) {
          if (has(ev.object)) break;
        }
      } catch (err) {
        if (signal.aborted) break;
        this.log.debug('node watch failed', { error: String(err) });
        await sleepUnlessAborted(this.o.clock, 500, signal);
      }
    }
    throw new Error('stopped while waiting for a pod CIDR');
  }

  /** Starts the lease heartbeat and the status loop. */
  start(): void {
    const renew = async (): Promise<void> => {
      if (!this.node || this.stopped) return;
      try {
        this.lease = await renewLease(this.leases, this.node, new Date(this.o.clock.now()), this.lease);
      } catch (err) {
        this.lease = undefined;
        this.log.warn('lease renewal failed', { node: this.o.nodeName, error: String(err) });
      }
    };
    const status = async (): Promise<void> => {
      if (this.stopped) return;
      await this.updateStatus().catch((err: unknown) => this.log.warn('node status update failed', { error: String(err) }));
    };
    const failed = (err: unknown): void => void this.log.warn('node heartbeat failed', { error: String(err) });
    this.timers.set('lease', every(this.o.clock, LEASE_RENEW_MS, renew, failed));
    this.timers.set('status', every(this.o.clock, STATUS_UPDATE_MS, status, failed, { delayFirst: true }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    // The last status write's failure, if any, was already reported to whoever awaited it.
    await this.busy.catch(() => undefined);
  }
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}
