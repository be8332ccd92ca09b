// Turns a pod's container into a CRI container config: environment (values, configMap/secret/field refs,
// envFrom, $(VAR) expansion), mounts from the pod's volumes, and resources as cgroup limits.
import { createHash } from 'node:crypto';
import { bytes, cpuMillis, isNotFound, type ConfigMap, type Container, type Pod, type Secret } from '../api/index.js';
import type { ResourceClient } from '../client/index.js';
import type { ContainerConfig, DeepPartial, KeyValue, LinuxContainerResources, LinuxContainerSecurityContext, Mount } from './cri/index.js';

/** A failure the user must fix in the pod or its referenced objects: the container waits with this reason. */
export class ContainerConfigError extends Error {
  override name = 'ContainerConfigError';
}

export interface ConfigSources {
  configMaps: ResourceClient<ConfigMap>;
  secrets: ResourceClient<Secret>;
}

/** Reads configMaps and secrets once per sync. */
export class ObjectCache {
  private readonly cms = new Map<string, Promise<ConfigMap | undefined>>();
  private readonly secrets = new Map<string, Promise<Secret | undefined>>();

  constructor(
    private readonly src: ConfigSources,
    private readonly namespace: string,
  ) {}

  private static load<T>(map: Map<string, Promise<T | undefined>>, name: string, get: () => Promise<T>): Promise<T | undefined> {
    let p = map.get(name);
    if (!p) {
      p = get().catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      map.set(name, p);
    }
    return p;
  }

  configMap(name: string): Promise<ConfigMap | undefined> {
    return ObjectCache.load(this.cms, name, () => this.src.configMaps.get(this.namespace, name));
  }

  secret(name: string): Promise<Secret | undefined> {
    return ObjectCache.load(this.secrets, name, () => this.src.secrets.get(this.namespace, name));
  }

  /** The key/value pairs of a configMap (data and binaryData) as buffers. */
  async configMapData(name: string, optional: boolean | undefined, what: string): Promise<Map<string, Buffer> | undefined> {
    const cm = await this.configMap(name);
    if (!cm) {
      if (optional) return undefined;
      throw new ContainerConfigError(`configmap "${name}" not found (${what})`);
    }
    const out = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(cm.data ?? {})) out.set(k, Buffer.from(v));
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
    return out;
  }

  async secretData(name: string, optional: boolean | undefined, what: string): Promise<Map<string, Buffer> | undefined> {
    const s = await this.secret(name);
    if (!s) {
      if (optional) return undefined;
      throw new ContainerConfigError(`secret "${name}" not found (${what})`);
    }
    const out = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(s.data ?? {})) out.set(k, Buffer.from(v, 'base64'));
    for (const [k, v] of Object.entries(s.stringData ?? {})) out.set(k, Buffer.from(v));
    return out;
  }
}

/** The value of a downward-API field path (env fieldRef, downwardAPI volume files). */
export function fieldPathValue(pod: Pod, path: string, hostIP: string, podIP: string): string {
  const m = pod.metadata;
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (sub) return (sub[1] === 'labels' ? m.labels : m.annotations)?.[sub[2] ?? ''] ?? '';
  const kv = (o: Record<string, string> | undefined): string =>
    Object.entries(o ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join('\n');
  switch (path) {
    case 'metadata.name':
      return m.name ?? '';
    case 'metadata.namespace':
      return m.namespace ?? '';
    case 'metadata.uid':
      return m.uid ?? '';
    case 'metadata.labels':
      return kv(m.labels);
    case 'metadata.annotations':
      return kv(m.annotations);
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return hostIP;
    case 'status.podIP':
    case 'status.podIPs':
      return podIP;
    default:
      throw new ContainerConfigError(`unsupported fieldPath "${path}"`);
  }
}

/** resourceFieldRef: limits.cpu, requests.memory, ... divided by the divisor (rounded up). */
export function resourceFieldValue(pod: Pod, ref: { containerName?: string; resource: string; divisor?: string | number }, self: Container, hostCapacity: Record<string, string>): string {
  const c = ref.containerName ? pod.spec.containers.find((x) => x.name === ref.containerName) : self;
  const [kind, res] = ref.resource.split('.') as [string, string];
  const list = kind === 'limits' ? c?.resources?.limits : c?.resources?.requests;
  const q = list?.[res] ?? (kind === 'limits' ? hostCapacity[res] : undefined) ?? '0';
  const divisor = ref.divisor ?? (res === 'cpu' ? '1' : '1');
  if (res === 'cpu') return String(Math.ceil(cpuMillis(q) / cpuMillis(divisor)));
  return String(Math.ceil(bytes(q) / bytes(divisor)));
}

/** $(NAME) expands to a defined variable; $$ escapes; anything else stays as written (kubelet's expansion). */
export function expand(s: string, env: Map<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => {
    if (all === '$$') return '$';
    return name !== undefined && env.has(name) ? env.get(name)! : all;
  });
}

