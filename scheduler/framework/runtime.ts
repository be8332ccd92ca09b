// The framework runtime for one profile: builds its plugins, runs them per extension point, and finds a node for a
// pod (filter a share of the nodes, score the feasible ones, pick the best).
import type { Clock } from '../../lib/clock.js';
import { resolveProfile, ConfigError, type ExtensionPoint, type Profile, type ResolvedProfile, type SchedulerConfiguration } from '../config.js';
import { FitError } from './fit-error.js';
import type { NodeInfo, PodInfo } from './node-info.js';
import type { Nominator } from './nominator.js';
import {
  CycleState,
  MAX_NODE_SCORE,
  Status,
  isBind,
  isFilter,
  isPostFilter,
  isPreBind,
  isPreFilter,
  isPreScore,
  isReserve,
  isScore,
  type BindPlugin,
  type ClusterEvent,
  type FilterPlugin,
  type Handle,
  type NodeScore,
  type Plugin,
  type PluginFactory,
  type PostFilterPlugin,
  type PostFilterResult,
  type PreBindPlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ReservePlugin,
  type ScorePlugin,
  type SchedulerApi,
  type Snapshot,
  type VolumeListers,
} from './types.js';

export interface FrameworkDeps {
  snapshot: Snapshot;
  volumes: VolumeListers;
  clock: Clock;
  random: () => number;
  api: SchedulerApi;
  nominator: Nominator;
}

const IMPLEMENTS: Record<ExtensionPoint, (p: Plugin) => boolean> = {
  preFilter: isPreFilter,
  filter: isFilter,
  postFilter: isPostFilter,
  preScore: isPreScore,
  score: isScore,
  reserve: isReserve,
  preBind: isPreBind,
  bind: isBind,
};

export const MIN_FEASIBLE_NODES_TO_FIND = 100;
export const MIN_FEASIBLE_PERCENTAGE = 5;

/** Runs the filters in order; the first rejection decides. */
function filterWith(filters: readonly FilterPlugin[], state: CycleState, pod: PodInfo, node: NodeInfo): Status {
  for (let i = 0; i < filters.length; i++) {
    const p = filters[i]!;
    const st = p.filter(state, pod, node);
    if (st !== Status.SUCCESS && !st.isSuccess()) return st.withPlugin(p.name);
  }
  return Status.SUCCESS;
}

/** How many feasible nodes to look for before scoring (numFeasibleNodesToFind). */
export function numFeasibleNodesToFind(percentage: number, numAllNodes: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100) return numAllNodes;
  let pct = percentage;
  if (pct <= 0) pct = Math.max(MIN_FEASIBLE_PERCENTAGE, 50 - Math.floor(numAllNodes / 125)); // integer division, as in Go
  return Math.max(MIN_FEASIBLE_NODES_TO_FIND, Math.floor((numAllNodes * pct) / 100));
}

export type ScheduleResult = { node: string; evaluated: number; feasible: number } | { fitError: FitError };

export class Framework {
  readonly profile: ResolvedProfile;
  readonly handle: Handle;
  private readonly built = new Map<string, Plugin>();
  private readonly preFilters: PreFilterPlugin[];
  private readonly filters: FilterPlugin[];
  private readonly postFilters: PostFilterPlugin[];
  private readonly preScores: PreScorePlugin[];
  private readonly scores: Array<{ plugin: ScorePlugin; weight: number }>;
  private readonly reserves: ReservePlugin[];
  private readonly preBinds: PreBindPlugin[];
  private readonly binders: BindPlugin[];
  /** Where the next search starts, so consecutive pods look at different nodes first. */
  private nextStartNodeIndex = 0;
  /** One plugin's scores for the feasible nodes, reused across plugins and cycles (no allocation per node per plugin). */
  private readonly scratch: NodeScore[] = [];
  private totals = new Float64Array(0);

