// Builders for plugin unit tests: nodes, pods, a cache-backed snapshot and a handle with recording API fakes.
import { volumeClass, type CSINode, type Node, type PersistentVolume, type PersistentVolumeClaim, type Pod, type StorageClass } from '../../api/index.js';
import { FakeClock } from '../../lib/clock.js';
import { SchedulerCache } from '../../scheduler/framework/cache.js';
import { NodeInfo, PodInfo } from '../../scheduler/framework/node-info.js';
import { Nominator } from '../../scheduler/framework/nominator.js';
import { CycleState, Status, type FilterPlugin, type Handle, type PreFilterPlugin, type SchedulerApi, type VolumeListers } from '../../scheduler/framework/types.js';

export function node(name: string, o: { cpu?: string; memory?: string; pods?: number; labels?: Record<string, string>; spec?: Node['spec']; images?: Array<{ names: string[]; sizeBytes: number }> } = {}): Node {
  const allocatable = { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: String(o.pods ?? 110), 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } },
    ...(o.spec ? { spec: o.spec } : {}),
    status: { allocatable, ...(o.images ? { images: o.images } : {}) },
  };
}

let seq = 0;
export function pod(name: string, o: { cpu?: string; memory?: string; labels?: Record<string, string>; namespace?: string; nodeName?: string; priority?: number; spec?: Partial<Pod['spec']> } = {}): Pod {
  const requests: Record<string, string> = {};
  if (o.cpu) requests.cpu = o.cpu;
  if (o.memory) requests.memory = o.memory;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default', uid: `${name}-${++seq}`, ...(o.labels ? { labels: o.labels } : {}), creationTimestamp: new Date(1_700_000_000_000 + seq * 1000).toISOString() },
    spec: {
      containers: [{ name: 'c', image: 'busybox:1.36', ...(Object.keys(requests).length ? { resources: { requests } } : {}) }],
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.spec ?? {}),
    },
  };
}

/** A NodeInfo with pods on it. */
export function nodeInfo(n: Node, pods: Pod[] = []): NodeInfo {
  const ni = new NodeInfo(n.metadata?.name ?? '', n);
  for (const p of pods) ni.addPod(new PodInfo(p));
  return ni;
}

export interface FakeApiCalls {
  bound: Array<{ pod: string; node: string }>;
  evicted: Array<{ victim: string; node: string }>;
  nominated: Array<{ pod: string; node: string }>;
  volumes: PersistentVolume[];
  claims: PersistentVolumeClaim[];
}

/** Storage objects held in memory (a fake of the scheduler's informers); set() replaces an object and tells listeners. */
export class StaticVolumeListers implements VolumeListers {
  private readonly objects = new Map<string, PersistentVolumeClaim | PersistentVolume | StorageClass | CSINode>();
  private readonly listeners = new Set<{ keys: readonly string[]; fn: () => void }>();

  constructor(objs: Array<PersistentVolumeClaim | PersistentVolume | StorageClass | CSINode> = []) {
    for (const o of objs) this.set(o);
  }
  private static key(o: { kind?: string; metadata?: { namespace?: string; name?: string } }): string {
    return `${o.kind ?? ''}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }
  set(o: PersistentVolumeClaim | PersistentVolume | StorageClass | CSINode): void {
    const before = this.objects.get(StaticVolumeListers.key(o));
    this.objects.set(StaticVolumeListers.key(o), o);
    // The claims the change concerns: the claim itself, or the claims a volume's claimRef names before and after.
    const claimKeys = [o, before].flatMap((x) => {
      if (x?.kind === 'PersistentVolumeClaim') return [`${x.metadata?.namespace ?? ''}/${x.metadata?.name ?? ''}`];
      const ref = x?.kind === 'PersistentVolume' ? (x as PersistentVolume).spec?.claimRef : undefined;
      return ref?.name ? [`${ref.namespace ?? ''}/${ref.name}`] : [];
    });
    for (const l of [...this.listeners]) if (l.keys.some((k) => claimKeys.includes(k))) l.fn();
  }
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined {
    return this.objects.get(`PersistentVolumeClaim/${namespace}/${name}`) as PersistentVolumeClaim | undefined;
  }
  volume(name: string): PersistentVolume | undefined {
    return this.objects.get(`PersistentVolume//${name}`) as PersistentVolume | undefined;
  }
  volumesOfClass(cls: string): readonly PersistentVolume[] {
    return [...this.objects.values()].filter((o): o is PersistentVolume => o.kind === 'PersistentVolume' && volumeClass(o as PersistentVolume) === cls);
  }
  storageClass(name: string): StorageClass | undefined {
    return this.objects.get(`StorageClass//${name}`) as StorageClass | undefined;
  }
  csiNode(name: string): CSINode | undefined {
    return this.objects.get(`CSINode//${name}`) as CSINode | undefined;
  }
  onClaimChange(keys: readonly string[], fn: () => void): () => void {
    const l = { keys, fn };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

/** API writes that only record what they were asked (volume and claim writes come back with a new resourceVersion). */
export function fakeApi(calls: FakeApiCalls): SchedulerApi {
  let rv = 1000;
  return {
    bind: async (p, n) => void calls.bound.push({ pod: p.metadata?.name ?? '', node: n }),
    evict: async (v, _p, n) => void calls.evicted.push({ victim: v.metadata?.name ?? '', node: n }),
    setNominatedNodeName: async (p, n) => void calls.nominated.push({ pod: p.metadata?.name ?? '', node: n }),
    updateVolume: async (pv) => {
      calls.volumes.push(pv);
      return { ...pv, metadata: { ...pv.metadata, resourceVersion: String(++rv) } };
    },
    updateClaim: async (pvc) => {
      calls.claims.push(pvc);
      return { ...pvc, metadata: { ...pvc.metadata, resourceVersion: String(++rv) } };
    },
  };
}

/** A cluster in a cache plus a handle whose API calls are recorded. */
export function fakeCluster(nodes: Node[], pods: Pod[] = [], filters: FilterPlugin[] = [], preFilters: PreFilterPlugin[] = [], volumes: VolumeListers = new StaticVolumeListers()): {
  cache: SchedulerCache;
  handle: Handle;
  calls: FakeApiCalls;
  nominator: Nominator;
} {
  const cache = new SchedulerCache();
  for (const n of nodes) cache.addNode(n);
  for (const p of pods) cache.addPod(p);
  const calls: FakeApiCalls = { bound: [], evicted: [], nominated: [], volumes: [], claims: [] };
  const nominator = new Nominator();
  const runFilters = (state: CycleState, p: PodInfo, ni: NodeInfo): Status => {
    for (const f of filters) {
      const st = f.filter(state, p, ni);
      if (!st.isSuccess()) return st.withPlugin(f.name);
    }
    return Status.success();
  };
  const handle: Handle = {
    snapshot: cache,
    volumes,
    clock: new FakeClock(),
    random: () => 0,
    api: fakeApi(calls),
    nominatedPods: (n) => nominator.podsOn(n),
    runFilters,
    runPreFilterAddPod: (state, p, added, ni) => preFilters.forEach((f) => f.addPod?.(state, p, added, ni)),
    runPreFilterRemovePod: (state, p, removed, ni) => preFilters.forEach((f) => f.removePod?.(state, p, removed, ni)),
  };
  return { cache, handle, calls, nominator };
}

export const newState = (): CycleState => new CycleState();
