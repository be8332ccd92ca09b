// Bench support: processes and threads of the control plane from /proc (CPU and RSS of a process tree, of one thread),
// and which thread is which component (<data-dir>/components.json, written by `ketch server` and `ketch up`).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The pid and every descendant of it (children of children). */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out.filter((p) => parent.has(p));
}

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** user+system CPU ms of a process, or of one of its threads (task). */
export function cpuMs(pid: number, tid?: number): number {
  try {
    const stat = readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(2, 4).join(' ');
  } catch {
    return '?';
  }
}

/**
 * The control plane's components as the server reports them (<data-dir>/components.json: name, pid, thread id) when
 * it runs them apart, else one "server" entry for the whole process tree.
 */
export interface Component {
  name: string;
  pid: number;
  tid?: number;
}
export function componentsOf(dataDir: string, serverPid: number): Component[] {
  const file = join(dataDir, 'components.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Component[];
  return [{ name: 'server', pid: serverPid }];
}