  constructor(
    profile: Profile,
    global: SchedulerConfiguration,
    private readonly registry: Readonly<Record<string, PluginFactory>>,
    private readonly deps: FrameworkDeps,
  ) {
    const args = new Map((profile.pluginConfig ?? []).map((c) => [c.name, c.args ?? {}]));
    this.handle = {
      snapshot: deps.snapshot,
      volumes: deps.volumes,
      clock: deps.clock,
      random: deps.random,
      api: deps.api,
      nominatedPods: (node) => deps.nominator.podsOn(node),
      runFilters: (state, pod, node) => this.runFilter(state, pod, node),
      runPreFilterAddPod: (state, pod, added, node) => {
        for (const p of this.preFilters) p.addPod?.(state, pod, added, node);
      },
      runPreFilterRemovePod: (state, pod, removed, node) => {
        for (const p of this.preFilters) p.removePod?.(state, pod, removed, node);
      },
    };
    const plugin = (name: string): Plugin => {
      let p = this.built.get(name);
      if (!p) {
        const f = this.registry[name];
        if (!f) throw new ConfigError(`unknown plugin ${JSON.stringify(name)}`);
        p = f(args.get(name) ?? {}, this.handle);
        this.built.set(name, p);
      }
      return p;
    };
    this.profile = resolveProfile(profile, global, (name, point) => IMPLEMENTS[point](plugin(name)));
    const at = <T extends Plugin>(point: ExtensionPoint, guard: (p: Plugin) => p is T): T[] =>
      (point === 'score' ? this.profile.points.score.map((s) => s.name) : this.profile.points[point]).map((n) => {
        const p = plugin(n);
        if (!guard(p)) throw new ConfigError(`plugin ${n} does not implement ${point}`);
        return p;
      });
    this.preFilters = at('preFilter', isPreFilter);
    this.filters = at('filter', isFilter);
    this.postFilters = at('postFilter', isPostFilter);
    this.preScores = at('preScore', isPreScore);
    const scorers = at('score', isScore);
    this.scores = scorers.map((p, i) => ({ plugin: p, weight: this.profile.points.score[i]?.weight ?? 1 }));
    this.reserves = at('reserve', isReserve);
    this.preBinds = at('preBind', isPreBind);
    this.binders = at('bind', isBind);
    if (!this.binders.length) throw new ConfigError(`profile ${this.profile.schedulerName} has no bind plugin`);
  }

  get schedulerName(): string {
    return this.profile.schedulerName;
  }

  plugin(name: string): Plugin | undefined {
    return this.built.get(name);
  }

  /** Whether the event may help a pod these plugins rejected (a plugin that registers no events is helped by all). */
  eventHelps(plugins: ReadonlySet<string>, event: ClusterEvent): boolean {
    for (const n of plugins) {
      const p = this.built.get(n);
      if (!p?.events || p.events.includes(event)) return true;
    }
    return false;
  }

  // ---- extension points ----

  runPreFilter(state: CycleState, pod: PodInfo): Status {
    for (const p of this.preFilters) {
      const st = p.preFilter(state, pod);
      if (st.isSkip()) {
        state.skipFilter.add(p.name);
        continue;
      }
      if (!st.isSuccess()) return st.withPlugin(p.name);
    }
    return Status.success();
  }

  /** The filters in order; the first rejection decides (its reasons are the node's line in the diagnosis). */
  runFilter(state: CycleState, pod: PodInfo, node: NodeInfo): Status {
    return filterWith(this.activeFilters(state), state, pod, node);
  }

  /** The filters whose PreFilter did not skip them in this cycle. */
  private activeFilters(state: CycleState): readonly FilterPlugin[] {
    return state.skipFilter.size ? this.filters.filter((p) => !state.skipFilter.has(p.name)) : this.filters;
  }

