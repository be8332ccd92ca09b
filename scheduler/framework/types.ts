// The scheduling framework's contracts: Status, cycle state, cluster events and the small plugin interfaces.
import type { CSINode, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../api/index.js';
import type { Clock } from '../../lib/clock.js';
import type { NodeInfo, PodInfo } from './node-info.js';

export type Code = 'Success' | 'Error' | 'Unschedulable' | 'UnschedulableAndUnresolvable' | 'Skip';

/** A plugin's verdict. Failure is data: reasons are the words that end up in the FailedScheduling message. */
export class Status {
  private constructor(
    readonly code: Code,
    readonly reasons: readonly string[],
    readonly plugin = '',
    readonly error?: Error,
  ) {}

  static readonly SUCCESS = new Status('Success', []);
  static readonly SKIP = new Status('Skip', []);

  static success(): Status {
    return Status.SUCCESS;
  }
  static skip(): Status {
    return Status.SKIP;
  }
  /** The pod does not fit now, but removing pods (preemption) or a cluster change may help. */
  static unschedulable(...reasons: string[]): Status {
    return new Status('Unschedulable', reasons);
  }
  /** The pod cannot fit this node whatever pods are removed from it: preemption skips the node. */
  static unresolvable(...reasons: string[]): Status {
    return new Status('UnschedulableAndUnresolvable', reasons);
  }
  static error(err: unknown): Status {
    const e = err instanceof Error ? err : new Error(String(err));
    return new Status('Error', [e.message], '', e);
  }

  withPlugin(plugin: string): Status {
    return this.code === 'Success' || this.plugin === plugin ? this : new Status(this.code, this.reasons, plugin, this.error);
  }
  isSuccess(): boolean {
    return this.code === 'Success';
  }
  isSkip(): boolean {
    return this.code === 'Skip';
  }
  isRejected(): boolean {
    return this.code === 'Unschedulable' || this.code === 'UnschedulableAndUnresolvable';
  }
  get message(): string {
    return this.reasons.join(', ');
  }
}

/** A typed key into CycleState. */
export interface StateKey<T> {
  readonly name: string;
  /** Only carries T for the type checker. */
  readonly phantom?: T;
}
export const stateKey = <T>(name: string): StateKey<T> => ({ name });

/** Data may implement clone() so that preemption can simulate on a copy of the state. */
export interface Cloneable<T> {
  clone(): T;
}

/** Per-attempt scratch space shared by a pod's plugins: PreFilter computes, Filter and Score read. */
export class CycleState {
  private readonly data = new Map<string, unknown>();
  /** Plugins whose PreFilter/PreScore returned Skip: their Filter/Score is not called in this cycle. */
  readonly skipFilter = new Set<string>();
  readonly skipScore = new Set<string>();

  write<T>(key: StateKey<T>, value: T): void {
    this.data.set(key.name, value);
  }
  read<T>(key: StateKey<T>): T | undefined {
    return this.data.get(key.name) as T | undefined;
  }
  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.data) {
      const cl = (v as Partial<Cloneable<unknown>> | null)?.clone;
      c.data.set(k, typeof cl === 'function' ? cl.call(v) : v);
    }
    for (const s of this.skipFilter) c.skipFilter.add(s);
    for (const s of this.skipScore) c.skipScore.add(s);
    return c;
  }
}

/** A change to the cluster that may make unschedulable pods schedulable (ClusterEvent + ActionType in Kubernetes). */
export type ClusterEvent =
  | 'NodeAdd'
  | 'NodeDelete'
  | 'NodeLabelChange'
  | 'NodeTaintChange'
  | 'NodeAllocatableChange'
  | 'NodeSpecUnschedulableChange'
  | 'NodeImageChange'
  | 'AssignedPodAdd'
  | 'AssignedPodUpdate'
  | 'AssignedPodDelete'
  | 'PvcAdd'
  | 'PvcUpdate'
  | 'PvAdd'
  | 'PvUpdate'
  | 'StorageClassAdd'
  | 'CSINodeChange';

export const ALL_EVENTS: readonly ClusterEvent[] = [
  'NodeAdd',
  'NodeDelete',
  'NodeLabelChange',
  'NodeTaintChange',
  'NodeAllocatableChange',
  'NodeSpecUnschedulableChange',
  'NodeImageChange',
  'AssignedPodAdd',
  'AssignedPodUpdate',
  'AssignedPodDelete',
  'PvcAdd',
  'PvcUpdate',
  'PvAdd',
  'PvUpdate',
  'StorageClassAdd',
  'CSINodeChange',
];

/** The read-only view of the cluster a scheduling cycle works on. */
export interface Snapshot {
  list(): readonly NodeInfo[];
  get(name: string): NodeInfo | undefined;
  /** How many nodes report having this (normalized) image; for ImageLocality's spread factor. */
  imageNodeCount(image: string): number;
  /** Whether any scheduled pod has inter-pod affinity or anti-affinity terms (lets InterPodAffinity skip work). */
  readonly podsWithAffinity: number;
}

/** The API writes a plugin may ask for; the scheduler implements them with the REST client, tests with fakes. */
export interface SchedulerApi {
  bind(pod: Pod, nodeName: string): Promise<void>;
  /** Writes a volume (VolumeBinding's claimRef) or a claim (its selected-node annotation); resolves to what was stored. */
  updateVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  updateClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  /** Gracefully deletes a victim, marking it DisruptionTarget and recording a Preempted event. */
  evict(victim: Pod, preemptor: Pod, nodeName: string): Promise<void>;
  /** Sets (or clears, with '') status.nominatedNodeName. */
  setNominatedNodeName(pod: Pod, nodeName: string): Promise<void>;
}

