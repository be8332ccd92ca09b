// Pod sandboxes: a netns (plus pod network), persistent IPC and UTS namespaces, /etc files and a cgroup parent.
// No pause process: the namespaces are held open by bind mounts, and each sandbox is a directory on disk.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { POD_CIDR_ANNOTATION, type PodSandboxConfig, type PodSandboxState } from '../cri/types.js';
import { RuntimeError, invalid, notFound } from '../cri/errors.js';
import { holdNamespaces, run, unmountFs } from './command-runner.js';
import { isNotExist } from '../../lib/errno.js';
import { CommandError } from './exec.js';
import { nowNanos } from './monitor.js';
import { formatResolvConf } from '../dns/resolv-conf.js';
import type { NetworkManager, PodNetwork } from './network.js';
import { RecordFiles } from './records.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export interface SandboxRecord {
  id: string;
  config: PodSandboxConfig;
  runtimeHandler: string;
  createdAt: string;
  state: PodSandboxState;
  hostNetwork: boolean;
  hostname: string;
  network?: PodNetwork;
  ipcPath?: string;
  utsPath?: string;
  cgroupParent: string;
  /** True when the runtime made up the cgroup parent and so removes it. */
  ownCgroup: boolean;
  etc: { hosts: string; resolv: string; hostname: string };
}

export class SandboxStore {
  readonly dir: string;
  private readonly nsDir: string;
  private readonly records: RecordFiles<SandboxRecord>;