export interface EnvContext {
  pod: Pod;
  /** The service variables (WEB_SERVICE_HOST, ...): under the container's own, which win over them. */
  serviceEnv?: ReadonlyMap<string, string>;
  hostIP: string;
  podIP: string;
  objects: ObjectCache;
  hostCapacity: Record<string, string>;
}

/**
 * The container's environment, in order: the service variables, envFrom, then env (later entries win, $(VAR) sees
 * earlier ones and every service variable, as the kubelet's expansion does).
 */
export async function containerEnv(c: Container, ctx: EnvContext): Promise<Map<string, string>> {
  const env = new Map<string, string>(ctx.serviceEnv ?? []);
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    const data = from.configMapRef
      ? await ctx.objects.configMapData(from.configMapRef.name ?? '', from.configMapRef.optional, `envFrom of container ${c.name}`)
      : from.secretRef
        ? await ctx.objects.secretData(from.secretRef.name ?? '', from.secretRef.optional, `envFrom of container ${c.name}`)
        : undefined;
    for (const [k, v] of data ?? []) env.set(prefix + k, v.toString('utf8'));
  }
  for (const e of c.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) {
      env.set(e.name, expand(e.value ?? '', env));
      continue;
    }
    if (vf.fieldRef) env.set(e.name, fieldPathValue(ctx.pod, vf.fieldRef.fieldPath, ctx.hostIP, ctx.podIP));
    else if (vf.resourceFieldRef) env.set(e.name, resourceFieldValue(ctx.pod, vf.resourceFieldRef, c, ctx.hostCapacity));
    else if (vf.configMapKeyRef) {
      const r = vf.configMapKeyRef;
      const data = await ctx.objects.configMapData(r.name ?? '', r.optional, `env ${e.name}`);
      const v = data?.get(r.key);
      if (v === undefined && data && !r.optional) throw new ContainerConfigError(`couldn't find key ${r.key} in ConfigMap ${ctx.pod.metadata.namespace}/${r.name}`);
      if (v !== undefined) env.set(e.name, v.toString('utf8'));
    } else if (vf.secretKeyRef) {
      const r = vf.secretKeyRef;
      const data = await ctx.objects.secretData(r.name ?? '', r.optional, `env ${e.name}`);
      const v = data?.get(r.key);
      if (v === undefined && data && !r.optional) throw new ContainerConfigError(`couldn't find key ${r.key} in Secret ${ctx.pod.metadata.namespace}/${r.name}`);
      if (v !== undefined) env.set(e.name, v.toString('utf8'));
    }
  }
  return env;
}

/** CPU and memory limits as cgroup settings (CFS quota over a 100 ms period, shares from the request). */
export function linuxResources(c: Container): DeepPartial<LinuxContainerResources> {
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  const out: DeepPartial<LinuxContainerResources> = {};
  const cpuReq = requests.cpu ?? limits.cpu;
  out.cpuShares = cpuReq !== undefined ? Math.max(2, Math.floor((cpuMillis(cpuReq) * 1024) / 1000)) : 2;
  if (limits.cpu !== undefined) {
    out.cpuPeriod = 100_000;
    out.cpuQuota = Math.max(1000, Math.floor((cpuMillis(limits.cpu) * 100_000) / 1000));
  }
  if (limits.memory !== undefined) out.memoryLimitInBytes = bytes(limits.memory);
  return out;
}

