// Pod volumes on the host, under ROOT/pods/<uid>/volumes/<name>: emptyDir (tmpfs for medium Memory), hostPath,
// configMap, secret, downwardAPI, projected (with service-account tokens from the TokenRequest API), and claims
// (persistentVolumeClaim and ephemeral, bind-mounted from their PersistentVolume: volumes/claims.ts).
import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DEFAULT_LOCAL_PATH_ROOT, type KeyToPath, type Pod, type Volume } from '../api/index.js';
import type { RestClient } from '../client/index.js';
import { isNotExist } from '../lib/errno.js';
import { logger } from '../lib/logger.js';
import { ContainerConfigError, fieldPathValue, type ObjectCache } from './pod-config.js';
import { TokenManager } from './token-manager.js';
import { MountError, applyFsGroup, ensureTmpfs, isMountPoint, makeVolumeDir, tmpfsVolume, writeProjected } from './volume-files.js';
import { ClaimError, ClaimReads, claimNameOf, inUseName, mountClaim, ownershipManaged, resolveClaim } from './volumes/claims.js';
import { mountsToUnmount, mountsUnder } from './volumes/csi-local/mount.js';
import { mountFs, unmountFs } from './runtime/command-runner.js';
import { setVolumeOwnership } from './volumes/ownership.js';

export { MountError };

export interface VolumeContext {
  pod: Pod;
  hostIP: string;
  podIP: string;
  objects: ObjectCache;
  rest: RestClient;
}

interface FileEntry {
  path: string;
  data: Buffer;
  mode: number;
}

function pickItems(data: Map<string, Buffer>, items: KeyToPath[] | undefined, mode: number, what: string, optional: boolean | undefined): FileEntry[] {
  if (!items?.length) return [...data].map(([k, v]) => ({ path: k, data: v, mode }));
  const out: FileEntry[] = [];
  for (const it of items) {
    const v = data.get(it.key);
    if (v === undefined) {
      if (optional) continue;
      throw new ContainerConfigError(`key "${it.key}" not found in ${what}`);
    }
    out.push({ path: it.path, data: v, mode: it.mode ?? mode });
  }
  return out;
}

export interface VolumeManagerOptions {
  /** The node's name: claims' volumes must be meant for it (node affinity; local-path volumes are pinned to one). */
  nodeName?: string;
  /** Roots local-path volumes may live in besides their class's nodePath (default /var/lib/ketch/storage). */
  localPathRoots?: string[];
}

export class VolumeManager {
  private readonly log = logger('volumes');
  /**
   * Claim volumes mounted, by `<pod uid>/<volume>` (not read again from the API on each refresh, as kubelet does not),
   * with the unique name kubelet reports in the node's volumesInUse ('' for none).
   */
  private readonly claimsMounted = new Map<string, string>();
  private readonly nodeName: string;
  private readonly localPathRoots: string[];
  /** The Node and StorageClass reads of claim mounts, shared for a few seconds. */
  private readonly claimReads = new ClaimReads();

  constructor(
    private readonly rootDir: string,
    private readonly tokens = new TokenManager(),
    o: VolumeManagerOptions = {},
  ) {
    this.nodeName = o.nodeName ?? '';
    this.localPathRoots = o.localPathRoots ?? [DEFAULT_LOCAL_PATH_ROOT];
  }

  podDir(uid: string): string {
    return join(this.rootDir, 'pods', uid);
  }

  /** Sets up (or refreshes the contents of) every volume of the pod; returns volume name -> host path. */
  async setUp(ctx: VolumeContext): Promise<Map<string, string>> {
    const uid = ctx.pod.metadata.uid ?? '';
    const out = new Map<string, string>();
    for (const v of ctx.pod.spec.volumes ?? []) {
      out.set(v.name, await this.setUpOne(uid, v, ctx));
    }
    return out;
  }

  private async setUpOne(uid: string, v: Volume, ctx: VolumeContext): Promise<string> {
    const dir = join(this.podDir(uid), 'volumes', v.name);
    if (v.hostPath) return this.hostPath(v.hostPath.path, v.hostPath.type ?? '');
    if (v.persistentVolumeClaim || v.ephemeral) {
      await makeVolumeDir(this.podDir(uid), dir);
      return this.claim(uid, v, ctx, dir);
    }
    await makeVolumeDir(this.podDir(uid), dir);
    if (v.emptyDir) {
      if (v.emptyDir.medium === 'Memory' && !(await isMountPoint(dir))) {
        const size = v.emptyDir.sizeLimit ? `size=${String(v.emptyDir.sizeLimit).replace(/i$/, '')}` : '';
        await mountFs('tmpfs', 'tmpfs', dir, size).catch((err: unknown) => {
          throw new MountError(`emptyDir ${v.name}: mounting tmpfs failed: ${String(err)}`);
        });
      }
      await chmod(dir, 0o777);
      await applyFsGroup(dir, ctx.pod);
      return dir;
    }
    // An ephemeral volume is a claim too: refused, not served as an empty directory that would silently lose data.
    if (v.persistentVolumeClaim || v.ephemeral) throw new MountError(`volume ${v.name}: ${v.ephemeral ? 'ephemeral' : 'persistentVolumeClaim'} volumes are not supported by this agent`);
    // The tmpfs is mounted while the content is read from the API (a token request, configMaps), each taking a few
    // ms; nothing is written before the mount is there.
    // (Its outcome is held as a value, so that a failure while the reads go on is not an unhandled rejection.)
    const mounting = tmpfsVolume(v) ? ensureTmpfs(dir).then(() => undefined, (err: unknown) => err) : undefined;
    let files: FileEntry[];
    try {
      files = await this.volumeFiles(v, ctx);
    } catch (err) {
      // The read's error is the one to report; the mount settles first, so that a teardown coming next finds it.
      const mountErr = await mounting;
      if (mountErr) this.log.debug('tmpfs mount failed too', { pod: uid, volume: v.name, error: String(mountErr) });
      throw err;
    }
    const mountErr = await mounting;
    if (mountErr) throw mountErr;
    await writeProjected(dir, files, ctx.pod);
    return dir;
  }

