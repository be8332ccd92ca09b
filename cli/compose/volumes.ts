// Compose storage as pod volumes: named volumes -> PersistentVolumeClaims (the default storage class), binds ->
// hostPath, tmpfs and shm_size -> memory emptyDirs, anonymous volumes -> emptyDirs, configs and secrets ->
// ConfigMaps and Secrets mounted file by file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, posix, resolve } from 'node:path';
import { homedir } from 'node:os';
import { ComposeError, listOrDict } from './load.js';
import type { Lookup } from './interpolate.js';
import { fileMode, objectName as toObjectName, quantity } from './units.js';

export type Obj = Record<string, unknown>;

export interface Mounts {
  volumes: Obj[];
  mounts: Obj[];
  /** Named volumes this service uses (claims). */
  claims: string[];
}

interface VolumeSpec {
  type: 'volume' | 'bind' | 'tmpfs';
  source?: string;
  target: string;
  readOnly: boolean;
  tmpfsSize?: string;
  createHostPath: boolean;
}

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The short syntax: [SOURCE:]TARGET[:MODE]; a source with / . or ~ is a bind, else a named volume. */
function parseShort(v: string, where: string): VolumeSpec {
  const parts = v.split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0]!, readOnly: false, createHostPath: true };
  const [source, target, mode = 'rw'] = parts as [string, string, string?];
  const opts = mode.split(',');
  for (const o of opts) {
    if (!['ro', 'rw', 'nocopy'].includes(o)) throw new ComposeError(`${where}: volume option "${o}" is not supported (ro, rw)`);
  }
  const bind = source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
  return { type: bind ? 'bind' : 'volume', source, target, readOnly: opts.includes('ro'), createHostPath: true };
}

function parseLong(v: Obj, where: string): VolumeSpec {
  const type = String(v.type);
  if (type !== 'volume' && type !== 'bind' && type !== 'tmpfs') throw new ComposeError(`${where}.type: "${type}" is not supported (volume, bind, tmpfs)`);
  for (const k of Object.keys(v)) {
    if (!['type', 'source', 'target', 'read_only', 'tmpfs', 'bind', 'volume'].includes(k)) throw new ComposeError(`${where}.${k}: not supported`);
  }
  const bind = isMap(v.bind) ? v.bind : {};
  for (const k of Object.keys(bind)) if (k !== 'create_host_path') throw new ComposeError(`${where}.bind.${k}: not supported`);
  const vol = isMap(v.volume) ? v.volume : {};
  for (const k of Object.keys(vol)) if (k !== 'nocopy') throw new ComposeError(`${where}.volume.${k}: not supported`);
  const tmpfs = isMap(v.tmpfs) ? v.tmpfs : {};
  for (const k of Object.keys(tmpfs)) if (k !== 'size') throw new ComposeError(`${where}.tmpfs.${k}: not supported (size only)`);
  return {
    type,
    ...(typeof v.source === 'string' ? { source: v.source } : {}),
    target: String(v.target),
    readOnly: v.read_only === true,
    ...(tmpfs.size !== undefined ? { tmpfsSize: quantity(tmpfs.size, `${where}.tmpfs.size`) } : {}),
    createHostPath: bind.create_host_path !== false,
  };
}

/** A bind source as the node sees it: relative to the project directory, ~ for the home directory. */
function hostPath(source: string, projectDir: string): string {
  if (source.startsWith('~')) return join(homedir(), source.slice(1));
  return isAbsolute(source) ? source : resolve(projectDir, source);
}

export interface VolumeContext {
  service: string;
  projectDir: string;
  /** Top-level volumes: compose name -> claim name. */
  claimNames: Record<string, string>;
  configs: Record<string, Obj>;
  secrets: Record<string, Obj>;
}