  /**
   * The filters with pods nominated to the node (of at least this pod's priority) counted as if they ran there,
   * and once more without them, as addNominatedPods does: both must pass.
   */
  runFilterWithNominatedPods(state: CycleState, pod: PodInfo, node: NodeInfo, filters: readonly FilterPlugin[] = this.activeFilters(state)): Status {
    if (!this.deps.nominator.hasPodsOn(node.name)) return filterWith(filters, state, pod, node);
    const nominated = this.deps.nominator.podsOn(node.name).filter((n) => n.key !== pod.key && n.priority >= pod.priority);
    if (nominated.length) {
      const s = state.clone();
      const n = node.clone();
      for (const np of nominated) {
        n.addPod(np);
        this.handle.runPreFilterAddPod(s, pod, np, n);
      }
      const st = filterWith(filters, s, pod, n);
      if (!st.isSuccess()) return st;
    }
    return filterWith(filters, state, pod, node);
  }

  async runPostFilter(state: CycleState, pod: PodInfo, statuses: ReadonlyMap<string, Status>): Promise<PostFilterResult> {
    let last: PostFilterResult = { status: Status.unschedulable() };
    for (const p of this.postFilters) {
      const r = await p.postFilter(state, pod, statuses);
      if (r.status.isSuccess() || r.nominatedNodeName) return { ...r, status: r.status.withPlugin(p.name) };
      last = { ...r, status: r.status.withPlugin(p.name) };
      if (r.status.code === 'Error') return last;
    }
    return last;
  }