export interface MountOptions {
  /** Volumes containers get read-only whatever their volumeMounts say (configMap, secret, downwardAPI, projected). */
  readOnly: Set<string>;
  /** Makes `subPath` of the volume at `base` available without following links; returns the host path to mount. */
  bindSubPath(volume: string, base: string, subPath: string, index: number): Promise<string>;
}

/** Container mounts from the pod's volumes: volume name -> host directory (or file). */
export async function containerMounts(c: Container, volumePaths: Map<string, string>, env: Map<string, string>, o: MountOptions): Promise<DeepPartial<Mount>[]> {
  const out: DeepPartial<Mount>[] = [];
  for (const [i, vm] of (c.volumeMounts ?? []).entries()) {
    const base = volumePaths.get(vm.name);
    if (!base) throw new ContainerConfigError(`volume "${vm.name}" mounted by container ${c.name} is not defined in the pod`);
    const sub = vm.subPath ?? (vm.subPathExpr ? expand(vm.subPathExpr, env) : '');
    if (sub.split('/').includes('..') || sub.startsWith('/')) throw new ContainerConfigError(`subPath "${sub}" must be a relative path without ".."`);
    out.push({
      containerPath: vm.mountPath,
      hostPath: sub ? await o.bindSubPath(vm.name, base, sub, i) : base,
      readonly: (vm.readOnly ?? false) || o.readOnly.has(vm.name),
      propagation: vm.mountPropagation === 'HostToContainer' ? 'PROPAGATION_HOST_TO_CONTAINER' : vm.mountPropagation === 'Bidirectional' ? 'PROPAGATION_BIDIRECTIONAL' : 'PROPAGATION_PRIVATE',
    });
  }
  return out;
}

export const LABELS = {
  podUid: 'ketch.io/pod-uid',
  podName: 'ketch.io/pod-name',
  podNamespace: 'ketch.io/pod-namespace',
  container: 'ketch.io/container-name',
  kind: 'ketch.io/container-kind',
  /** On sandboxes: the node whose agent made it (agents may share one runtime). */
  node: 'ketch.io/node-name',
} as const;

/** The container annotation that holds containerHash() of the spec it was made from. */
export const CONTAINER_HASH_ANNOTATION = 'ketch.io/container-hash';

/**
 * A hash of what a pod update may change in a container (its image: api/validation/pod.ts refuses the rest), as
 * kubelet hashes the container spec to restart a container whose definition changed. Hashing only that keeps a
 * container running when a new version of the agent or the API server fills in a default it did not have.
 */
export function containerHash(c: Container): string {
  return createHash('sha256').update(c.image).digest('hex').slice(0, 16);
}

export interface BuildArgs {
  pod: Pod;
  container: Container;
  kind: 'init' | 'app';
  attempt: number;
  env: Map<string, string>;
  mounts: DeepPartial<Mount>[];
  /** The CRI security context (pod-security.ts). */
  security: DeepPartial<LinuxContainerSecurityContext>;
}

export function containerConfig(a: BuildArgs): DeepPartial<ContainerConfig> {
  const { pod, container: c } = a;
  const envs: DeepPartial<KeyValue>[] = [...a.env].map(([key, value]) => ({ key, value }));
  return {
    metadata: { name: c.name, attempt: a.attempt },
    image: { image: c.image },
    command: (c.command ?? []).map((s) => expand(s, a.env)),
    args: (c.args ?? []).map((s) => expand(s, a.env)),
    workingDir: c.workingDir ?? '',
    envs,
    mounts: a.mounts,
    labels: {
      [LABELS.podUid]: pod.metadata.uid ?? '',
      [LABELS.podName]: pod.metadata.name ?? '',
      [LABELS.podNamespace]: pod.metadata.namespace ?? '',
      [LABELS.container]: c.name,
      [LABELS.kind]: a.kind,
    },
    annotations: { [CONTAINER_HASH_ANNOTATION]: containerHash(c) },
    logPath: `${c.name}/${a.attempt}.log`,
    stdin: c.stdin ?? false,
    stdinOnce: c.stdinOnce ?? false,
    tty: c.tty ?? false,
    linux: {
      resources: linuxResources(c),
      securityContext: a.security,
    },
  };
}