function volumeFor(spec: VolumeSpec, i: number, ctx: VolumeContext, where: string, out: Mounts): void {
  const mount = (name: string, extra: Obj = {}): void => void out.mounts.push({ name, mountPath: spec.target, ...(spec.readOnly ? { readOnly: true } : {}), ...extra });
  if (spec.type === 'tmpfs') {
    out.volumes.push({ name: `tmpfs-${i}`, emptyDir: { medium: 'Memory', ...(spec.tmpfsSize ? { sizeLimit: spec.tmpfsSize } : {}) } });
    return mount(`tmpfs-${i}`);
  }
  if (spec.type === 'bind') {
    if (!spec.source) throw new ComposeError(`${where}: a bind needs a source`);
    const path = hostPath(spec.source, ctx.projectDir);
    const st = existsSync(path) ? statSync(path) : undefined;
    if (!st && !spec.createHostPath) throw new ComposeError(`${where}: ${path} does not exist and create_host_path is false`);
    const type = st ? (st.isDirectory() ? 'Directory' : 'File') : 'DirectoryOrCreate';
    out.volumes.push({ name: `bind-${i}`, hostPath: { path, type } });
    return mount(`bind-${i}`);
  }
  if (!spec.source) {
    out.volumes.push({ name: `anon-${i}`, emptyDir: {} });
    return mount(`anon-${i}`);
  }
  const claim = ctx.claimNames[spec.source];
  if (!claim) throw new ComposeError(`${where}: volume "${spec.source}" is not declared in the top-level volumes`);
  const name = `vol-${claim}`.slice(0, 63).replace(/-+$/, '');
  if (!out.volumes.some((v) => v.name === name)) out.volumes.push({ name, persistentVolumeClaim: { claimName: claim } });
  if (!out.claims.includes(spec.source)) out.claims.push(spec.source);
  mount(name);
}

/** The ConfigMap or Secret mounts of a service's configs or secrets (short or long syntax). */
function fileMounts(kind: 'config' | 'secret', refs: unknown, ctx: VolumeContext, out: Mounts): void {
  if (!Array.isArray(refs)) return;
  for (const [i, ref] of refs.entries()) {
    const where = `services.${ctx.service}.${kind}s[${i}]`;
    const r: Obj = isMap(ref) ? ref : { source: String(ref) };
    for (const k of Object.keys(r)) {
      if (k === 'uid' || k === 'gid') throw new ComposeError(`${where}.${k}: not supported (files are owned by root; use mode)`);
      if (!['source', 'target', 'mode'].includes(k)) throw new ComposeError(`${where}.${k}: not supported`);
    }
    const source = String(r.source);
    const defs = kind === 'config' ? ctx.configs : ctx.secrets;
    const def = defs[source];
    if (!def) throw new ComposeError(`${where}: ${kind} "${source}" is not declared in the top-level ${kind}s`);
    const target = r.target === undefined ? source : String(r.target);
    const path = posix.isAbsolute(target) ? target : kind === 'config' ? `/${target}` : `/run/secrets/${target}`;
    const objectName = String(def.objectName);
    const volName = `${kind}-${i}`;
    const item = { key: String(def.key), path: 'content', ...(r.mode !== undefined ? { mode: fileMode(r.mode, `${where}.mode`) } : {}) };
    out.volumes.push(kind === 'config' ? { name: volName, configMap: { name: objectName, items: [item] } } : { name: volName, secret: { secretName: objectName, items: [item] } });
    out.mounts.push({ name: volName, mountPath: path, subPath: 'content', readOnly: true });
  }
}

