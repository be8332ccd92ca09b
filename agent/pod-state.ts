// What the pod workers share (the agent's clients and settings) and what the agent remembers about one pod between
// passes: its sandbox and IP, probes, waiting reasons, exits seen, volumes, and the last status written.
import type { ConfigMap, ObjectReference, Pod, Secret } from '../api/index.js';
import { objectReference, PODS, type EventRecorder, type ResourceClient, type RestClient } from '../client/index.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Backoff } from './backoff.js';
import type { DeepPartial, PodSandboxConfig, RuntimeClient } from './cri/index.js';
import type { PodDns } from './dns/index.js';
import type { ContainerObservation } from './pod-status.js';
import type { SecurityOptions } from './pod-security.js';
import type { ContainerProbes } from './probes.js';
import type { VolumeManager } from './volumes.js';

export interface PodWorkerContext {
  rest: RestClient;
  pods: ResourceClient<Pod>;
  configMaps: ResourceClient<ConfigMap>;
  secrets: ResourceClient<Secret>;
  runtime: RuntimeClient;
  runtimeName: string;
  clock: Clock;
  log: Logger;
  volumes: VolumeManager;
  backoff: Backoff;
  events: EventRecorder;
  nodeName: string;
  hostIP: string;
  hostCapacity: Record<string, string>;
  /** The seccomp default and where Localhost profiles live. */
  security: SecurityOptions;
  /** The node's pod CIDR, once the controller manager has allocated it. */
  podCIDR(): string | undefined;
  logDir(pod: Pod): string;
  /**
   * How often a pod that is still changing (starting, backing off, waiting for something) is synced, and the period
   * of the runtime relist (pleg.ts), which syncs at once any pod whose containers or sandbox changed in the runtime.
   */
  syncIntervalMs: number;
  /** How often volume contents (configMaps, secrets, tokens) are rewritten (default VOLUME_REFRESH_MS, pod-sync.ts). */
  volumeRefreshMs?: number;
  /** The node's Services (agent/node-network.ts): pods' resolv.conf and service variables; without it, neither. */
  network?: PodNetworkSource;
}

/** What pods take from the node's Services: a resolv.conf by dnsPolicy and the service environment variables. */
export interface PodNetworkSource {
  podDns(pod: Pod): Promise<PodDns>;
  serviceEnv(pod: Pod): Promise<Map<string, string>>;
}

/** The runtime's view of a pod's containers, by name: the latest attempt and the one before, with probe results. */
export interface Observed {
  init: Map<string, ContainerObservation>;
  app: Map<string, ContainerObservation>;
  podIP?: string;
}

export type WaitingReason = { reason: string; message: string };

export class PodState {
  pod: Pod;
  readonly uid: string;
  readonly log: Logger;
  /** The pod object is gone from the API (force delete): tear down, nothing to report. */
  removed = false;
  sandboxId: string | undefined;
  sandboxConfig: DeepPartial<PodSandboxConfig> | undefined;
  podIP: string | undefined;
  /** Probe workers of running app containers, by container id. */
  readonly probes = new Map<string, ContainerProbes>();
  /** Why a container is not running now (CrashLoopBackOff, ErrImagePull, ...), by container name. */
  readonly waiting = new Map<string, WaitingReason>();
  /** When each exited container was first seen exited (clock time), by id: back-off counts from there. */
  readonly exitSeen = new Map<string, number>();
  startTime: string | undefined;
  volumes: Map<string, string> | undefined;
  volumesAt = 0;
  /** A finished pod's sandbox was stopped (its network released; containers kept for their logs). */
  sandboxStopped = false;
  lastWritten = '';
  /** The containers as the terminating pass left them, for the final status. */
  final: Observed | undefined;

  constructor(
    pod: Pod,
    log: Logger,
    /** Asks the pod's worker for a pass (a probe result changed). */
    readonly wake: () => void,
  ) {
    this.pod = pod;
    this.uid = pod.metadata.uid ?? '';
    this.log = log.child({ pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
  }

  get key(): string {
    return `${this.pod.metadata.namespace}/${this.pod.metadata.name}`;
  }

  /** The pod as an event's involved object. */
  ref(): ObjectReference {
    return objectReference(this.pod, PODS);
  }

  setWaitingAll(reason: string, message: string): void {
    for (const c of [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]) this.waiting.set(c.name, { reason, message });
  }

  stopProbes(): void {
    for (const p of this.probes.values()) p.stop();
    this.probes.clear();
  }
}
