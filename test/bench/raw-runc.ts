// Bench support: a busybox bundle (the host's busybox, `runc spec`) and the time of a raw `runc run --detach` of it,
// the floor that ketch's pod start-up is read against.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../agent/runtime/exec.js';

export interface RawRunc {
  /** Starts container number i (`runc run --detach`) and resolves to the milliseconds runc took. */
  time(i: number): Promise<number>;
  /** Deletes every container it started and their cgroups. */
  cleanup(): Promise<void>;
}

const CGROUP_PARENT = 'ketch-bench-raw';

/** Every cgroup v1 hierarchy runc makes a container's cgroup in on these hosts (named `systemd` and `unified` too). */
const HIERARCHIES = ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'devices', 'freezer', 'cpuset', 'systemd', 'unified'];

/** Removes a bench's (emptied) parent cgroup from every hierarchy, and from the root of a cgroup v2 host. */
export async function removeBenchCgroups(parent: string): Promise<void> {
  await run('rmdir', ['--ignore-fail-on-non-empty', ...[...HIERARCHIES, ''].map((c) => join('/sys/fs/cgroup', c, parent))], { allowFailure: true });
}

export async function rawRunc(work: string): Promise<RawRunc> {
  const bundle = join(work, 'raw-bundle');
  const rootfs = join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await symlink('busybox', join(rootfs, 'bin/sh'));
  await run('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process: { args: string[]; terminal: boolean }; linux: { cgroupsPath?: string } };
  spec.process.args = ['/bin/busybox', 'sleep', '3600'];
  spec.process.terminal = false;
  const runcRoot = join(work, 'runc-raw');
  const started: string[] = [];
  return {
    async time(i) {
      const id = `raw-${i}`;
      // One bundle, one config per container: only the cgroup differs.
      spec.linux.cgroupsPath = `/${CGROUP_PARENT}/${id}`;
      await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
      const t0 = process.hrtime.bigint();
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn('runc', ['--root', runcRoot, 'run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
        child.on('error', reject);
        child.on('close', resolve);
      });
      const took = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) throw new Error(`runc run --detach ${id} exited ${code}`);
      started.push(id);
      return took;
    },
    async cleanup() {
      for (const id of started) await run('runc', ['--root', runcRoot, 'delete', '--force', id], { allowFailure: true });
      started.length = 0;
      await removeBenchCgroups(CGROUP_PARENT);
    },
  };
}

/** The p-th percentile (nearest rank). */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/** A markdown table. */
export function table(rows: string[][]): string {
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}