  /** The files of a configMap, secret, downwardAPI or projected volume (a projected volume's sources read at once). */
  private async volumeFiles(v: Volume, ctx: VolumeContext): Promise<FileEntry[]> {
    const ns = ctx.pod.metadata.namespace ?? '';
    const field = (path: string, fieldPath: string, mode: number): FileEntry => ({ path, data: Buffer.from(fieldPathValue(ctx.pod, fieldPath, ctx.hostIP, ctx.podIP)), mode });
    if (v.configMap) {
      const data = await ctx.objects.configMapData(v.configMap.name ?? '', v.configMap.optional, `volume ${v.name}`);
      return data ? pickItems(data, v.configMap.items, v.configMap.defaultMode ?? 0o644, `ConfigMap ${ns}/${v.configMap.name}`, v.configMap.optional) : [];
    }
    if (v.secret) {
      const data = await ctx.objects.secretData(v.secret.secretName ?? '', v.secret.optional, `volume ${v.name}`);
      return data ? pickItems(data, v.secret.items, v.secret.defaultMode ?? 0o644, `Secret ${ns}/${v.secret.secretName}`, v.secret.optional) : [];
    }
    if (v.downwardAPI) {
      const mode = v.downwardAPI.defaultMode ?? 0o644;
      return (v.downwardAPI.items ?? []).flatMap((it) => (it.fieldRef ? [field(it.path, it.fieldRef.fieldPath, it.mode ?? mode)] : []));
    }
    if (!v.projected) return [];
    const mode = v.projected.defaultMode ?? 0o644;
    const sources = await Promise.all(
      (v.projected.sources ?? []).map(async (src): Promise<FileEntry[]> => {
        if (src.configMap) {
          const data = await ctx.objects.configMapData(src.configMap.name ?? '', src.configMap.optional, `volume ${v.name}`);
          return data ? pickItems(data, src.configMap.items, mode, `ConfigMap ${ns}/${src.configMap.name}`, src.configMap.optional) : [];
        }
        if (src.secret) {
          const data = await ctx.objects.secretData(src.secret.name ?? '', src.secret.optional, `volume ${v.name}`);
          return data ? pickItems(data, src.secret.items, mode, `Secret ${ns}/${src.secret.name}`, src.secret.optional) : [];
        }
        if (src.downwardAPI) return (src.downwardAPI.items ?? []).flatMap((it) => (it.fieldRef ? [field(it.path, it.fieldRef.fieldPath, it.mode ?? mode)] : []));
        if (src.serviceAccountToken) {
          const t = src.serviceAccountToken;
          const token = await this.serviceAccountToken(ctx, t.audience, Number(t.expirationSeconds ?? 3600));
          return [{ path: t.path, data: Buffer.from(token), mode: 0o600 }];
        }
        return [];
      }),
    );
    return sources.flat();
  }