  constructor(
    root: string,
    private readonly net: NetworkManager,
  ) {
    this.dir = join(root, 'sandboxes');
    this.nsDir = join(root, 'ns');
    this.records = new RecordFiles(this.dir, 'sandbox.json');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.nsDir, { recursive: true });
    await this.records.load();
    // After a reboot the namespaces are gone while the records say READY.
    for (const rec of await this.list()) {
      if (rec.state === 'SANDBOX_READY' && rec.network && !existsSync(rec.network.netnsPath)) {
        log.warn('pod sandbox lost its network namespace', { sandbox: rec.id, netns: rec.network.netns });
        await this.stop(rec);
      }
    }
    // The hostPorts of the sandboxes that are up, in place of what an earlier run of the runtime left.
    const up = (await this.list((r) => r.state === 'SANDBOX_READY' && !!r.network)).map((r) => [r.id, r.network!] as const);
    await this.net.restoreHostPorts(new Map(up));
  }

  /** Copies of the records (of those that match); served from memory. */
  async list(match?: (rec: SandboxRecord) => boolean): Promise<SandboxRecord[]> {
    return this.records.list(match);
  }

  /** The records themselves (of those that match), read-only: for listings that change nothing. */
  peek(match?: (rec: Readonly<SandboxRecord>) => boolean): Readonly<SandboxRecord>[] {
    return this.records.peek(match);
  }

  /** By full id or unique prefix. */
  async get(id: string): Promise<SandboxRecord> {
    if (!id) throw invalid('pod sandbox id is empty');
    const rec = this.records.get(id);
    if (!rec) throw notFound(`pod sandbox "${id}"`);
    return rec;
  }

  /** As get(), but undefined for an id that names no sandbox (or none). */
  async find(id: string): Promise<SandboxRecord | undefined> {
    return id ? this.records.get(id) : undefined;
  }

  async save(rec: SandboxRecord): Promise<void> {
    await this.records.save(rec);
  }

  async create(config: PodSandboxConfig, runtimeHandler: string): Promise<SandboxRecord> {
    const md = config.metadata;
    if (!md?.name) throw invalid('pod sandbox metadata.name is required');
    if (runtimeHandler && runtimeHandler !== 'runc') throw invalid(`unknown runtime handler "${runtimeHandler}"`);
    const same = (o: SandboxRecord['config']['metadata']): boolean => !!o && o.name === md.name && o.namespace === md.namespace && o.uid === md.uid && o.attempt === md.attempt;
    const [other] = this.records.peek((r) => same(r.config.metadata));
    if (other) throw new RuntimeError('AlreadyExists', `pod sandbox ${md.namespace}/${md.name} attempt ${md.attempt} already exists as ${other.id}`);
    const ns = config.linux?.securityContext?.namespaceOptions;
    if (ns?.usernsOptions && ns.usernsOptions.mode !== 'NODE') {
      // runc 1.1 maps ids but cannot id-map mounts: the rootfs and volumes would need a chowned copy per pod.
      throw invalid('user namespaces (hostUsers: false) are not supported by this runtime: runc 1.1 cannot id-map the rootfs and volume mounts');
    }
    const id = randomBytes(32).toString('hex');
    const dir = join(this.dir, id);
    await mkdir(dir, { recursive: true });
    const hostNetwork = ns?.network === 'NODE';
    const hostname = (config.hostname || md.name).slice(0, 63);
    const ownCgroup = !config.linux?.cgroupParent;
    const rec: SandboxRecord = {
      id,
      config,
      runtimeHandler,
      createdAt: nowNanos().toString(),
      state: 'SANDBOX_NOTREADY',
      hostNetwork,
      hostname,
      cgroupParent: config.linux?.cgroupParent || `/ketch/${id.slice(0, 12)}`,
      ownCgroup,
      etc: { hosts: join(dir, 'hosts'), resolv: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') },
    };
    await this.save(rec);
    try {
      // A pod gets the host's IPC namespace only when it asks (hostIPC), whatever its network; hostNetwork pods share
      // the host's UTS namespace (its host name), as with kubelet.
      if (ns?.ipc !== 'NODE') rec.ipcPath = join(this.nsDir, `${id}-ipc`);
      if (!hostNetwork) rec.utsPath = join(this.nsDir, `${id}-uts`);
      // Independent, so in parallel: each is a couple of process spawns.
      await Promise.all([
        hostNetwork
          ? undefined
          : this.net.setUp(id, config.annotations[POD_CIDR_ANNOTATION] || (await this.net.podCidr()), config.portMappings).then((network) => {
              rec.network = network;
              return this.save(rec);
            }),
        this.holdNamespaces(rec.ipcPath, rec.utsPath, hostname),
      ]);
      await this.writeEtc(rec);
      rec.state = 'SANDBOX_READY';
      await this.save(rec);
    } catch (err) {
      // Undo what was made; the error that matters is the one thrown below.
      await this.stop(rec).catch((e: unknown) => log.warn('half-made sandbox not stopped cleanly', { sandbox: id, error: String(e) }));
      await rm(dir, { recursive: true, force: true });
      this.records.forget(id);
      throw err;
    }
    log.info('pod sandbox ready', { sandbox: id, pod: `${md.namespace}/${md.name}`, ip: rec.network?.ip });
    return rec;
  }

  /** Creates IPC/UTS namespaces and keeps them alive by bind-mounting them onto files. */
  private async holdNamespaces(ipc: string | undefined, uts: string | undefined, hostname: string): Promise<void> {
    if (!ipc && !uts) return;
    const holds: { kind: 'uts' | 'ipc'; path: string }[] = [];
    for (const [kind, path] of [['uts', uts], ['ipc', ipc]] as const) {
      if (!path) continue;
      await writeFile(path, '');
      holds.push({ kind, path });
    }
    const name = uts ? hostname : '';
    try {
      await holdNamespaces(holds, name);
    } catch (err) {
      // Bind-mounting a namespace needs a non-shared parent mount (systemd makes / shared): make one.
      if (!(err instanceof CommandError)) throw err;
      await run('mount', ['--bind', this.nsDir, this.nsDir]);
      await run('mount', ['--make-private', this.nsDir]);
      await holdNamespaces(holds, name);
    }
  }

  private async writeEtc(rec: SandboxRecord): Promise<void> {
    const ip = rec.network?.ip;
    await writeFile(rec.etc.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip ? `${ip}\t${rec.hostname}\n` : ''}`);
    await writeFile(rec.etc.hostname, `${rec.hostname}\n`);
    const dns = rec.config.dnsConfig;
    if (dns && (dns.servers.length || dns.searches.length || dns.options.length)) {
      // As containerd writes it: search, nameservers, options.
      await writeFile(rec.etc.resolv, formatResolvConf({ nameservers: dns.servers, searches: dns.searches, options: dns.options }));
    } else {
      await copyFile('/etc/resolv.conf', rec.etc.resolv).catch((err: unknown) => {
        // A host without resolv.conf gives its pods none either: an empty file, as runc needs one to mount.
        if (!isNotExist(err)) log.warn('host resolv.conf not copied, the pod gets an empty one', { error: String(err) });
        return writeFile(rec.etc.resolv, '');
      });
    }
  }

  /** Releases network and namespaces; containers must already be stopped. Idempotent. */
  async stop(rec: SandboxRecord): Promise<void> {
    if (rec.network) await this.net.tearDown(rec.id, rec.network);
    for (const p of [rec.ipcPath, rec.utsPath]) {
      if (!p) continue;
      await unmountFs(p, false, { allowFailure: true });
      await rm(p, { force: true });
    }
    if (rec.state !== 'SANDBOX_NOTREADY') {
      rec.state = 'SANDBOX_NOTREADY';
      await this.save(rec);
    }
  }

  async remove(rec: SandboxRecord): Promise<void> {
    await this.stop(rec);
    await rm(join(this.dir, rec.id), { recursive: true, force: true });
    this.records.forget(rec.id);
  }
}
