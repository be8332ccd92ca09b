// Bench support: the CPU time of this process and of everything it starts from now on (servers, runtimes, monitors,
// runc, ip), read from a cpuacct cgroup of its own. Needs root and cgroup v1's cpuacct or cgroup v2's cpu.stat.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CpuMeter {
  /** CPU milliseconds used so far by the process tree (user + system). */
  ms(): Promise<number>;
  /** Moves this process back and removes the cgroup: after a few seconds for the processes it started to end, it moves those left back too. */
  close(): Promise<void>;
}

const V1 = '/sys/fs/cgroup/cpuacct';
const V2 = '/sys/fs/cgroup';

/** Undefined when no cgroup could be made: the bench then prints no CPU figures. */
export async function cpuMeter(): Promise<CpuMeter | undefined> {
  const v1 = existsSync(join(V1, 'cpuacct.usage'));
  const v2 = !v1 && existsSync(join(V2, 'cgroup.controllers'));
  if (!v1 && !v2) return undefined;
  const base = v1 ? V1 : V2;
  const dir = join(base, `ketch-bench-cpu-${process.pid}`);
  const self = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').find((l) => (v1 ? /^\d+:([^:]*,)?cpuacct(,[^:]*)?:/.test(l) : l.startsWith('0::')));
  const home = join(base, self?.slice(self.lastIndexOf(':') + 1) ?? '/');
  try {
    await mkdir(dir);
    await writeFile(join(dir, 'cgroup.procs'), String(process.pid));
  } catch {
    await rmdir(dir).catch(() => undefined);
    return undefined;
  }
  return {
    async ms() {
      if (v1) return Number(await readFile(join(dir, 'cpuacct.usage'), 'utf8')) / 1e6;
      const m = /usage_usec (\d+)/.exec(await readFile(join(dir, 'cpu.stat'), 'utf8'));
      return Number(m?.[1] ?? 0) / 1e3;
    },
    async close() {
      // Processes started by the bench (monitors, shims) may take a moment to exit after its clean-up; long-lived
      // helpers of this process (the runtime's command helper) go back with it.
      for (let i = 0; ; i++) {
        const procs = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
        for (const pid of i === 0 ? [String(process.pid)] : procs) await writeFile(join(home, 'cgroup.procs'), pid).catch(() => undefined);
        try {
          await rmdir(dir);
          return;
        } catch (err) {
          if (i >= 50) return void process.stderr.write(`cpu meter: ${dir} stays: ${String(err)}\n`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}
