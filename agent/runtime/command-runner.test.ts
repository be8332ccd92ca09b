import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, open, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandRunner } from './command-runner.js';
import { CommandError } from './exec.js';

describe('CommandRunner (host commands through the helper process)', () => {
  const runner = new CommandRunner();
  after(() => runner.close());

  it('passes input, arguments and cwd, and returns both streams', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ketch-runner-'));
    try {
      const r = await runner.run('sh', ['-c', 'cat; echo "$1" >&2; pwd', 'sh', 'arg one'], { input: 'from stdin\n', cwd: dir });
      assert.deepEqual(r, { code: 0, signal: null, stdout: `from stdin\n${dir}\n`, stderr: 'arg one\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects with a CommandError for a non-zero exit, unless failure is allowed', async () => {
    await assert.rejects(runner.run('sh', ['-c', 'echo bad >&2; exit 3']), (err: unknown) => err instanceof CommandError && err.result.code === 3 && err.result.stderr === 'bad\n');
    assert.equal((await runner.run('sh', ['-c', 'exit 4'], { allowFailure: true })).code, 4);
  });

  it("runs outside this process group and its session, so a terminal's Ctrl-C does not reach the helper", async () => {
    // Fields 5 and 6 of /proc/PID/stat (after the command name in parentheses): process group and session.
    const groupAndSession = (stat: string): string[] => stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(2, 4);
    const ours = groupAndSession(await readFile('/proc/self/stat', 'utf8'));
    // The command's own group and session are the helper's (it does not start new ones).
    const theirs = groupAndSession((await runner.run('sh', ['-c', 'cat /proc/$$/stat'])).stdout);
    assert.notEqual(theirs[0], ours[0]);
    assert.notEqual(theirs[1], ours[1]);
  });

  it('kills a command that overruns its timeout', async () => {
    const r = await runner.run('sleep', ['30'], { timeoutMs: 100, allowFailure: true });
    assert.deepEqual([r.code, r.signal], [-1, 'SIGKILL']);
  });

  it('rejects with ENOENT for a command that does not exist', async () => {
    await assert.rejects(runner.run('ketch-no-such-command', []), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });

  it('matches each answer to its command when many run at once', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => runner.run('sh', ['-c', `sleep 0.0${i % 5}; echo ${i}`])));
    assert.deepEqual(results.map((r) => r.stdout), results.map((_, i) => `${i}\n`));
  });
});

describe('CommandRunner system calls (mount, umount, namespaces held on files; needs root)', () => {
  // The helper's own mount(2), umount2(2) and unshare(2), and the same through mount(8), umount(8) and unshare(1)
  // when there is no helper (a python that does not exist).
  for (const [label, python] of [['helper', undefined], ['no helper', '/nonexistent/python3']] as const) {
    describe(label, () => {
      const runner = new CommandRunner(python);
      let dir: string;
      before(async () => {
        dir = await mkdtemp(join(tmpdir(), 'ketch-runner-mount-'));
        // Namespaces can be bind-mounted only under a private mount (systemd makes / shared).
        await runner.run('mount', ['--bind', dir, dir]);
        await runner.run('mount', ['--make-private', dir]);
      });
      after(async () => {
        runner.close();
        await runner.unmount(dir, true, { allowFailure: true });
        await rm(dir, { recursive: true, force: true });
      });

      const mountLine = async (path: string): Promise<string | undefined> =>
        (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === path);

      it('mounts a tmpfs with its options and unmounts it', async () => {
        const target = join(dir, 'tmpfs');
        await mkdir(target);
        assert.equal((await runner.mount('tmpfs', 'tmpfs', target, 'mode=0700,size=1m')).code, 0);
        const line = await mountLine(target);
        assert.match(line ?? '', / - tmpfs tmpfs rw,.*size=1024k.*mode=700/);
        assert.equal((await stat(target)).mode & 0o777, 0o700);
        assert.equal((await runner.unmount(target)).code, 0);
        assert.equal(await mountLine(target), undefined);
      });

      it('fails with exit code 32 and the reason, rejecting unless failure is allowed', async () => {
        const missing = join(dir, 'missing');
        await assert.rejects(runner.mount('tmpfs', 'tmpfs', missing, ''), (err: unknown) => err instanceof CommandError && err.result.code === 32 && /no such file|does not exist/i.test(err.result.stderr));
        const r = await runner.unmount(dir + '/not-mounted', false, { allowFailure: true });
        assert.equal(r.code, 32);
        assert.notEqual(r.stderr, '');
      });

      it('detaches a busy mount when lazy', async () => {
        const target = join(dir, 'busy');
        await mkdir(target);
        await runner.mount('tmpfs', 'tmpfs', target, '');
        const fh = await open(join(target, 'f'), 'w');
        try {
          await assert.rejects(runner.unmount(target), (err: unknown) => err instanceof CommandError && /busy/i.test(err.result.stderr));
          assert.equal((await runner.unmount(target, true)).code, 0);
          assert.equal(await mountLine(target), undefined);
        } finally {
          await fh.close();
        }
      });

      it('holds new UTS and IPC namespaces on files, with the host name set in the UTS one', async () => {
        const uts = join(dir, 'uts');
        const ipc = join(dir, 'ipc');
        await writeFile(uts, '');
        await writeFile(ipc, '');
        try {
          assert.equal((await runner.holdNamespaces([{ kind: 'uts', path: uts }, { kind: 'ipc', path: ipc }], 'held-pod')).code, 0);
          assert.equal((await runner.run('nsenter', [`--uts=${uts}`, 'hostname'])).stdout, 'held-pod\n');
          assert.equal((await runner.run('hostname', [])).stdout, `${hostname()}\n`);
          const ours = await readlink('/proc/self/ns/ipc');
          const held = (await runner.run('nsenter', [`--ipc=${ipc}`, 'readlink', '/proc/self/ns/ipc'])).stdout.trim();
          assert.match(held, /^ipc:\[\d+\]$/);
          assert.notEqual(held, ours);
        } finally {
          for (const f of [uts, ipc]) await runner.unmount(f, false, { allowFailure: true });
        }
        assert.equal(await mountLine(uts), undefined);
      });

      it('refuses to hold a namespace on a file that does not exist', async () => {
        const r = await runner.holdNamespaces([{ kind: 'uts', path: join(dir, 'nofile', 'uts') }], 'x', { allowFailure: true });
        assert.equal(r.code, 1);
        assert.notEqual(r.stderr, '');
      });
    });
  }
});

describe('CommandRunner pod networks (netns, veth on a bridge, address, route; needs root)', () => {
  // The helper's rtnetlink requests; ip(8) without the helper; and the helper without ctypes, which hands the request
  // back for ip(8) to do (a wrapper that hides ctypes from the helper's python).
  const modes = [
    ['helper', undefined],
    ['no helper', '/nonexistent/python3'],
    ['helper without ctypes', 'no-ctypes'],
  ] as const;
  const tag = (process.pid % 100000).toString(36);
  const bridge = `ktnlbr${tag}`;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ketch-runner-netns-'));
    await writeFile(join(dir, 'python3'), `#!/bin/sh\nexec /usr/bin/python3 -I -S -c 'import sys; sys.modules["ctypes"] = None; exec(sys.argv[1])' "$4"\n`, { mode: 0o755 });
    const ip = new CommandRunner();
    try {
      await ip.run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      await ip.run('ip', ['addr', 'add', '10.213.7.1/24', 'dev', bridge]);
      await ip.run('ip', ['link', 'set', bridge, 'up']);
    } finally {
      ip.close();
    }
  });
  after(async () => {
    const ip = new CommandRunner();
    await ip.run('ip', ['link', 'del', bridge], { allowFailure: true });
    ip.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ip = async (...args: string[]): Promise<unknown> => JSON.parse((await new CommandRunner('/nonexistent').run('ip', ['-j', ...args])).stdout) as unknown;
  const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
  const held = async (netns: string): Promise<boolean> => (await readFile('/proc/self/mountinfo', 'utf8')).includes(` /run/netns/${netns} `);
  interface PodView {
    addrs: { ifname: string; flags: string[]; operstate: string; mtu: number; addrs: Record<string, unknown>[] }[];
    routes: unknown;
    veth: { flags?: string[]; master?: string; mtu?: number; kind?: string; slaveKind?: string; slave: Record<string, unknown> };
    hairpin: string;
  }
  /** What `ip` shows of a pod's network, without what differs between any two pods (indexes, MACs, names). */
  const view = async (netns: string, veth: string): Promise<PodView> => {
    const addrs = (await ip('-n', netns, 'addr', 'show')) as { ifname: string; flags: string[]; operstate: string; mtu: number; addr_info: Record<string, unknown>[] }[];
    const [link] = (await ip('-d', 'link', 'show', veth)) as { flags: string[]; master: string; mtu: number; linkinfo: { info_kind: string; info_slave_kind: string; info_slave_data: Record<string, unknown> } }[];
    const slave = Object.fromEntries(Object.entries(link?.linkinfo.info_slave_data ?? {}).filter(([k]) => !/id|no$|timer|designated/.test(k)));
    // An IPv6 link-local address comes from the MAC, and its duplicate detection from timing.
    const addr = ({ label: _, ...i }: Record<string, unknown>): Record<string, unknown> => (i.family === 'inet6' && i.scope === 'link' ? { family: i.family, scope: i.scope, prefixlen: i.prefixlen } : i);
    return {
      addrs: addrs.map((a) => ({ ifname: a.ifname, flags: a.flags, operstate: a.operstate, mtu: a.mtu, addrs: a.addr_info.map(addr) })),
      routes: await ip('-n', netns, 'route', 'show'),
      veth: { flags: link?.flags, master: link?.master, mtu: link?.mtu, kind: link?.linkinfo.info_kind, slaveKind: link?.linkinfo.info_slave_kind, slave },
      hairpin: (await readFile(`/sys/class/net/${veth}/brport/hairpin_mode`, 'utf8')).trim(),
    };
  };

  for (const [label, python] of modes) {
    describe(label, () => {
      let runner: CommandRunner;
      let n = 0;
      const names = (): { netns: string; veth: string } => ({ netns: `ktnl-${tag}-${label.length}-${++n}`, veth: `ktnl${tag}${label.length}${n}` });
      const made: { netns: string; veth?: string }[] = [];
      before(() => {
        runner = new CommandRunner(python === 'no-ctypes' ? join(dir, 'python3') : python);
      });
      after(async () => {
        for (const m of made) await runner.deleteNetns(m.netns, m.veth, { allowFailure: true });
        runner.close();
      });

      it('makes the netns with its veth on the bridge, address, default route and hairpin as ip -batch does, and removes them', async () => {
        const pod = names();
        const ref = names();
        made.push(pod, ref);
        const link = { bridge, address: '10.213.7.2/24', gateway: '10.213.7.1' };
        assert.equal((await runner.addNetns(pod.netns, { ...link, hostVeth: pod.veth })).code, 0);
        // The same made by today's two ip -batch runs, with the next address.
        await runner.run('ip', ['-batch', '-'], { input: `netns add ${ref.netns}\nlink add ${ref.veth} type veth peer name eth0 netns ${ref.netns}\nlink set ${ref.veth} master ${bridge} up\nlink set ${ref.veth} type bridge_slave hairpin on\n` });
        await runner.run('ip', ['-n', ref.netns, '-batch', '-'], { input: 'link set lo up\naddr add 10.213.7.3/24 dev eth0\nlink set eth0 up\nroute add default via 10.213.7.1\n' });

        const got = await view(pod.netns, pod.veth);
        assert.deepEqual(JSON.parse(JSON.stringify(got).replaceAll('10.213.7.2', '10.213.7.3')), await view(ref.netns, ref.veth));
        // What that is, spelled out.
        assert.equal(got.hairpin, '1');
        assert.deepEqual(got.routes, [
          { dst: 'default', gateway: '10.213.7.1', dev: 'eth0', flags: [] },
          { dst: '10.213.7.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '10.213.7.2', flags: [] },
        ]);
        const v4 = (a: PodView['addrs'][number]): string[] => a.addrs.filter((i) => i.family === 'inet').map((i) => `${String(i.local)}/${String(i.prefixlen)}`);
        assert.deepEqual(got.addrs.map((a) => [a.ifname, a.flags.includes('UP'), v4(a)]), [['lo', true, ['127.0.0.1/8']], ['eth0', true, ['10.213.7.2/24']]]);
        assert.equal(got.veth.master, bridge);
        assert.ok(got.veth.flags?.includes('UP'));
        // Packets pass both ways: a TCP connect to a closed port is refused by the other side (not timed out).
        const refused = async (args: string[]): Promise<void> => {
          const r = await runner.run(args[0]!, args.slice(1), { allowFailure: true });
          assert.match(r.stderr, /Connection refused|Couldn't connect/, r.stderr);
        };
        await refused(['curl', '-sS', '--max-time', '5', 'http://10.213.7.2:9/']);
        await refused(['nsenter', `--net=/var/run/netns/${pod.netns}`, 'curl', '-sS', '--max-time', '5', 'http://10.213.7.1:9/']);

        assert.equal((await runner.deleteNetns(pod.netns, pod.veth)).code, 0);
        assert.equal(await exists(`/var/run/netns/${pod.netns}`), false);
        assert.equal(await exists(`/sys/class/net/${pod.veth}`), false);
        assert.equal(await held(pod.netns), false);
        // Again: nothing left to remove.
        await runner.deleteNetns(pod.netns, pod.veth, { allowFailure: true });
        await runner.deleteNetns(ref.netns, ref.veth);
        assert.equal(await exists(`/sys/class/net/${ref.veth}`), false);
      });

      it('makes a netns with only lo up without a pod CIDR', async () => {
        const pod = names();
        made.push({ netns: pod.netns });
        assert.equal((await runner.addNetns(pod.netns)).code, 0);
        assert.equal(await held(pod.netns), true);
        const links = (await ip('-n', pod.netns, 'link', 'show')) as { ifname: string; flags: string[] }[];
        assert.deepEqual(links.map((l) => [l.ifname, l.flags.includes('UP')]), [['lo', true]]);
        await runner.deleteNetns(pod.netns);
        assert.equal(await exists(`/var/run/netns/${pod.netns}`), false);
        assert.equal(await held(pod.netns), false);
      });

      it('fails clearly for a netns that exists and for a bridge that does not, leaving what deleteNetns removes', async () => {
        const pod = names();
        made.push(pod);
        await runner.addNetns(pod.netns);
        const link = { hostVeth: pod.veth, bridge, address: '10.213.7.4/24', gateway: '10.213.7.1' };
        await assert.rejects(runner.addNetns(pod.netns, link), (err: unknown) => err instanceof CommandError && err.result.code !== 0 && /File exists/.test(err.message));
        await runner.deleteNetns(pod.netns, pod.veth, { allowFailure: true });
        assert.equal(await exists(`/sys/class/net/${pod.veth}`), false);

        const r = await runner.addNetns(pod.netns, { ...link, bridge: `ktnlno${tag}` }, { allowFailure: true });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, new RegExp(`ktnlno${tag}.*(No such device|Device does not exist)`));
        await runner.deleteNetns(pod.netns, pod.veth, { allowFailure: true });
        assert.equal(await exists(`/var/run/netns/${pod.netns}`), false);
        assert.equal(await exists(`/sys/class/net/${pod.veth}`), false);
      });
    });
  }
});
