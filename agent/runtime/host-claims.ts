// What a runtime leaves on its host, and who owns it: each runtime claims its pod bridge in a host-wide directory
// (/run/ketch/bridges/<bridge>.json: its root, pid and the pid's start time). A runtime that starts after a crash (kill -9,
// power loss) tells a dead run's leftovers (removed: containers, veths, network namespaces, mounts, cgroups, the bridge
// and with it its pod-CIDR route) from a live cluster's network (then it refuses the pod CIDR with a clear message).
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../cri/errors.js';
import { run, unmountFs } from './command-runner.js';
import { removeCgroup } from './cgroups.js';
import { readJson, writeJson } from './files.js';
import { procStartTime } from './monitor-pool.js';
import { cidrWithin } from './cidr.js';
import { mountsToUnmount } from '../volumes/csi-local/mount.js';
import { isNotExist } from '../../lib/errno.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

/** Host-wide directory of bridge claims (tmpfs: a reboot clears it along with the bridges). */
export const CLAIMS_DIR = process.env.KETCH_CLAIMS_DIR ?? '/run/ketch/bridges';

export interface BridgeClaim {
  bridge: string;
  root: string;
  /** Where the run's mounts are (the runtime root, or a directory holding it and the agent's volumes). */
  mountsDir?: string;
  pid: number;
  startTime: string;
}

const claimFile = (bridge: string, dir = CLAIMS_DIR): string => join(dir, `${bridge}.json`);

export const isAlive = (c: Pick<BridgeClaim, 'pid' | 'startTime'>): boolean => procStartTime(c.pid) === c.startTime;

async function readClaims(dir = CLAIMS_DIR): Promise<BridgeClaim[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isNotExist(err)) return [];
    throw err;
  }
  const out: BridgeClaim[] = [];
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    const c = await readJson<BridgeClaim | undefined>(join(dir, n), undefined);
    if (c?.bridge) out.push(c);
  }
  return out;
}

/**
 * Removes the claims that nothing is left behind for: a dead run whose bridge and root directory are both gone (a clean
 * stop keeps the bridge for the next start; whoever removed it and the directory afterwards left the record). Returns
 * the bridges whose claims it removed.
 */
export async function pruneStaleClaims(dir = CLAIMS_DIR): Promise<string[]> {
  const stale = (await readClaims(dir)).filter((c) => !isAlive(c) && !existsSync(join('/sys/class/net', c.bridge)) && !existsSync(c.root));
  for (const c of stale) await rm(claimFile(c.bridge, dir), { force: true });
  if (stale.length) log.info('removed stale bridge claims', { bridges: stale.map((c) => c.bridge) });
  return stale.map((c) => c.bridge);
}

/** Records this process as the owner of `bridge` (a run of the same root after a crash adopts its own claim). */
export async function claimBridge(bridge: string, root: string, mountsDir = root): Promise<void> {
  await mkdir(CLAIMS_DIR, { recursive: true });
  await pruneStaleClaims();
  await writeJson(claimFile(bridge), { bridge, root, mountsDir, pid: process.pid, startTime: procStartTime(process.pid) ?? '' } satisfies BridgeClaim);
}

/** Drops this process's claim (on a stop that removed the bridge). */
export async function releaseBridge(bridge: string): Promise<void> {
  const c = await readJson<BridgeClaim | undefined>(claimFile(bridge), undefined);
  if (c && c.pid === process.pid) await rm(claimFile(bridge), { force: true });
}

