// PodInfo (a pod with what scheduling needs precomputed) and NodeInfo (a node with its pods and their sums).
import { matchesLabelSelector, type Container, type LabelSelector, type LabelSelectorRequirement, type Node, type Pod, type PodAffinityTerm, type Taint } from '../../api/index.js';
import { addResources, CPU, EPHEMERAL_STORAGE, MEMORY, nodeAllocatable, podNonZeroRequests, podRequests, PODS, type Resources } from './resources.js';

const RESOURCE_ORDER = [CPU, MEMORY, EPHEMERAL_STORAGE];
/** Requested resources (non-zero, except the pod count) in Kubernetes' order: cpu, memory, ephemeral-storage, then by name. */
function requestList(r: Resources): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const k of RESOURCE_ORDER) if ((r[k] ?? 0) > 0) out.push([k, r[k]!]);
  const rest = Object.keys(r).filter((k) => k !== PODS && !RESOURCE_ORDER.includes(k) && r[k]! > 0);
  if (rest.length > 1) rest.sort();
  for (const k of rest) out.push([k, r[k]!]);
  return out;
}

/** A pod affinity term with its namespaces and selector resolved. */
export interface AffinityTerm {
  /** undefined: every namespace (an empty namespaceSelector). */
  namespaces: ReadonlySet<string> | undefined;
  selector: LabelSelector | undefined;
  topologyKey: string;
  weight: number;
}

export interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

/** The identity the cache and queue use: the uid when there is one, else namespace/name. */
export function podKey(pod: Pod): string {
  return pod.metadata?.uid ?? `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

export const podName = (pod: Pod): string => `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;

/** The pod's priority: spec.priority (the API server fills it from priorityClassName), else 0. */
export const podPriority = (pod: Pod): number => pod.spec.priority ?? 0;

function resolveTerm(pod: Pod, t: PodAffinityTerm, weight: number): AffinityTerm {
  const ns = pod.metadata?.namespace ?? 'default';
  let namespaces: Set<string> | undefined = new Set(t.namespaces ?? []);
  // An empty namespaceSelector selects all namespaces; a non-empty one needs namespace labels, which this scheduler
  // does not watch, so it adds no namespaces beyond the listed ones.
  const sel = t.namespaceSelector;
  if (sel && !sel.matchLabels && !sel.matchExpressions?.length) namespaces = undefined;
  else if (namespaces.size === 0 && !sel) namespaces.add(ns);
  let selector = t.labelSelector;
  const labels = pod.metadata?.labels ?? {};
  const extra: LabelSelectorRequirement[] = [];
  for (const k of t.matchLabelKeys ?? []) if (labels[k] !== undefined) extra.push({ key: k, operator: 'In', values: [labels[k]] });
  for (const k of t.mismatchLabelKeys ?? []) if (labels[k] !== undefined) extra.push({ key: k, operator: 'NotIn', values: [labels[k]] });
  if (selector && extra.length) selector = { ...selector, matchExpressions: [...(selector.matchExpressions ?? []), ...extra] };
  return { namespaces, selector, topologyKey: t.topologyKey, weight };
}

/** Whether an affinity term selects the pod. */
export function termMatches(term: AffinityTerm, pod: Pod): boolean {
  if (term.namespaces && !term.namespaces.has(pod.metadata?.namespace ?? 'default')) return false;
  return matchesLabelSelector(term.selector, pod.metadata?.labels);
}

/** What a pod asks of a node: its requests in the forms the plugins read, and its host ports. */
interface PodDemand {
  readonly requests: Resources;
  readonly requestList: ReadonlyArray<readonly [string, number]>;
  readonly nonZero: { readonly cpu: number; readonly memory: number };
  readonly otherRequests: ReadonlyArray<readonly [string, number]>;
  readonly hostPorts: readonly HostPort[];
}

const NO_TERMS: readonly AffinityTerm[] = Object.freeze([]);
const NO_PORTS: readonly HostPort[] = Object.freeze([]);

/**
 * Demands by the pod's containers array, for pods whose containers are a shared frozen array (the informer's structure
 * pool, client/string-pool.ts) and nothing else adds to their requests: the pods of one template share one demand
 * instead of holding seven objects and arrays each.
 */
const demands = new WeakMap<readonly Container[], PodDemand>();

function podDemand(pod: Pod): PodDemand {
  const containers = pod.spec.containers;
  const shared = containers !== undefined && Object.isFrozen(containers) && pod.spec.initContainers === undefined && pod.spec.overhead === undefined;
  const known = shared ? demands.get(containers) : undefined;
  if (known) return known;
  const requests = podRequests(pod);
  const list = requestList(requests);
  const hostPorts: HostPort[] = [];
  for (const c of containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.hostPort && p.hostPort > 0) hostPorts.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol ?? 'TCP', port: p.hostPort });
    }
  }
  // Frozen: one pod's plugins must never change what its siblings ask for.
  const demand: PodDemand = {
    requests: Object.freeze(requests),
    requestList: list,
    nonZero: Object.freeze(podNonZeroRequests(pod, requests)),
    otherRequests: list.filter(([k]) => k !== CPU && k !== MEMORY),
    hostPorts: hostPorts.length ? hostPorts : NO_PORTS,
  };
  if (shared) demands.set(containers, demand);
  return demand;
}

