// Builds the runc bundle's config.json (OCI runtime spec 1.0.2) from a CRI container config and its image.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ContainerConfig, type LinuxContainerResources, type Mount, int64 } from '../cri/types.js';
import { invalid } from '../cri/errors.js';
import { isNotExist } from '../../lib/errno.js';
import type { ImageRecord } from './image-store.js';
import { logger } from '../../lib/logger.js';
import { hostCgroups } from './cgroups.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, apparmorFor, capabilities, seccompFor } from './security.js';

const log = logger('runtime');

export interface SpecInput {
  config: ContainerConfig;
  image: ImageRecord;
  /** The mounted rootfs, to resolve user names against its /etc/passwd. */
  rootfs: string;
  hostname: string;
  /** Share the host's network namespace (and then its UTS namespace). */
  hostNetwork: boolean;
  /** Namespace files to join; an absent IPC or UTS path means the host's. */
  netnsPath?: string;
  ipcPath?: string;
  utsPath?: string;
  /** Bind-mounted over /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  etcFiles: { hosts: string; resolv: string; hostname: string };
  cgroupsPath: string;
  sysctls: Record<string, string>;
}

export type OciSpec = Record<string, unknown>;

const num = int64;

/** The OCI `linux.resources` part for memory and cpu; also used by `runc update`. */
export function ociResources(r: LinuxContainerResources | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!r) return out;
  const memory = num(r.memoryLimitInBytes);
  if (memory > 0) {
    const swap = num(r.memorySwapLimitInBytes);
    out.memory = { limit: memory, swap: swap > 0 ? swap : memory };
  }
  const cpu: Record<string, unknown> = {};
  if (num(r.cpuShares) > 0) cpu.shares = num(r.cpuShares);
  if (num(r.cpuQuota) > 0) cpu.quota = num(r.cpuQuota);
  if (num(r.cpuPeriod) > 0) cpu.period = num(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  return out;
}

function passwdLookup(rootfs: string, file: 'passwd' | 'group', key: string): string[] | undefined {
  try {
    for (const line of readFileSync(join(rootfs, 'etc', file), 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === key || (file === 'passwd' && f[2] === key)) return f;
    }
  } catch (err) {
    // An image without /etc/passwd (or /etc/group) has no names to look up: the caller reports the name as unknown.
    if (!isNotExist(err)) log.warn('image user database unreadable, names not resolved', { file: join(rootfs, 'etc', file), error: String(err) });
  }
  return undefined;
}

export function resolveUser(input: SpecInput): { uid: number; gid: number; additionalGids: number[] } {
  const sc = input.config.linux?.securityContext;
  let uid: number | undefined = sc?.runAsUser ? num(sc.runAsUser.value) : undefined;
  let gid: number | undefined = sc?.runAsGroup ? num(sc.runAsGroup.value) : undefined;
  let name = sc?.runAsUsername || undefined;
  if (uid === undefined && !name) {
    const [u, g] = (input.image.config.User ?? '').split(':');
    if (u) {
      if (/^\d+$/.test(u)) uid = Number(u);
      else name = u;
    }
    if (g && gid === undefined) {
      if (/^\d+$/.test(g)) gid = Number(g);
      else {
        const grp = passwdLookup(input.rootfs, 'group', g);
        if (!grp) throw invalid(`group "${g}" not found in the image`);
        gid = Number(grp[2]);
      }
    }
  }
  if (name) {
    const pw = passwdLookup(input.rootfs, 'passwd', name);
    if (!pw) throw invalid(`user "${name}" not found in the image's /etc/passwd`);
    uid = Number(pw[2]);
    gid ??= Number(pw[3]);
  }
  uid ??= 0;
  if (gid === undefined) {
    const pw = passwdLookup(input.rootfs, 'passwd', String(uid));
    gid = pw ? Number(pw[3]) : 0;
  }
  return { uid, gid, additionalGids: (sc?.supplementalGroups ?? []).map(num) };
}

function processArgs(config: ContainerConfig, image: ImageRecord): string[] {
  const entrypoint = image.config.Entrypoint ?? [];
  const cmd = image.config.Cmd ?? [];
  let args: string[];
  if (config.command.length) args = [...config.command, ...config.args];
  else if (config.args.length) args = [...entrypoint, ...config.args];
  else args = [...entrypoint, ...cmd];
  if (!args.length) throw invalid('no command specified: neither the container config nor the image has one');
  return args;
}

function mergeEnv(image: string[], cri: { key: string; value: string }[], hostname: string): string[] {
  const env = new Map<string, string>();
  for (const e of image) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  env.set('HOSTNAME', hostname);
  for (const { key, value } of cri) env.set(key, value);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function criMount(m: Mount): Record<string, unknown> {
  if (!m.containerPath.startsWith('/')) throw invalid(`mount path "${m.containerPath}" is not absolute`);
  const propagation = { PROPAGATION_PRIVATE: 'rprivate', PROPAGATION_HOST_TO_CONTAINER: 'rslave', PROPAGATION_BIDIRECTIONAL: 'rshared' }[m.propagation] ?? 'rprivate';
  return { destination: m.containerPath, type: 'bind', source: m.hostPath, options: ['rbind', propagation, m.readonly ? 'ro' : 'rw'] };
}

/** This process's OOM score adjustment (containers get at least it); 0 where /proc does not say. */
function currentOomScoreAdj(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  } catch (err) {
    log.warn('oom_score_adj unreadable, taking 0', { error: String(err) });
    return 0;
  }
}

export function buildSpec(input: SpecInput): OciSpec {
  const { config, image } = input;
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  const user = resolveUser(input);
  const caps = capabilities(sc);
  const seccomp = seccompFor(sc, caps);
  const apparmorProfile = apparmorFor(sc?.apparmor);
  const resources = config.linux?.resources;
  // Lowering oom_score_adj needs CAP_SYS_RESOURCE, which this host withholds; never ask for less than we have.
  const oomScoreAdj = Math.max(num(resources?.oomScoreAdj), currentOomScoreAdj());

  const namespaces: Record<string, string>[] = [{ type: 'mount' }];
  const pidMode = sc?.namespaceOptions?.pid ?? 'CONTAINER';
  if (pidMode !== 'NODE') namespaces.push({ type: 'pid' });
  if (!input.hostNetwork) namespaces.push(input.netnsPath ? { type: 'network', path: input.netnsPath } : { type: 'network' });
  if (input.ipcPath) namespaces.push({ type: 'ipc', path: input.ipcPath });
  if (input.utsPath) namespaces.push({ type: 'uts', path: input.utsPath });
  // On the unified hierarchy a container gets its own cgroup namespace, as containerd gives it there.
  if (hostCgroups().mode === 'v2' && !privileged) namespaces.push({ type: 'cgroup' });

  const sysOpts = ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'];
  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOpts },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...sysOpts, 'relatime'] },
  ];
  const userPaths = new Set(config.mounts.map((m) => m.containerPath));
  for (const [dest, src] of [['/etc/hosts', input.etcFiles.hosts], ['/etc/resolv.conf', input.etcFiles.resolv], ['/etc/hostname', input.etcFiles.hostname]] as const) {
    if (!userPaths.has(dest)) mounts.push({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate', 'rw'] });
  }
  mounts.push(...config.mounts.map(criMount));

  const linux: Record<string, unknown> = {
    cgroupsPath: input.cgroupsPath,
    namespaces,
    resources: {
      devices: privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }],
      ...ociResources(resources),
    },
    sysctl: input.sysctls,
  };
  if (!privileged) {
    linux.maskedPaths = sc?.maskedPaths.length ? sc.maskedPaths : DEFAULT_MASKED_PATHS;
    linux.readonlyPaths = sc?.readonlyPaths.length ? sc.readonlyPaths : DEFAULT_READONLY_PATHS;
  }
  if (seccomp) linux.seccomp = seccomp;
  return {
    ociVersion: '1.0.2-dev',
    process: {
      // With a terminal, the monitor runs runc under the console helper (console.ts).
      terminal: config.tty,
      user,
      args: processArgs(config, image),
      env: mergeEnv(image.config.Env ?? [], config.envs, input.hostname),
      cwd: config.workingDir || image.config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: sc?.noNewPrivs ?? false,
      oomScoreAdj,
      ...(apparmorProfile ? { apparmorProfile } : {}),
    },
    root: { path: 'rootfs', readonly: sc?.readonlyRootfs ?? false },
    ...(input.utsPath ? { hostname: input.hostname } : {}),
    mounts,
    linux,
    annotations: config.annotations,
  };
}