/** Interfaces enslaved to a bridge (the pods' host-side veths). */
async function bridgeMembers(bridge: string): Promise<string[]> {
  const r = await run('ip', ['-o', 'link', 'show', 'master', bridge], { allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((x): x is string => Boolean(x));
}

async function unmountAll(dir: string): Promise<number> {
  const points = await mountsToUnmount(dir, true);
  for (const p of points) {
    const r = await unmountFs(p, false, { allowFailure: true });
    if (r.code !== 0) await unmountFs(p, true, { allowFailure: true });
  }
  return points.length;
}

interface SandboxLeftover {
  id: string;
  cgroupParent?: string;
  network?: { netns: string; hostVeth?: string };
}

/** The runc containers in a state directory (`runc list -q`). */
async function runcContainers(runcRoot: string): Promise<string[]> {
  const r = await run('runc', ['--root', runcRoot, 'list', '-q'], { allowFailure: true });
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

/**
 * Removes everything a dead runtime with this root and bridge left on the host: its containers (runc state), the
 * mounts under its directory, its pods' network namespaces and veths, their cgroups and the bridge. Its files stay.
 */
export async function removeDeadRun(root: string, bridge: string, mountsDir = root): Promise<void> {
  const runcRoot = join(root, 'runc');
  const ids = await runcContainers(runcRoot);
  for (const id of ids) {
    await run('runc', ['--root', runcRoot, 'kill', id, 'KILL'], { allowFailure: true });
    await run('runc', ['--root', runcRoot, 'delete', '--force', id], { allowFailure: true });
  }
  const sandboxes: SandboxLeftover[] = [];
  const sbDir = join(root, 'sandboxes');
  for (const id of await readdir(sbDir).catch((err: unknown) => (isNotExist(err) ? [] : Promise.reject(err)))) {
    const rec = await readJson<SandboxLeftover | undefined>(join(sbDir, id, 'sandbox.json'), undefined);
    if (rec) sandboxes.push(rec);
  }
  const veths = new Set(await bridgeMembers(bridge));
  for (const s of sandboxes) if (s.network?.hostVeth) veths.add(s.network.hostVeth);
  for (const v of veths) await run('ip', ['link', 'del', v], { allowFailure: true });
  // Host veths are kv<12 hex of the sandbox id>, the namespaces ketch-<the same>.
  const netns = new Set([...veths].filter((v) => v.startsWith('kv')).map((v) => `ketch-${v.slice(2)}`));
  for (const s of sandboxes) if (s.network?.netns) netns.add(s.network.netns);
  for (const n of netns) await run('ip', ['netns', 'del', n], { allowFailure: true });
  const mounts = await unmountAll(mountsDir);
  for (const s of sandboxes) if (s.cgroupParent) await removeCgroup(s.cgroupParent);
  await run('ip', ['link', 'del', bridge], { allowFailure: true });
  await rm(claimFile(bridge), { force: true });
  log.warn('removed what a dead runtime left on this host', { root, bridge, containers: ids.length, netns: netns.size, veths: veths.size, mounts });
}

/**
 * At start, the leftovers of an earlier run of THIS root that no record names (a crash between creating a thing and
 * recording it): veths on our bridge and runc containers unknown to the stores.
 */
export async function removeUnrecorded(o: { bridge: string; runcRoot: string; sandboxIds: string[]; containerIds: string[] }): Promise<void> {
  const known = new Set(o.sandboxIds.map((id) => id.slice(0, 12)));
  for (const v of await bridgeMembers(o.bridge)) {
    if (!v.startsWith('kv') || known.has(v.slice(2))) continue;
    await run('ip', ['link', 'del', v], { allowFailure: true });
    await run('ip', ['netns', 'del', `ketch-${v.slice(2)}`], { allowFailure: true });
    log.warn('removed an unrecorded pod network left by an earlier run', { veth: v });
  }
  const containers = new Set(o.containerIds);
  for (const id of await runcContainers(o.runcRoot)) {
    if (containers.has(id)) continue;
    await run('runc', ['--root', o.runcRoot, 'delete', '--force', id], { allowFailure: true });
    log.warn('removed an unrecorded runc container left by an earlier run', { container: id });
  }
}

/** IPv4 routes of the main table as (destination, device). */
async function routes(): Promise<{ dst: string; dev: string }[]> {
  const r = await run('ip', ['-o', '-4', 'route', 'show'], { allowFailure: true });
  return r.stdout
    .split('\n')
    .map((l) => ({ dst: l.split(' ')[0] ?? '', dev: /\bdev (\S+)/.exec(l)?.[1] ?? '' }))
    .filter((x) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(x.dst) && x.dev)
    .map((x) => ({ dst: x.dst.includes('/') ? x.dst : `${x.dst}/32`, dev: x.dev }));
}

/**
 * Throws (FailedPrecondition, a message saying who and what to do) when a live cluster on this host already routes
 * part of `cidr` through another device. A dead ketch run's bridge in the way is removed, with all that run left (a
 * dead run that is not in the way is left alone: its root may start again and adopt its pods).
 */
export async function ensurePodCidrFree(cidr: string, ownBridge: string): Promise<void> {
  const claims = new Map((await readClaims()).map((c) => [c.bridge, c]));
  // A broader route (the LAN's 10.0.0.0/8) is shadowed by the bridge's more specific one: only as specific ones clash.
  for (const r of await routes()) {
    if (r.dev === ownBridge || !cidrWithin(r.dst, cidr)) continue;
    const claim = claims.get(r.dev);
    if (claim && !isAlive(claim)) {
      await removeDeadRun(claim.root, claim.bridge, claim.mountsDir);
      continue;
    }
    if (!claim && r.dev.startsWith('ketch') && (await bridgeMembers(r.dev)).length === 0) {
      // An unclaimed ketch bridge with no pod on it: a leftover of a run from before claims, nothing can use it.
      await run('ip', ['link', 'del', r.dev], { allowFailure: true });
      log.warn('removed an unused ketch bridge that routed the pod CIDR', { bridge: r.dev, route: r.dst });
      continue;
    }
    const who = claim ? `the ketch cluster whose runtime runs as pid ${claim.pid} with root ${claim.root}` : `device ${r.dev}, not a ketch runtime's`;
    throw new RuntimeError(
      'FailedPrecondition',
      `pod CIDR ${cidr} is already routed on this host (${r.dst} dev ${r.dev}, by ${who}): pods here would be unreachable. ` +
        `Stop that cluster, or give this one another --cluster-cidr${claim ? '' : `, or remove the device (ip link del ${r.dev}) if nothing uses it`}.`,
      false,
    );
  }
}
