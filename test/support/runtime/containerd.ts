// Test support: Debian's containerd 1.6 with its CRI plugin, in private root/state dirs on a private socket,
// pulling from the test registry over plain HTTP, with a CNI bridge of its own (recipe §7).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRuntime } from '../../../agent/cri/client.js';
import { run } from '../../../agent/runtime/exec.js';
import { pollUntil } from './registry.js';

export interface ContainerdOptions {
  /** The sandbox ("pause") image, e.g. 127.0.0.1:5000/test/pause:1.0; it must run forever. */
  sandboxImage: string;
  /** Registry hosts (host:port) reached over plain HTTP. */
  insecureRegistries: string[];
  /** Registry host -> mirror URL, as the shim's registryMirrors. */
  registryMirrors?: Record<string, string>;
  /** The CNI bridge network for pods; without it (and without podCidrFromRuntimeConfig) pods get a CNI loopback only. */
  podCidr?: string;
  /**
   * The CNI bridge network as containerd's conf_template instead: containerd writes it with the pod CIDR that
   * UpdateRuntimeConfig brings (what an agent sends once its node has one); NetworkReady is false until then.
   */
  podCidrFromRuntimeConfig?: boolean;
  /** Linux bridge name for the CNI bridge plugin (default ketchctrd0). */
  bridge?: string;
  /**
   * HTTPS registries (host:port) and what containerd is configured with for each: the CA file it trusts (hosts.toml
   * `ca`) and the credentials of the CRI plugin's `registry.configs.HOST.auth` (what it answers a token challenge with).
   */
  secureRegistries?: Record<string, { caFile: string; username?: string; password?: string }>;
}

export interface ContainerdHandle {
  /** unix:///.../containerd.sock */
  endpoint: string;
  dir: string;
  /** Removes every pod (so the shims exit), stops containerd and deletes its files. */
  stop(): Promise<void>;
}

const CGROUP_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'blkio', 'devices', 'freezer', 'systemd', 'net_cls', 'net_prio', 'perf_event', 'hugetlb'];

function hostsToml(server: string, caFile?: string): string {
  const trust = caFile ? `  ca = "${caFile}"` : '  skip_verify = true';
  return [`server = "${server}"`, '', `[host."${server}"]`, '  capabilities = ["pull", "resolve"]', trust, ''].join('\n');
}