  private async serviceAccountToken(ctx: VolumeContext, audience: string | undefined, expirationSeconds: number): Promise<string> {
    const sa = ctx.pod.spec.serviceAccountName || ctx.pod.spec.serviceAccount || 'default';
    const ns = ctx.pod.metadata.namespace ?? 'default';
    const key = { podUid: ctx.pod.metadata.uid ?? '', namespace: ns, serviceAccount: sa, audience: audience ?? '', expirationSeconds };
    try {
      return await this.tokens.token(key, async () => {
        const res = await ctx.rest.request<{ status?: { token?: string; expirationTimestamp?: string } }>('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(sa)}/token`, {
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: {
              audiences: audience ? [audience] : [],
              expirationSeconds,
              boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: ctx.pod.metadata.name, uid: ctx.pod.metadata.uid },
            },
          },
        });
        const token = res?.status?.token;
        if (!token) throw new Error('the TokenRequest answer has no status.token');
        return { token, ...(res.status?.expirationTimestamp ? { expirationTimestamp: res.status.expirationTimestamp } : {}) };
      });
    } catch (err) {
      throw new MountError(`service account token for ${ns}/${sa}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async hostPath(path: string, type: string): Promise<string> {
    const info = await stat(path).catch((err: unknown) => {
      // Not there: made, or refused, as the type says. Anything else is no usable host path.
      if (isNotExist(err)) return undefined;
      throw new MountError(`hostPath ${path}: ${String(err)}`);
    });
    switch (type) {
      case 'DirectoryOrCreate':
        if (!info) await mkdir(path, { recursive: true, mode: 0o755 });
        else if (!info.isDirectory()) throw new MountError(`hostPath ${path} is not a directory`);
        break;
      case 'FileOrCreate':
        if (!info) {
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, '', { mode: 0o644 });
        } else if (!info.isFile()) throw new MountError(`hostPath ${path} is not a file`);
        break;
      case 'Directory':
        if (!info?.isDirectory()) throw new MountError(`hostPath ${path} is not a directory`);
        break;
      case 'File':
        if (!info?.isFile()) throw new MountError(`hostPath ${path} is not a file`);
        break;
      case 'Socket':
        if (!info?.isSocket()) throw new MountError(`hostPath ${path} is not a socket`);
        break;
      case 'CharDevice':
        if (!info?.isCharacterDevice()) throw new MountError(`hostPath ${path} is not a character device`);
        break;
      case 'BlockDevice':
        if (!info?.isBlockDevice()) throw new MountError(`hostPath ${path} is not a block device`);
        break;
      default:
        break;
    }
    return path;
  }

  /** A claim's volume mounted on dir (fsGroup applied once, where kubelet manages ownership); waits while unbound. */
  private async claim(uid: string, v: Volume, ctx: VolumeContext, dir: string): Promise<string> {
    const key = `${uid}/${v.name}`;
    if (this.claimsMounted.has(key)) return dir;
    const { pod } = ctx;
    let mount;
    try {
      mount = await resolveClaim(ctx.rest, this.nodeName, pod, v, this.claimReads);
    } catch (err) {
      if (!(err instanceof ClaimError)) throw err;
      // kubelet's wording: the volumes still to mount, and the one whose claim cannot be processed.
      const pending = (pod.spec.volumes ?? []).filter((x) => claimNameOf(pod, x) !== undefined && !this.claimsMounted.has(`${uid}/${x.name}`)).map((x) => x.name);
      throw new MountError(`Unable to attach or mount volumes: unmounted volumes=[${pending.join(' ')}], unattached volumes=[${pending.join(' ')}], failed to process volumes=[${v.name}]: ${err.message}`);
    }
    const readOnly = !!v.persistentVolumeClaim?.readOnly;
    await mountClaim({ rest: ctx.rest, nodeName: this.nodeName, roots: this.localPathRoots, mount, target: dir, readOnly, checkHostPath: (p, t) => this.hostPath(p, t), reads: this.claimReads });
    const sc = pod.spec.securityContext;
    if (sc?.fsGroup !== undefined && ownershipManaged(mount.backing)) {
      const changed = await setVolumeOwnership(dir, sc.fsGroup, sc.fsGroupChangePolicy ?? 'Always', readOnly).catch((err: unknown) => {
        throw new MountError(`MountVolume.SetUp failed for volume "${mount.volume.metadata.name ?? ''}" : applying fsGroup ${sc.fsGroup}: ${String(err)}`);
      });
      this.log.debug('volume ownership set', { pod: uid, volume: v.name, fsGroup: sc.fsGroup, changed });
    }
    this.claimsMounted.set(key, inUseName(mount.volume, mount.backing));
    this.log.info('claim volume mounted', { pod: uid, volume: v.name, claim: mount.claim.metadata?.name, pv: mount.volume.metadata.name, kind: mount.backing.kind, readOnly });
    return dir;
  }

  /** status.volumesInUse: the unique names of the mounted volumes kubelet reports (local ones), sorted. */
  volumesInUse(): string[] {
    return [...new Set([...this.claimsMounted.values()].filter(Boolean))].sort();
  }

  /**
   * Unmounts everything under the pod's directory (tmpfs emptyDirs, claims, subPaths), removes the directory and
   * forgets its tokens. A mount that stays refuses the removal: a claim's data is never deleted through its mount point.
   */
  async tearDown(uid: string): Promise<void> {
    this.tokens.forget(uid);
    const dir = this.podDir(uid);
    await unmountUnder(dir);
    const left = await mountsUnder(dir);
    if (left.length) throw new MountError(`pod ${uid}: still mounted after unmounting, not removing the pod directory: ${left.join(', ')}`);
    for (const key of this.claimsMounted.keys()) if (key.startsWith(`${uid}/`)) this.claimsMounted.delete(key);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Unmounts every mount below base, deepest first (tmpfs volumes, subPath binds): a pod's teardown, and `ketch up`'s
 * stop for the pods of a node it ran (their volumes outlive the removed sandboxes otherwise).
 */
export async function unmountUnder(base: string): Promise<void> {
  const points = await mountsToUnmount(base);
  // Busy (a process of the pod still inside): detached now, freed when the last user goes.
  for (const mp of points) await unmountFs(mp).catch(() => unmountFs(mp, true));
}