const terms = <T>(list: readonly T[] | undefined, resolve: (t: T) => AffinityTerm): readonly AffinityTerm[] => (list?.length ? list.map(resolve) : NO_TERMS);

export class PodInfo {
  readonly key: string;
  readonly priority: number;
  readonly requests: Resources;
  /** The non-zero requests, in the order a fit check reports them. */
  readonly requestList: ReadonlyArray<readonly [string, number]>;
  readonly nonZero: { readonly cpu: number; readonly memory: number };
  /** requests.cpu (millicores) and requests.memory, as fields: read for every node in a cycle. */
  readonly cpu: number;
  readonly memory: number;
  /** The non-zero non-cpu/memory requests, in requestList's order. */
  readonly otherRequests: ReadonlyArray<readonly [string, number]>;
  readonly hostPorts: readonly HostPort[];
  readonly requiredAffinity: readonly AffinityTerm[];
  readonly requiredAntiAffinity: readonly AffinityTerm[];
  readonly preferredAffinity: readonly AffinityTerm[];
  readonly preferredAntiAffinity: readonly AffinityTerm[];

  constructor(readonly pod: Pod) {
    this.key = podKey(pod);
    this.priority = podPriority(pod);
    const d = podDemand(pod);
    this.requests = d.requests;
    this.requestList = d.requestList;
    this.nonZero = d.nonZero;
    this.cpu = d.requests[CPU] ?? 0;
    this.memory = d.requests[MEMORY] ?? 0;
    this.otherRequests = d.otherRequests;
    this.hostPorts = d.hostPorts;
    const a = pod.spec.affinity;
    this.requiredAffinity = terms(a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution, (t) => resolveTerm(pod, t, 1));
    this.requiredAntiAffinity = terms(a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, (t) => resolveTerm(pod, t, 1));
    this.preferredAffinity = terms(a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution, (w) => resolveTerm(pod, w.podAffinityTerm, w.weight));
    this.preferredAntiAffinity = terms(a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, (w) => resolveTerm(pod, w.podAffinityTerm, w.weight));
  }

  private imageList: readonly string[] | undefined;

  get name(): string {
    return podName(this.pod);
  }
  /** The images of the init and regular containers, normalized (computed on first use). */
  get images(): readonly string[] {
    this.imageList ??= [...(this.pod.spec.initContainers ?? []), ...(this.pod.spec.containers ?? [])].map((c) => normalizeImage(c.image));
    return this.imageList;
  }
  get labels(): Record<string, string> {
    return this.pod.metadata?.labels ?? {};
  }
  get namespace(): string {
    return this.pod.metadata?.namespace ?? 'default';
  }
  get hasAffinity(): boolean {
    return this.requiredAffinity.length + this.requiredAntiAffinity.length + this.preferredAffinity.length + this.preferredAntiAffinity.length > 0;
  }
}