/** Starts containerd; fails with its stderr when it does not come up. containerd must be installed. */
export async function startContainerd(opts: ContainerdOptions): Promise<ContainerdHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'ketch-containerd-'));
  const sock = join(dir, 'containerd.sock');
  const cniConf = join(dir, 'cni');
  const certs = join(dir, 'certs.d');
  const bridge = opts.bridge ?? 'ketchctrd0';
  await mkdir(cniConf, { recursive: true });
  const tablesBefore = await nftTables();
  for (const host of opts.insecureRegistries) {
    await mkdir(join(certs, host), { recursive: true });
    await writeFile(join(certs, host, 'hosts.toml'), hostsToml(`http://${host}`));
  }
  for (const [host, secure] of Object.entries(opts.secureRegistries ?? {})) {
    await mkdir(join(certs, host), { recursive: true });
    await writeFile(join(certs, host, 'hosts.toml'), hostsToml(`https://${host}`, secure.caFile));
  }
  for (const [host, mirror] of Object.entries(opts.registryMirrors ?? {})) {
    await mkdir(join(certs, host), { recursive: true });
    await writeFile(join(certs, host, 'hosts.toml'), hostsToml(mirror));
  }
  const bridgeConf = (subnet: string): string =>
    JSON.stringify({
      cniVersion: '0.4.0',
      name: `ketch-test-${bridge}`,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: join(dir, 'ipam') },
        },
        { type: 'loopback' },
        // hostPort: containerd's CRI hands the sandbox's port mappings to the plugins that declare the capability.
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
  const template = join(dir, 'cni-template.conflist');
  if (opts.podCidrFromRuntimeConfig) {
    await writeFile(template, bridgeConf('{{.PodCIDR}}'));
  } else if (opts.podCidr) {
    await writeFile(join(cniConf, '10-ketch-test.conflist'), bridgeConf(opts.podCidr));
  } else {
    await writeFile(join(cniConf, '99-loopback.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'lo', type: 'loopback' }));
  }
  const config = [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
    '[grpc]',
    `  address = "${sock}"`,
    '[ttrpc]',
    `  address = "${sock}.ttrpc"`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = "${opts.sandboxImage}"`,
    // The host withholds CAP_SYS_RESOURCE: without this, runc fails to lower oom_score_adj (recipe §7).
    '  restrict_oom_score_adj = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '  enable_selinux = false',
    '  [plugins."io.containerd.grpc.v1.cri".cni]',
    '    bin_dir = "/usr/lib/cni"',
    `    conf_dir = "${cniConf}"`,
    ...(opts.podCidrFromRuntimeConfig ? [`    conf_template = "${template}"`] : []),
    '    max_conf_num = 1',
    '  [plugins."io.containerd.grpc.v1.cri".registry]',
    `    config_path = "${certs}"`,
    ...Object.entries(opts.secureRegistries ?? {}).flatMap(([host, s]) =>
      s.username || s.password ? [`    [plugins."io.containerd.grpc.v1.cri".registry.configs."${host}".auth]`, `      username = "${s.username ?? ''}"`, `      password = "${s.password ?? ''}"`] : [],
    ),
    '  [plugins."io.containerd.grpc.v1.cri".containerd]',
    '    snapshotter = "overlayfs"',
    '    default_runtime_name = "runc"',
    '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '      runtime_type = "io.containerd.runc.v2"',
    '',
  ].join('\n');
  const configFile = join(dir, 'config.toml');
  await writeFile(configFile, config);
  const child: ChildProcess = spawn('containerd', ['--config', configFile, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `unix://${sock}`;
  const probe = connectRuntime(endpoint, { timeoutMs: 2000 });
  try {
    await pollUntil('containerd CRI to answer', async () => {
      if (child.exitCode !== null) throw new Error(`containerd exited ${child.exitCode}: ${stderr}`);
      if (!existsSync(sock)) return undefined;
      const v = await probe.runtime.version({});
      return v.runtimeApiVersion ? true : undefined;
    }, 20_000, 100);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${String(err)}\ncontainerd stderr: ${stderr.slice(-1500)}`);
  } finally {
    probe.close();
  }
  return {
    endpoint,
    dir,
    async stop() {
      const client = connectRuntime(endpoint, { timeoutMs: 30_000 });
      try {
        const { items } = await client.runtime.listPodSandbox({});
        for (const s of items) {
          await client.runtime.stopPodSandbox({ podSandboxId: s.id }).catch(() => undefined);
          await client.runtime.removePodSandbox({ podSandboxId: s.id }).catch(() => undefined);
        }
      } catch {
        // containerd is already gone
      } finally {
        client.close();
      }
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      // Mounts containerd may have left under its root (snapshots, sandbox shm).
      const mounts = (await run('findmnt', ['-rn', '-o', 'TARGET'], { allowFailure: true })).stdout.split('\n').filter((m) => m.startsWith(dir));
      for (const m of mounts.reverse()) await run('umount', ['-l', m], { allowFailure: true });
      await rm(dir, { recursive: true, force: true });
      if (opts.podCidr || opts.podCidrFromRuntimeConfig) {
        await run('ip', ['link', 'del', bridge], { allowFailure: true });
        await removePortmapChains();
        await removeEmptyTables(tablesBefore);
      }
      // containerd 1.6 hard-codes these under /run (recipe §7); rmdir only removes them when empty.
      for (const d of ['/run/containerd/runc/k8s.io', '/run/containerd/runc', '/run/containerd/s', '/run/containerd/fifo', '/run/containerd']) await rmdir(d).catch(() => undefined);
      // The CRI plugin's default cgroup parent.
      for (const c of CGROUP_CONTROLLERS) {
        const p = `/sys/fs/cgroup/${c}/k8s.io`;
        if (!existsSync(p)) continue;
        for (const sub of await readdir(p, { withFileTypes: true }).catch(() => [])) {
          if (sub.isDirectory()) await rmdir(join(p, sub.name)).catch(() => undefined);
        }
        await rmdir(p).catch(() => undefined);
      }
    },
  };
}

/**
 * The CNI portmap plugin removes a sandbox's rules on teardown but leaves its chains in iptables' nat table (and the
 * jumps to them): removed with the test's containerd, which was their only user.
 */
async function nftTables(): Promise<Set<string>> {
  const out = (await run('nft', ['list', 'tables'], { allowFailure: true })).stdout;
  return new Set(out.split('\n').map((l) => l.replace(/^table\s+/, '').trim()).filter(Boolean));
}

/**
 * iptables-nft makes the `nat` tables (ip6tables too, only by listing) when portmap first touches them: a table that
 * was not there before the test's containerd and holds no rule now is removed with it.
 */
async function removeEmptyTables(before: Set<string>): Promise<void> {
  for (const table of ['ip nat', 'ip6 nat']) {
    if (before.has(table)) continue;
    const [family, name] = table.split(' ') as [string, string];
    const listed = await run('nft', ['-j', 'list', 'table', family, name], { allowFailure: true });
    if (listed.code !== 0) continue;
    const objects = (JSON.parse(listed.stdout) as { nftables: Record<string, unknown>[] }).nftables;
    if (objects.some((o) => 'rule' in o)) continue;
    await run('nft', ['delete', 'table', family, name], { allowFailure: true });
  }
}

async function removePortmapChains(): Promise<void> {
  for (const tool of ['iptables', 'ip6tables']) {
    const rules = (await run(tool, ['-t', 'nat', '-S'], { allowFailure: true })).stdout.split('\n');
    for (const r of rules) {
      // iptables -S quotes as a shell does (comments have spaces): the shell splits the rule back into arguments.
      if (/^-A (PREROUTING|OUTPUT|POSTROUTING) .*-j CNI-HOSTPORT-\S+/.test(r)) await run('sh', ['-c', `${tool} -t nat ${r.replace(/^-A/, '-D')}`], { allowFailure: true });
    }
    const chains = rules.map((r) => /^-N (CNI-(?:HOSTPORT|DN)-\S+)$/.exec(r)?.[1]).filter((c): c is string => Boolean(c));
    for (const c of chains) await run(tool, ['-t', 'nat', '-F', c], { allowFailure: true });
    for (const c of chains) await run(tool, ['-t', 'nat', '-X', c], { allowFailure: true });
  }
}