/** The pod volumes and container mounts of one service. */
export function serviceMounts(svc: Obj, ctx: VolumeContext): Mounts {
  const out: Mounts = { volumes: [], mounts: [], claims: [] };
  const list = Array.isArray(svc.volumes) ? svc.volumes : [];
  for (const [i, v] of list.entries()) {
    const where = `services.${ctx.service}.volumes[${i}]`;
    volumeFor(isMap(v) ? parseLong(v, where) : parseShort(String(v), where), i, ctx, where, out);
  }
  const tmpfs = svc.tmpfs === undefined ? [] : Array.isArray(svc.tmpfs) ? svc.tmpfs : [svc.tmpfs];
  for (const [i, t] of tmpfs.entries()) {
    const [target, opts] = String(t).split(':');
    const size = /(?:^|,)size=([^,]+)/.exec(opts ?? '')?.[1];
    volumeFor({ type: 'tmpfs', target: target ?? '', readOnly: false, createHostPath: false, ...(size ? { tmpfsSize: quantity(size, `services.${ctx.service}.tmpfs`) } : {}) }, 1000 + i, ctx, `services.${ctx.service}.tmpfs[${i}]`, out);
  }
  if (svc.shm_size !== undefined) {
    out.volumes.push({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: quantity(svc.shm_size, `services.${ctx.service}.shm_size`) } });
    out.mounts.push({ name: 'shm', mountPath: '/dev/shm' });
  }
  fileMounts('config', svc.configs, ctx, out);
  fileMounts('secret', svc.secrets, ctx, out);
  return out;
}

/**
 * Top-level configs or secrets as ConfigMaps or Secrets (external ones are referenced, not created); each definition
 * gains objectName and key for the mounts.
 */
export function fileObjects(kind: 'config' | 'secret', defs: Record<string, unknown>, projectDir: string, env: Lookup, meta: (name: string, labels?: Record<string, string | null>) => Obj): { defs: Record<string, Obj>; objects: Obj[] } {
  const out: Record<string, Obj> = {};
  const objects: Obj[] = [];
  for (const [name, raw] of Object.entries(defs)) {
    const def = isMap(raw) ? raw : {};
    const objectName = toObjectName(typeof def.name === 'string' ? def.name : name, `${kind} name`);
    const where = `${kind}s.${name}`;
    if (def.external === true || isMap(def.external)) {
      out[name] = { ...def, objectName, key: name };
      continue;
    }
    let key = name;
    let data: string;
    if (typeof def.file === 'string') {
      const path = isAbsolute(def.file) ? def.file : resolve(projectDir, def.file);
      if (!existsSync(path)) throw new ComposeError(`${where}.file: ${path} not found`);
      data = readFileSync(path, 'utf8');
      key = basename(path);
    } else if (typeof def.content === 'string') data = def.content;
    else if (typeof def.environment === 'string') {
      const v = env(def.environment);
      if (v === undefined) throw new ComposeError(`${where}.environment: variable ${def.environment} is not set`);
      data = v;
    } else throw new ComposeError(`${where}: needs file, content, environment or external`);
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) key = name;
    out[name] = { ...def, objectName, key };
    objects.push(
      kind === 'config'
        ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(objectName, listOrDict(def.labels)), data: { [key]: data } }
        : { apiVersion: 'v1', kind: 'Secret', metadata: meta(objectName, listOrDict(def.labels)), type: 'Opaque', stringData: { [key]: data } },
    );
  }
  return { defs: out, objects };
}

/** Top-level volumes as claims (external ones referenced by name, not created): compose name -> claim name. */
export function claimObjects(defs: Record<string, unknown>, meta: (name: string, labels?: Record<string, string | null>) => Obj, storage: string): { names: Record<string, string>; objects: Obj[] } {
  const names: Record<string, string> = {};
  const objects: Obj[] = [];
  for (const [name, raw] of Object.entries(defs)) {
    const def = isMap(raw) ? raw : {};
    const external = isMap(def.external) && typeof def.external.name === 'string' ? def.external.name : undefined;
    const claim = external ?? toObjectName(typeof def.name === 'string' ? def.name : name, 'volume name');
    names[name] = claim;
    if (def.external === true || external) continue;
    objects.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta(claim, listOrDict(def.labels)),
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } },
    });
  }
  return { names, objects };
}