/** Image names as a container runtime reports them: registry, repository and tag spelled out. */
export function normalizeImage(image: string): string {
  let name = image;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0) name = `docker.io/library/${name}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') name = `docker.io/${name}`;
  if (!name.includes('@') && !name.slice(name.lastIndexOf('/') + 1).includes(':')) name += ':latest';
  return name;
}

const NO_TAINTS: readonly Taint[] = [];

/**
 * A node and the pods on it (scheduled, assumed, or in a simulation), with running sums. What the filter and score
 * loops read for every node (pod count, cpu, memory, cordon, taints) is also kept in fields of this object, so that a
 * cycle over thousands of nodes touches one object per node rather than four or five.
 */
export class NodeInfo {
  node: Node | undefined;
  allocatable: Resources = {};
  readonly pods = new Map<string, PodInfo>();
  /** Sum of the pods' requests; requested[PODS] is the pod count. */
  readonly requested: Resources = {};
  readonly nonZeroRequested = { cpu: 0, memory: 0 };
  allocatableCpu = 0;
  allocatableMemory = 0;
  allocatablePods = 0;
  podCount = 0;
  requestedCpu = 0;
  requestedMemory = 0;
  nonZeroRequestedCpu = 0;
  nonZeroRequestedMemory = 0;
  /** spec.unschedulable (cordoned). */
  unschedulable = false;
  taints: readonly Taint[] = NO_TAINTS;
  readonly usedPorts: HostPort[] = [];
  /** Pods with any inter-pod affinity term, and those with required anti-affinity (checked against every new pod). */
  readonly podsWithAffinity = new Set<PodInfo>();
  readonly podsWithRequiredAntiAffinity = new Set<PodInfo>();
  /** Normalized image name -> size in bytes. */
  images = new Map<string, number>();
  /** Bumped on every change, so a snapshot can tell what moved. */
  generation = 0;

  constructor(
    readonly name: string,
    node?: Node,
  ) {
    if (node) this.setNode(node);
  }

  setNode(node: Node): void {
    this.node = node;
    this.allocatable = nodeAllocatable(node);
    this.allocatableCpu = this.allocatable[CPU] ?? 0;
    this.allocatableMemory = this.allocatable[MEMORY] ?? 0;
    this.allocatablePods = this.allocatable[PODS] ?? 0;
    this.unschedulable = !!node.spec?.unschedulable;
    this.taints = node.spec?.taints ?? NO_TAINTS;
    const images = new Map<string, number>();
    for (const img of node.status?.images ?? []) for (const n of img.names ?? []) images.set(normalizeImage(n), img.sizeBytes ?? 0);
    this.images = images;
    this.generation++;
  }

  get labels(): Record<string, string> {
    return this.node?.metadata?.labels ?? {};
  }

  addPod(pi: PodInfo): void {
    if (this.pods.has(pi.key)) this.removePod(pi.key);
    this.pods.set(pi.key, pi);
    addResources(this.requested, pi.requests);
    this.sums(pi, 1);
    this.usedPorts.push(...pi.hostPorts);
    if (pi.hasAffinity) this.podsWithAffinity.add(pi);
    if (pi.requiredAntiAffinity.length) this.podsWithRequiredAntiAffinity.add(pi);
    this.generation++;
  }

  removePod(key: string): PodInfo | undefined {
    const pi = this.pods.get(key);
    if (!pi) return undefined;
    this.pods.delete(key);
    addResources(this.requested, pi.requests, -1);
    this.sums(pi, -1);
    for (const hp of pi.hostPorts) {
      const i = this.usedPorts.findIndex((u) => u.ip === hp.ip && u.port === hp.port && u.protocol === hp.protocol);
      if (i >= 0) this.usedPorts.splice(i, 1);
    }
    this.podsWithAffinity.delete(pi);
    this.podsWithRequiredAntiAffinity.delete(pi);
    this.generation++;
    return pi;
  }

  private sums(pi: PodInfo, sign: 1 | -1): void {
    this.podCount = this.pods.size;
    this.requested[PODS] = this.podCount;
    this.nonZeroRequested.cpu += sign * pi.nonZero.cpu;
    this.nonZeroRequested.memory += sign * pi.nonZero.memory;
    this.nonZeroRequestedCpu = this.nonZeroRequested.cpu;
    this.nonZeroRequestedMemory = this.nonZeroRequested.memory;
    this.requestedCpu = this.requested[CPU] ?? 0;
    this.requestedMemory = this.requested[MEMORY] ?? 0;
  }

  /** A copy whose pods can be added and removed without touching this one (preemption's simulation). */
  clone(): NodeInfo {
    const c = new NodeInfo(this.name);
    c.node = this.node;
    c.allocatable = this.allocatable;
    c.allocatableCpu = this.allocatableCpu;
    c.allocatableMemory = this.allocatableMemory;
    c.allocatablePods = this.allocatablePods;
    c.unschedulable = this.unschedulable;
    c.taints = this.taints;
    c.images = this.images;
    for (const pi of this.pods.values()) c.addPod(pi);
    c.generation = this.generation;
    return c;
  }
}
