// Builders for plugin unit tests: nodes, pods, a cache-backed snapshot and a handle with recording API fakes.
import type { Node, Pod } from '../../api/index.js';
import { FakeClock } from '../../lib/clock.js';
import { SchedulerCache } from '../../scheduler/framework/cache.js';
import { NodeInfo, PodInfo } from '../../scheduler/framework/node-info.js';
import { Nominator } from '../../scheduler/framework/nominator.js';
import { CycleState, Status, type FilterPlugin, type Handle, type PreFilterPlugin } from '../../scheduler/framework/types.js';

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
}

/** A cluster in a cache plus a handle whose API calls are recorded. */
export function fakeCluster(nodes: Node[], pods: Pod[] = [], filters: FilterPlugin[] = [], preFilters: PreFilterPlugin[] = []): {
  cache: SchedulerCache;
  handle: Handle;
  calls: FakeApiCalls;
  nominator: Nominator;
} {
  const cache = new SchedulerCache();
  for (const n of nodes) cache.addNode(n);
  for (const p of pods) cache.addPod(p);
  const calls: FakeApiCalls = { bound: [], evicted: [], nominated: [] };
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
    clock: new FakeClock(),
    random: () => 0,
    api: {
      bind: async (p, n) => void calls.bound.push({ pod: p.metadata?.name ?? '', node: n }),
      evict: async (v, _p, n) => void calls.evicted.push({ victim: v.metadata?.name ?? '', node: n }),
      setNominatedNodeName: async (p, n) => void calls.nominated.push({ pod: p.metadata?.name ?? '', node: n }),
    },
    nominatedPods: (n) => nominator.podsOn(n),
    runFilters,
    runPreFilterAddPod: (state, p, added, ni) => preFilters.forEach((f) => f.addPod?.(state, p, added, ni)),
    runPreFilterRemovePod: (state, p, removed, ni) => preFilters.forEach((f) => f.removePod?.(state, p, removed, ni)),
  };
  return { cache, handle, calls, nominator };
}

export const newState = (): CycleState => new CycleState();
