// The Summary API (kubelet's /stats/summary): node CPU and memory from the host's /proc, pod and container usage from
// the runtime's ListContainerStats. CPU is a rate, so it comes from two samples: the previous request's, or, when a
// container is new to us, a second sample taken a moment after the first (as the CRI stats provider caches one).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pod } from '../api/index.js';
import { realClock, type Clock } from '../lib/clock.js';
import { LABELS } from './pod-config.js';
import { int64, type ContainerStats, type RuntimeClient } from './cri/index.js';

/** kubelet's stats/v1alpha1 CPUStats and MemoryStats (the fields `top` and the metrics server read). */
export interface CpuStats {
  time: string;
  usageNanoCores: number;
  usageCoreNanoSeconds: number;
}
export interface MemoryStats {
  time: string;
  workingSetBytes: number;
  usageBytes?: number;
  availableBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}
export interface ContainerSummary {
  name: string;
  startTime?: string;
  cpu: CpuStats;
  memory: MemoryStats;
}
export interface PodSummary {
  podRef: { name: string; namespace: string; uid: string };
  startTime?: string;
  containers: ContainerSummary[];
  cpu: CpuStats;
  memory: MemoryStats;
}
export interface Summary {
  node: { nodeName: string; startTime?: string; cpu: CpuStats; memory: MemoryStats };
  pods: PodSummary[];
}

export interface StatsProviderOptions {
  nodeName: string;
  runtime: RuntimeClient;
  /** The pods this agent runs (agents may share a runtime). */
  pods: () => Pod[];
  /** Where /proc is (tests point it elsewhere). */
  procRoot?: string;
  /** The wait between two samples when there is no earlier one. */
  sampleGapMs?: number;
  /** Times the sample gap and stamps the summary (default: the real clock; a CPU rate is over real time). */
  clock?: Clock;
  delay?: (ms: number) => Promise<void>;
  /** Monotonic nanoseconds. */
  nowNanos?: () => bigint;
  now?: () => Date;
}

interface Sample {
  cpuNs: number;
  atNs: bigint;
}

/** USER_HZ: /proc/stat counts in hundredths of a second on Linux. */
const NS_PER_TICK = 10_000_000;

/** The host's busy CPU time (user, nice, system, irq, softirq, steal) in nanoseconds, from /proc/stat. */
export function hostCpuNanos(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no cpu line');
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) * NS_PER_TICK;
}

/** The host's memory from /proc/meminfo: working set is what is not available for reclaim (total - available). */
export function hostMemory(meminfo: string): { total: number; available: number; free: number } {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo);
    return m?.[1] ? Number(m[1]) * 1024 : 0;
  };
  return { total: kb('MemTotal'), available: kb('MemAvailable'), free: kb('MemFree') };
}

export class StatsProvider {
  private readonly last = new Map<string, Sample>();
  private readonly proc: string;
  private readonly delay: (ms: number) => Promise<void>;
  private readonly nowNanos: () => bigint;
  private readonly now: () => Date;

  constructor(private readonly o: StatsProviderOptions) {
    this.proc = o.procRoot ?? '/proc';
    const clock = o.clock ?? realClock;
    this.delay = o.delay ?? ((ms) => clock.sleep(ms));
    this.nowNanos = o.nowNanos ?? (() => process.hrtime.bigint());
    this.now = o.now ?? (() => new Date(clock.now()));
  }

