// cgroup v1 and v2. These machines run v1 (a tmpfs of per-controller mounts at /sys/fs/cgroup); the v2 code is run
// against a real cgroup2 filesystem mounted in a test directory (detection, directories, cpu.stat, removal; its
// memory controller is bound to v1 here, so memory.* files are absent) and against a fixture tree for memory.*.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cgroups, detectCgroupMode } from './cgroups.js';
import { run } from './exec.js';
import { oomKilled } from './monitor.js';

describe('cgroups (v1 here, v2 in a mounted cgroup2 and a fixture)', () => {
  it('detects the host hierarchy: this host runs v1', () => {
    assert.equal(detectCgroupMode('/sys/fs/cgroup'), 'v1');
  });

  describe('on a real cgroup2 filesystem', () => {
    let mnt: string;
    let cg: Cgroups;
    const path = `/ketch-cgtest-${process.pid}/pod/ctr`;

    before(async function () {
      if (process.getuid?.() !== 0) throw new Error('mounting cgroup2 needs root');
      mnt = await mkdtemp(join(tmpdir(), 'ketch-cgroup2-'));
      await run('mount', ['-t', 'cgroup2', 'none', mnt]);
      cg = new Cgroups(mnt);
    });

    after(async () => {
      // The hierarchy is the machine's: whatever this test made in it goes before the mount does.
      for (const p of [path, '/ketch-cgtest-' + process.pid + '/pod', '/ketch-cgtest-' + process.pid]) await rmdir(join(mnt, p)).catch(() => undefined);
      await run('umount', [mnt], { allowFailure: true });
      await rm(mnt, { recursive: true, force: true });
    });

    it('is detected as v2 and puts every controller in one tree', () => {
      assert.equal(cg.mode, 'v2');
      assert.equal(cg.dir('memory', '/a/b'), join(mnt, 'a/b'));
      assert.equal(cg.dir('cpu', '/a/b'), join(mnt, 'a/b'));
    });

    it('reads the CPU time of a process in a cgroup, then removes the cgroup and its empty parents', async () => {
      await mkdir(cg.dir('', path), { recursive: true });
      const busy = spawn('sh', ['-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'], { stdio: 'ignore' });
      await writeFile(join(cg.dir('', path), 'cgroup.procs'), String(busy.pid));
      await new Promise((r) => busy.once('exit', r));
      const u = await cg.usage(path);
      assert.ok((u.cpuUsageNs ?? 0) > 1_000_000, `cpu ${u.cpuUsageNs}`);
      // No memory controller in this hierarchy here: memory is unknown, not zero.
      assert.equal(u.memoryUsage, undefined);
      assert.match(await readFile(join(cg.dir('', path), 'cgroup.events'), 'utf8'), /populated 0/);
      await cg.remove(path, '/');
      assert.equal(existsSync(join(mnt, `ketch-cgtest-${process.pid}`)), false);
    });
  });

  it("removes a pod's cgroup from every v1 hierarchy and from the hybrid layout's unified tree (fixture tree)", async () => {
    const root = await mkdtemp(join(tmpdir(), 'ketch-cgroup-v1-'));
    try {
      const cg = new Cgroups(root, 'v1');
      for (const c of ['memory', 'pids', 'unified']) await mkdir(join(root, c, 'ketch', 'sandbox1'), { recursive: true });
      await mkdir(join(root, 'unified', 'ketch', 'sandbox2'));
      await cg.remove('/ketch/sandbox1', '/ketch');
      for (const c of ['memory', 'pids', 'unified']) assert.equal(existsSync(join(root, c, 'ketch', 'sandbox1')), false, `${c} removed`);
      // Up to stopAt only, and a sibling is left alone.
      assert.equal(existsSync(join(root, 'unified', 'ketch', 'sandbox2')), true);
      assert.equal(existsSync(join(root, 'memory', 'ketch')), true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  describe('v2 memory files (fixture tree)', () => {
    let root: string;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'ketch-cgfix-'));
      const d = join(root, 'ketch', 'pod', 'c1');
      await mkdir(d, { recursive: true });
      await writeFile(join(d, 'cpu.stat'), 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n');
      await writeFile(join(d, 'memory.current'), '10485760\n');
      await writeFile(join(d, 'memory.max'), '33554432\n');
      await writeFile(join(d, 'memory.stat'), 'anon 4194304\nfile 6291456\ninactive_file 2097152\npgfault 1200\npgmajfault 3\n');
      await writeFile(join(d, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n');
      await mkdir(join(root, 'ketch', 'pod', 'c2'));
      await writeFile(join(root, 'ketch', 'pod', 'c2', 'memory.max'), 'max\n');
      await writeFile(join(root, 'ketch', 'pod', 'c2', 'memory.events'), 'oom 0\noom_kill 0\n');
    });
    after(() => rm(root, { recursive: true, force: true }));

    it('reads usage, limit, working set, rss and faults as cAdvisor does', async () => {
      const cg = new Cgroups(root, 'v2');
      assert.deepEqual(await cg.usage('/ketch/pod/c1'), {
        cpuUsageNs: 2_500_000,
        memoryUsage: 10485760,
        memoryLimit: 33554432,
        workingSet: 10485760 - 2097152,
        rss: 4194304,
        pageFaults: 1200,
        majorPageFaults: 3,
      });
      assert.equal((await cg.usage('/ketch/pod/c2')).memoryLimit, undefined, '"max" is no limit');
    });

    it('tells an OOM kill from memory.events (the monitor reads it before runc deletes the cgroup)', () => {
      const notes: string[] = [];
      assert.equal(oomKilled(join(root, 'ketch', 'pod', 'c1'), (m) => notes.push(m)), true);
      assert.equal(oomKilled(join(root, 'ketch', 'pod', 'c2'), (m) => notes.push(m)), false);
      assert.equal(oomKilled(join(root, 'gone'), (m) => notes.push(m)), false);
      assert.deepEqual(notes, []);
    });
  });
});