/** The storage objects, from the scheduler's informers (the volume plugins' listers). Never mutate what they return. */
export interface VolumeListers {
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  volume(name: string): PersistentVolume | undefined;
  /** The volumes of a storage class ('' = no class). */
  volumesOfClass(storageClassName: string): readonly PersistentVolume[];
  storageClass(name: string): StorageClass | undefined;
  csiNode(name: string): CSINode | undefined;
  /**
   * Calls fn after each change to one of the claims (`namespace/name`) or to a volume whose claimRef names one (before
   * or after the change), until the returned function is called.
   */
  onClaimChange(claimKeys: readonly string[], fn: () => void): () => void;
}

/** What plugins get from the framework. */
export interface Handle {
  readonly snapshot: Snapshot;
  readonly volumes: VolumeListers;
  readonly clock: Clock;
  readonly random: () => number;
  readonly api: SchedulerApi;
  /** Pending pods nominated (by preemption) to run on the node. */
  nominatedPods(nodeName: string): readonly PodInfo[];
  /** Runs the profile's filter plugins against one node (no nominated pods): for preemption's simulation. */
  runFilters(state: CycleState, pod: PodInfo, node: NodeInfo): Status;
  /** Tells the PreFilter plugins that a pod was added to or removed from a node in a simulation. */
  runPreFilterAddPod(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void;
  runPreFilterRemovePod(state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo): void;
}

export interface Plugin {
  readonly name: string;
  /** The cluster events that may make a pod this plugin rejected schedulable. */
  readonly events?: readonly ClusterEvent[];
}

export interface PreFilterPlugin extends Plugin {
  /** Computes per-pod state; Skip means the plugin's Filter has nothing to check for this pod. */
  preFilter(state: CycleState, pod: PodInfo): Status;
  /** Keeps PreFilter state right when preemption simulates adding or removing pods. */
  addPod?(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void;
  removePod?(state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo): void;
}

/** PreFilter state that counts the pods on nodes; preemption's simulated adds and removes go through count(). */
export interface PodCounting {
  count(pod: PodInfo, other: PodInfo, node: NodeInfo, delta: 1 | -1): void;
}

/** addPod and removePod for a plugin whose PreFilter state (under key) counts pods. */
export function podCountingExtensions(key: StateKey<PodCounting>): Required<Pick<PreFilterPlugin, 'addPod' | 'removePod'>> {
  return {
    addPod: (state, pod, added, node) => state.read(key)?.count(pod, added, node, 1),
    removePod: (state, pod, removed, node) => state.read(key)?.count(pod, removed, node, -1),
  };
}

export interface FilterPlugin extends Plugin {
  filter(state: CycleState, pod: PodInfo, node: NodeInfo): Status;
}

export interface PostFilterResult {
  status: Status;
  nominatedNodeName?: string;
}

/** Runs when no node fits (preemption). */
export interface PostFilterPlugin extends Plugin {
  postFilter(state: CycleState, pod: PodInfo, statuses: ReadonlyMap<string, Status>): Promise<PostFilterResult>;
}

export interface PreScorePlugin extends Plugin {
  /** nodes are the feasible ones; Skip means the plugin's Score is not needed for this pod. */
  preScore(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status;
}

export interface NodeScore {
  name: string;
  score: number;
}

export const MAX_NODE_SCORE = 100;

export interface ScorePlugin extends Plugin {
  /** 0..MAX_NODE_SCORE, or any number when normalizeScores maps it into that range. */
  score(state: CycleState, pod: PodInfo, node: NodeInfo): number;
  normalizeScores?(state: CycleState, pod: PodInfo, scores: NodeScore[]): void;
}

/** Reserve runs when a node is chosen (before binding); unreserve undoes it if binding fails. */
export interface ReservePlugin extends Plugin {
  reserve(state: CycleState, pod: PodInfo, nodeName: string): Status;
  unreserve(state: CycleState, pod: PodInfo, nodeName: string): void;
}

/** PreBind runs after Reserve, off the scheduling loop, before the pod is bound (VolumeBinding writes and waits here). */
export interface PreBindPlugin extends Plugin {
  /** Skip when the plugin has nothing to do for this pod on this node (the binding then needs no PreBind step). */
  preBindPreFlight(state: CycleState, pod: PodInfo, nodeName: string): Status;
  preBind(state: CycleState, pod: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status>;
}

export interface BindPlugin extends Plugin {
  /** Skip passes the pod on to the next bind plugin. */
  bind(state: CycleState, pod: PodInfo, nodeName: string): Promise<Status>;
}

export const isPreFilter = (p: Plugin): p is PreFilterPlugin => typeof (p as PreFilterPlugin).preFilter === 'function';
export const isFilter = (p: Plugin): p is FilterPlugin => typeof (p as FilterPlugin).filter === 'function';
export const isPostFilter = (p: Plugin): p is PostFilterPlugin => typeof (p as PostFilterPlugin).postFilter === 'function';
export const isPreScore = (p: Plugin): p is PreScorePlugin => typeof (p as PreScorePlugin).preScore === 'function';
export const isScore = (p: Plugin): p is ScorePlugin => typeof (p as ScorePlugin).score === 'function';
export const isReserve = (p: Plugin): p is ReservePlugin => typeof (p as ReservePlugin).reserve === 'function';
export const isPreBind = (p: Plugin): p is PreBindPlugin => typeof (p as PreBindPlugin).preBind === 'function';
export const isBind = (p: Plugin): p is BindPlugin => typeof (p as BindPlugin).bind === 'function';

/** Builds a plugin from its pluginConfig args (already an object; each plugin narrows what it reads). */
export type PluginFactory = (args: Record<string, unknown>, handle: Handle) => Plugin;