  runPreScore(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status {
    for (const p of this.preScores) {
      const st = p.preScore(state, pod, nodes);
      if (st.isSkip()) {
        state.skipScore.add(p.name);
        continue;
      }
      if (!st.isSuccess()) return st.withPlugin(p.name);
    }
    return Status.success();
  }

  /** Total weighted score per node, in the order of nodes. */
  runScore(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): NodeScore[] {
    const total = this.scoreNodes(state, pod, nodes);
    return nodes.map((n, i) => ({ name: n.name, score: total[i]! }));
  }

  /** runScore's totals in a buffer reused across cycles (valid until the next call). */
  private scoreNodes(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Float64Array {
    const n = nodes.length;
    if (this.totals.length < n) this.totals = new Float64Array(Math.max(n, 2 * this.totals.length));
    const total = this.totals.subarray(0, n);
    total.fill(0);
    const scores = this.scratch;
    for (const { plugin, weight } of this.scores) {
      if (weight === 0 || state.skipScore.has(plugin.name)) continue;
      if (scores.length !== n) scores.length = n;
      for (let i = 0; i < n; i++) {
        const node = nodes[i]!;
        const score = plugin.score(state, pod, node);
        const s = scores[i];
        if (s) {
          s.name = node.name;
          s.score = score;
        } else scores[i] = { name: node.name, score };
      }
      plugin.normalizeScores?.(state, pod, scores);
      for (let i = 0; i < n; i++) {
        const s = scores[i]!.score;
        if (!(s >= 0 && s <= MAX_NODE_SCORE)) throw new Error(`plugin ${plugin.name} scored node ${scores[i]!.name} ${s}, outside [0, ${MAX_NODE_SCORE}]`);
        total[i]! += s * weight;
      }
    }
    return total;
  }

  runReserve(state: CycleState, pod: PodInfo, nodeName: string): Status {
    for (let i = 0; i < this.reserves.length; i++) {
      const p = this.reserves[i]!;
      const st = p.reserve(state, pod, nodeName);
      if (!st.isSuccess()) {
        for (let j = i; j >= 0; j--) this.reserves[j]!.unreserve(state, pod, nodeName);
        return st.withPlugin(p.name);
      }
    }
    return Status.success();
  }

  runUnreserve(state: CycleState, pod: PodInfo, nodeName: string): void {
    for (let j = this.reserves.length - 1; j >= 0; j--) this.reserves[j]!.unreserve(state, pod, nodeName);
  }

  /** Whether any PreBind plugin has work for this pod on this node (most pods have none: no async step, no wait). */
  needsPreBind(state: CycleState, pod: PodInfo, nodeName: string): boolean {
    for (const p of this.preBinds) if (!p.preBindPreFlight(state, pod, nodeName).isSkip()) return true;
    return false;
  }

  /** The PreBind plugins in order; the first failure decides (the caller unreserves and retries the pod). */
  async runPreBind(state: CycleState, pod: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status> {
    for (const p of this.preBinds) {
      if (p.preBindPreFlight(state, pod, nodeName).isSkip()) continue;
      const st = await p.preBind(state, pod, nodeName, signal);
      if (!st.isSuccess()) return st.withPlugin(p.name);
    }
    return Status.success();
  }

  async runBind(state: CycleState, pod: PodInfo, nodeName: string): Promise<Status> {
    for (const p of this.binders) {
      const st = await p.bind(state, pod, nodeName);
      if (!st.isSkip()) return st.withPlugin(p.name);
    }
    return Status.error(new Error(`no bind plugin bound pod ${pod.name}`));
  }

  // ---- the algorithm ----

  /**
   * Finds a node for the pod: its nominated node first (if it still fits), else filter nodes from a rotating start
   * until enough feasible ones are found, then score them and take the best (ties broken at random).
   */
  schedule(state: CycleState, pod: PodInfo): ScheduleResult {
    const nodes = this.deps.snapshot.list();
    const statuses = new Map<string, Status>();
    const pre = this.runPreFilter(state, pod);
    if (!pre.isSuccess()) {
      if (pre.code === 'Error') throw pre.error ?? new Error(pre.message);
      const fe = new FitError(nodes.length, statuses);
      fe.preFilterMsg = pre.message;
      for (const n of nodes) statuses.set(n.name, pre);
      return { fitError: fe };
    }

    const nominated = this.deps.nominator.nominatedNode(pod.pod) ?? pod.pod.status?.nominatedNodeName;
    if (nominated) {
      const ni = this.deps.snapshot.get(nominated);
      if (ni && this.runFilterWithNominatedPods(state, pod, ni).isSuccess()) return { node: nominated, evaluated: 1, feasible: 1 };
    }

    const want = numFeasibleNodesToFind(this.profile.percentageOfNodesToScore, nodes.length);
    const filters = this.activeFilters(state);
    const feasible: NodeInfo[] = [];
    const n = nodes.length;
    let processed = 0;
    for (; processed < n && feasible.length < want; processed++) {
      const ni = nodes[(this.nextStartNodeIndex + processed) % n]!;
      const st = this.runFilterWithNominatedPods(state, pod, ni, filters);
      if (st.isSuccess()) feasible.push(ni);
      else if (st.code === 'Error') throw st.error ?? new Error(st.message);
      else statuses.set(ni.name, st);
    }
    if (n) this.nextStartNodeIndex = (this.nextStartNodeIndex + processed) % n;
    if (!feasible.length) return { fitError: new FitError(n, statuses) };
    if (feasible.length === 1) return { node: feasible[0]!.name, evaluated: processed, feasible: 1 };

    const ps = this.runPreScore(state, pod, feasible);
    if (ps.code === 'Error') throw ps.error ?? new Error(ps.message);
    const scores = this.scoreNodes(state, pod, feasible);
    return { node: feasible[this.selectHost(scores)]!.name, evaluated: processed, feasible: feasible.length };
  }

  /**
   * The index of the highest score; ties broken uniformly at random. One draw per pod rather than one per tie (as
   * reservoir sampling does): on like nodes most of the hundreds scored tie. The draw counts from the last tie back,
   * so that a draw near 1 picks the first, as reservoir sampling's would (and 0 the last).
   */
  private selectHost(scores: Float64Array): number {
    let max = scores[0]!;
    let ties = 1;
    for (let i = 1; i < scores.length; i++) {
      const s = scores[i]!;
      if (s > max) {
        max = s;
        ties = 1;
      } else if (s === max) ties++;
    }
    let skip = ties === 1 ? 0 : ties - 1 - Math.min(ties - 1, Math.floor(this.deps.random() * ties));
    for (let i = 0; i < scores.length; i++) if (scores[i] === max && skip-- === 0) return i;
    return 0;
  }
}