  async summary(): Promise<Summary> {
    let first = await this.sample();
    const fresh = [...first.cpu.keys()].some((k) => !this.last.has(k));
    let base = new Map(this.last);
    if (fresh) {
      // Something has no earlier sample: take a second one so that every rate is measured.
      await this.delay(this.o.sampleGapMs ?? 250);
      for (const [k, v] of first.cpu) if (!base.has(k)) base.set(k, v);
      first = await this.sample();
    }
    this.last.clear();
    for (const [k, v] of first.cpu) this.last.set(k, v);
    base = new Map([...base].filter(([k]) => first.cpu.has(k)));

    const time = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
    const cpu = (key: string): CpuStats => {
      const cur = first.cpu.get(key);
      const prev = base.get(key);
      const cumulative = cur?.cpuNs ?? 0;
      const dt = cur && prev ? Number(cur.atNs - prev.atNs) : 0;
      const rate = cur && prev && dt > 0 ? Math.max(0, ((cur.cpuNs - prev.cpuNs) / dt) * 1e9) : 0;
      return { time, usageNanoCores: Math.round(rate), usageCoreNanoSeconds: cumulative };
    };

    const mem = first.hostMemory;
    const pods: PodSummary[] = [];
    for (const pod of this.o.pods()) {
      const uid = pod.metadata.uid ?? '';
      const stats = first.containers.filter((s) => s.attributes?.labels[LABELS.podUid] === uid);
      if (!stats.length) continue;
      const containers = stats.map((s): ContainerSummary => {
        const m = s.memory;
        return {
          name: s.attributes?.labels[LABELS.container] ?? s.attributes?.metadata?.name ?? '',
          cpu: cpu(s.attributes?.id ?? ''),
          memory: {
            time,
            workingSetBytes: int64(m?.workingSetBytes?.value),
            usageBytes: int64(m?.usageBytes?.value),
            ...(m?.availableBytes ? { availableBytes: int64(m.availableBytes.value) } : {}),
            rssBytes: int64(m?.rssBytes?.value),
            pageFaults: int64(m?.pageFaults?.value),
            majorPageFaults: int64(m?.majorPageFaults?.value),
          },
        };
      });
      const sum = (f: (c: ContainerSummary) => number): number => containers.reduce((n, c) => n + f(c), 0);
      pods.push({
        podRef: { name: pod.metadata.name ?? '', namespace: pod.metadata.namespace ?? '', uid },
        ...(pod.status?.startTime ? { startTime: pod.status.startTime } : {}),
        containers,
        cpu: { time, usageNanoCores: sum((c) => c.cpu.usageNanoCores), usageCoreNanoSeconds: sum((c) => c.cpu.usageCoreNanoSeconds) },
        memory: { time, workingSetBytes: sum((c) => c.memory.workingSetBytes), usageBytes: sum((c) => c.memory.usageBytes ?? 0) },
      });
    }
    return {
      node: {
        nodeName: this.o.nodeName,
        cpu: cpu(NODE_KEY),
        memory: { time, workingSetBytes: mem.total - mem.available, availableBytes: mem.available, usageBytes: mem.total - mem.free },
      },
      pods,
    };
  }

  /** One sample of everything: cumulative CPU per container id (and the node), container stats, host memory. */
  private async sample(): Promise<{ cpu: Map<string, Sample>; containers: ContainerStats[]; hostMemory: ReturnType<typeof hostMemory> }> {
    const [procStat, meminfo, listed] = await Promise.all([
      readFile(join(this.proc, 'stat'), 'utf8'),
      readFile(join(this.proc, 'meminfo'), 'utf8'),
      this.o.runtime.runtime.listContainerStats({ filter: null }),
    ]);
    const atNs = this.nowNanos();
    const cpu = new Map<string, Sample>([[NODE_KEY, { cpuNs: hostCpuNanos(procStat), atNs }]]);
    for (const s of listed.stats) {
      const id = s.attributes?.id;
      // The runtime stamps each sample; its clock is the one the cumulative counter belongs to.
      if (id) cpu.set(id, { cpuNs: int64(s.cpu?.usageCoreNanoSeconds?.value), atNs: s.cpu?.timestamp ? BigInt(s.cpu.timestamp) : atNs });
    }
    return { cpu, containers: listed.stats, hostMemory: hostMemory(meminfo) };
  }
}

const NODE_KEY = '';
