// Pod volumes on the host, under ROOT/pods/<uid>/volumes/<name>: emptyDir (tmpfs for medium Memory), hostPath,
// configMap, secret, downwardAPI and projected (with service-account tokens from the TokenRequest API).
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { KeyToPath, Pod, Volume } from '../api/index.js';
import type { RestClient } from '../client/index.js';
import { isNotExist } from '../lib/errno.js';
import { ContainerConfigError, fieldPathValue, type ObjectCache } from './pod-config.js';
import { TokenManager } from './token-manager.js';
import { MountError, applyFsGroup, isMountPoint, makeVolumeDir, tmpfsVolume, writeProjected } from './volume-files.js';

export { MountError };

const exec = promisify(execFile);

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

export class VolumeManager {
  constructor(
    private readonly rootDir: string,
    private readonly tokens = new TokenManager(),
  ) {}

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
    await makeVolumeDir(this.podDir(uid), dir);
    if (v.emptyDir) {
      if (v.emptyDir.medium === 'Memory' && !(await isMountPoint(dir))) {
        const size = v.emptyDir.sizeLimit ? [`-o`, `size=${String(v.emptyDir.sizeLimit).replace(/i$/, '')}`] : [];
        await exec('mount', ['-t', 'tmpfs', ...size, 'tmpfs', dir]).catch((err: unknown) => {
          throw new MountError(`emptyDir ${v.name}: mounting tmpfs failed: ${String(err)}`);
        });
      }
      await chmod(dir, 0o777);
      await applyFsGroup(dir, ctx.pod);
      return dir;
    }
    // An ephemeral volume is a claim too: refused, not served as an empty directory that would silently lose data.
    if (v.persistentVolumeClaim || v.ephemeral) throw new MountError(`volume ${v.name}: ${v.ephemeral ? 'ephemeral' : 'persistentVolumeClaim'} volumes are not supported by this agent`);
    const files: FileEntry[] = [];
    const ns = ctx.pod.metadata.namespace ?? '';
    if (v.configMap) {
      const data = await ctx.objects.configMapData(v.configMap.name ?? '', v.configMap.optional, `volume ${v.name}`);
      if (data) files.push(...pickItems(data, v.configMap.items, v.configMap.defaultMode ?? 0o644, `ConfigMap ${ns}/${v.configMap.name}`, v.configMap.optional));
    } else if (v.secret) {
      const data = await ctx.objects.secretData(v.secret.secretName ?? '', v.secret.optional, `volume ${v.name}`);
      if (data) files.push(...pickItems(data, v.secret.items, v.secret.defaultMode ?? 0o644, `Secret ${ns}/${v.secret.secretName}`, v.secret.optional));
    } else if (v.downwardAPI) {
      for (const it of v.downwardAPI.items ?? []) {
        if (!it.fieldRef) continue;
        files.push({ path: it.path, data: Buffer.from(fieldPathValue(ctx.pod, it.fieldRef.fieldPath, ctx.hostIP, ctx.podIP)), mode: it.mode ?? v.downwardAPI.defaultMode ?? 0o644 });
      }
    } else if (v.projected) {
      const mode = v.projected.defaultMode ?? 0o644;
      for (const src of v.projected.sources ?? []) {
        if (src.configMap) {
          const data = await ctx.objects.configMapData(src.configMap.name ?? '', src.configMap.optional, `volume ${v.name}`);
          if (data) files.push(...pickItems(data, src.configMap.items, mode, `ConfigMap ${ns}/${src.configMap.name}`, src.configMap.optional));
        } else if (src.secret) {
          const data = await ctx.objects.secretData(src.secret.name ?? '', src.secret.optional, `volume ${v.name}`);
          if (data) files.push(...pickItems(data, src.secret.items, mode, `Secret ${ns}/${src.secret.name}`, src.secret.optional));
        } else if (src.downwardAPI) {
          for (const it of src.downwardAPI.items ?? []) {
            if (it.fieldRef) files.push({ path: it.path, data: Buffer.from(fieldPathValue(ctx.pod, it.fieldRef.fieldPath, ctx.hostIP, ctx.podIP)), mode: it.mode ?? mode });
          }
        } else if (src.serviceAccountToken) {
          const t = src.serviceAccountToken;
          const token = await this.serviceAccountToken(ctx, t.audience, Number(t.expirationSeconds ?? 3600));
          files.push({ path: t.path, data: Buffer.from(token), mode: 0o600 });
        }
      }
    }
    await writeProjected(dir, files, ctx.pod, tmpfsVolume(v));
    return dir;
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

  /** Unmounts tmpfs emptyDirs and removes the pod's directory (and forgets its tokens). */
  async tearDown(uid: string): Promise<void> {
    this.tokens.forget(uid);
    await unmountUnder(join(this.podDir(uid), 'volumes'));
    await rm(this.podDir(uid), { recursive: true, force: true });
  }
}

/**
 * Unmounts every mount below base, deepest first (tmpfs volumes, subPath binds): a pod's teardown, and `ketch up`'s
 * stop for the pods of a node it ran (their volumes outlive the removed sandboxes otherwise).
 */
export async function unmountUnder(base: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => !!mp && mp.startsWith(`${base}/`))
    .sort((a, b) => b.length - a.length);
  // Busy (a process of the pod still inside): detached now, freed when the last user goes.
  for (const mp of points) await exec('umount', [mp]).catch(() => exec('umount', ['-l', mp]));
}
