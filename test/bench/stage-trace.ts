// Where a pod of bench:storage-provisioning spends its time: the first moment each stage of its path was seen, from
// watches on the run's pods, claims and volumes (claim created -> node selected by the scheduler -> PV provisioned ->
// claim Bound -> pod bound to the node -> Running). Printed per stage: when the last pod reached it (a throughput
// limit shows as a stage whose last arrival lags) and the per-pod wait from the stage before (a latency shows there).
import { ANN_SELECTED_NODE, type PersistentVolume, type PersistentVolumeClaim, type Pod } from '../../api/index.js';
import type { ResourceClient } from '../../client/index.js';

export const STAGES = ['claim created', 'pod created', 'node selected', 'PV created', 'claim Bound', 'pod scheduled', 'Running'] as const;
export type Stage = (typeof STAGES)[number];

/** Per stage: how many pods reached it, when the last did (ms after the run's start) and the per-pod waits (ms) before it. */
export interface StageFigures {
  stage: Stage;
  reached: number;
  lastMs: number;
  p50: number;
  p90: number;
  max: number;
}

const quantile = (sorted: number[], q: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);

export class StageTrace {
  /** Pod (and claim) name -> stage -> first seen (performance.now()). */
  private readonly at = new Map<string, Map<Stage, number>>();
  private readonly ac = new AbortController();

  constructor(private readonly onError: (what: string, err: unknown) => void) {}

  mark(name: string, stage: Stage, t = performance.now()): void {
    let m = this.at.get(name);
    if (!m) this.at.set(name, (m = new Map()));
    if (!m.has(stage)) m.set(stage, t);
  }

  /** Pods that reached a stage, with the time. */
  reached(stage: Stage): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, m] of this.at) {
      const t = m.get(stage);
      if (t !== undefined) out.set(name, t);
    }
    return out;
  }

  private follow<T>(what: string, events: AsyncGenerator<{ type: string; object: T }>, seen: (o: T) => void): void {
    void (async () => {
      for await (const ev of events) if (ev.type === 'ADDED' || ev.type === 'MODIFIED') seen(ev.object);
    })().catch((err: unknown) => {
      if (!this.ac.signal.aborted) this.onError(what, err);
    });
  }

  /** Watches the pods of ns, and (claims != undefined) its claims and every PV, from the given resourceVersions. */
  watch(ns: string, pods: { client: ResourceClient<Pod>; rv: string }, claims?: { client: ResourceClient<PersistentVolumeClaim>; rv: string }, volumes?: { client: ResourceClient<PersistentVolume>; rv: string }): void {
    const signal = this.ac.signal;
    this.follow(`the pods of ${ns}`, pods.client.watch(ns, { resourceVersion: pods.rv, signal }), (p) => {
      const name = p.metadata.name ?? '';
      if (p.spec.nodeName) this.mark(name, 'pod scheduled');
      if (p.status?.phase === 'Running') this.mark(name, 'Running');
    });
    if (claims) {
      this.follow(`the claims of ${ns}`, claims.client.watch(ns, { resourceVersion: claims.rv, signal }), (c) => {
        const name = c.metadata?.name ?? '';
        if (c.metadata?.annotations?.[ANN_SELECTED_NODE]) this.mark(name, 'node selected');
        if (c.status?.phase === 'Bound') this.mark(name, 'claim Bound');
      });
    }
    if (volumes) {
      this.follow('the PVs', volumes.client.watch(undefined, { resourceVersion: volumes.rv, signal }), (v) => {
        const ref = v.spec?.claimRef;
        if (ref?.namespace === ns && ref.name) this.mark(ref.name, 'PV created');
      });
    }
  }

  stop(): void {
    this.ac.abort();
  }

  /** The figures of the stages any pod reached, in path order, relative to t0. */
  figures(t0: number): StageFigures[] {
    const present = STAGES.filter((s) => [...this.at.values()].some((m) => m.has(s)));
    return present.map((stage, i) => {
      const times: number[] = [];
      const waits: number[] = [];
      for (const m of this.at.values()) {
        const t = m.get(stage);
        if (t === undefined) continue;
        times.push(t - t0);
        // The wait since the latest earlier stage this pod reached (stages seen out of order count as 0).
        const before = present.slice(0, i).map((s) => m.get(s)).filter((x): x is number => x !== undefined);
        if (before.length) waits.push(Math.max(0, t - Math.max(...before)));
      }
      waits.sort((a, b) => a - b);
      return { stage, reached: times.length, lastMs: times.length ? Math.max(...times) : NaN, p50: quantile(waits, 0.5), p90: quantile(waits, 0.9), max: waits.length ? waits[waits.length - 1]! : NaN };
    });
  }
}
