// PodInfo (a pod with what scheduling needs precomputed) and NodeInfo (a node with its pods and their sums).
import { matchesLabelSelector, type LabelSelector, type LabelSelectorRequirement, type Node, type Pod, type PodAffinityTerm, type Taint } from '../../api/index.js';
import { addResources, CPU, EPHEMERAL_STORAGE, MEMORY, nodeAllocatable, podNonZeroRequests, podRequests, PODS, type Resources } from './resources.js';

const RESOURCE_ORDER = [CPU, MEMORY, EPHEMERAL_STORAGE];
/** Requested resources (non-zero, except the pod count) in Kubernetes' order: cpu, memory, ephemeral-storage, then by name. */
function requestList(r: Resources): Array<[string, number]> {
  const order = (k: string): number => RESOURCE_ORDER.indexOf(k) + 1 || RESOURCE_ORDER.length + 1;
  return Object.entries(r)
    .filter(([k, v]) => k !== PODS && v > 0)
    .sort((a, b) => order(a[0]) - order(b[0]) || (a[0] < b[0] ? -1 : 1));
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

export class PodInfo {
  readonly key: string;
  readonly priority: number;
  readonly requests: Resources;
  /** The non-zero requests, in the order a fit check reports them. */
  readonly requestList: ReadonlyArray<readonly [string, number]>;
  readonly nonZero: { cpu: number; memory: number };
  readonly hostPorts: HostPort[];
  readonly requiredAffinity: AffinityTerm[];
  readonly requiredAntiAffinity: AffinityTerm[];
  readonly preferredAffinity: AffinityTerm[];
  readonly preferredAntiAffinity: AffinityTerm[];

  constructor(readonly pod: Pod) {
    this.key = podKey(pod);
    this.priority = podPriority(pod);
    this.requests = podRequests(pod);
    this.requestList = requestList(this.requests);
    this.nonZero = podNonZeroRequests(pod);
    this.hostPorts = [];
    for (const c of pod.spec.containers ?? []) {
      for (const p of c.ports ?? []) {
        if (p.hostPort && p.hostPort > 0) this.hostPorts.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol ?? 'TCP', port: p.hostPort });
      }
    }
    const a = pod.spec.affinity;
    this.requiredAffinity = (a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => resolveTerm(pod, t, 1));
    this.requiredAntiAffinity = (a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => resolveTerm(pod, t, 1));
    this.preferredAffinity = (a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => resolveTerm(pod, w.podAffinityTerm, w.weight));
    this.preferredAntiAffinity = (a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) =>
      resolveTerm(pod, w.podAffinityTerm, w.weight),
    );
  }

  get name(): string {
    return podName(this.pod);
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

/** A node and the pods on it (scheduled, assumed, or in a simulation), with running sums. */
export class NodeInfo {
  node: Node | undefined;
  allocatable: Resources = {};
  readonly pods = new Map<string, PodInfo>();
  /** Sum of the pods' requests; requested[PODS] is the pod count. */
  readonly requested: Resources = {};
  readonly nonZeroRequested = { cpu: 0, memory: 0 };
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
    const images = new Map<string, number>();
    for (const img of node.status?.images ?? []) for (const n of img.names ?? []) images.set(normalizeImage(n), img.sizeBytes ?? 0);
    this.images = images;
    this.generation++;
  }

  get labels(): Record<string, string> {
    return this.node?.metadata?.labels ?? {};
  }
  get taints(): readonly Taint[] {
    return this.node?.spec?.taints ?? [];
  }

  addPod(pi: PodInfo): void {
    if (this.pods.has(pi.key)) this.removePod(pi.key);
    this.pods.set(pi.key, pi);
    addResources(this.requested, pi.requests);
    this.requested[PODS] = this.pods.size;
    this.nonZeroRequested.cpu += pi.nonZero.cpu;
    this.nonZeroRequested.memory += pi.nonZero.memory;
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
    this.requested[PODS] = this.pods.size;
    this.nonZeroRequested.cpu -= pi.nonZero.cpu;
    this.nonZeroRequested.memory -= pi.nonZero.memory;
    for (const hp of pi.hostPorts) {
      const i = this.usedPorts.findIndex((u) => u.ip === hp.ip && u.port === hp.port && u.protocol === hp.protocol);
      if (i >= 0) this.usedPorts.splice(i, 1);
    }
    this.podsWithAffinity.delete(pi);
    this.podsWithRequiredAntiAffinity.delete(pi);
    this.generation++;
    return pi;
  }

  /** A copy whose pods can be added and removed without touching this one (preemption's simulation). */
  clone(): NodeInfo {
    const c = new NodeInfo(this.name);
    c.node = this.node;
    c.allocatable = this.allocatable;
    c.images = this.images;
    for (const pi of this.pods.values()) c.addPod(pi);
    c.generation = this.generation;
    return c;
  }
}
