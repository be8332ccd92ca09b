// A Compose project as cluster objects, in a namespace per project (or the one given):
//   service -> Deployment; a StatefulSet when it mounts a named volume and runs one replica (one pod at a time, so a
//   ReadWriteOnce claim is never mounted by two pods during an update); a Job when it is meant to end (restart "no" or
//   "on-failure", or a dependency with condition service_completed_successfully); a DaemonSet for deploy.mode global.
//   names, aliases, ports -> Services (net.ts); volumes, configs, secrets -> claims, ConfigMaps, Secrets (volumes.ts).
// Every object carries com.docker.compose.project (and compose.ketch.dev/project) so that `down` finds exactly them.
import { isAbsolute, resolve } from 'node:path';
import { ComposeError, listOrDict, type ComposeProject } from './load.js';
import { aliasesOf, checkNetworks, parseExpose, parsePorts, serviceObjects } from './net.js';
import { podTemplate } from './pod.js';
import { assertSupported } from './unsupported.js';
import { dnsName } from './units.js';
import { claimObjects, fileObjects, serviceMounts, type Obj } from './volumes.js';

export const LABEL_PROJECT = 'com.docker.compose.project';
export const LABEL_SERVICE = 'com.docker.compose.service';
export const LABEL_KETCH_PROJECT = 'compose.ketch.dev/project';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'ketch-compose';

export type Condition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface Dependency {
  service: string;
  condition: Condition;
  required: boolean;
}

export interface BuildSpec {
  context: string;
  dockerfile?: string;
  args: Record<string, string>;
  target?: string;
}

export interface ServicePlan {
  name: string;
  kind: 'Deployment' | 'StatefulSet' | 'Job' | 'DaemonSet';
  workload: Obj;
  image: string;
  build?: BuildSpec;
  dependsOn: Dependency[];
}

export interface Plan {
  project: string;
  namespace: string;
  /** Whether the namespace is the project's own (made by up, removed by down). */
  ownNamespace: boolean;
  /** Namespace, claims, ConfigMaps, Secrets and Services, in that order. */
  shared: Obj[];
  /** Workloads in start order (dependencies first). */
  services: ServicePlan[];
}

export interface TranslateOptions {
  namespace?: string;
  profiles: string[];
  /** Only these services (and what they depend on); default: every enabled service. */
  only?: string[];
  /** host:port of the registry that built images are pushed to and pulled from. */
  registry: string;
  /** Size requested by each claim. */
  claimSize?: string;
}

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Compose labels as Kubernetes labels where they are valid ones, the rest as annotations. */
export function splitLabels(dict: Record<string, string | null>): { labels: Record<string, string>; annotations: Record<string, string> } {
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const [k, raw] of Object.entries(dict)) {
    const v = raw ?? '';
    const slash = k.lastIndexOf('/');
    const prefix = slash >= 0 ? k.slice(0, slash) : '';
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    const keyOk = LABEL_NAME.test(name) && (!prefix || (prefix.length <= 253 && LABEL_PREFIX.test(prefix)));
    if (keyOk && (v === '' || LABEL_NAME.test(v))) labels[k] = v;
    else annotations[k] = v;
  }
  return { labels, annotations };
}

function enabledServices(project: ComposeProject, o: TranslateOptions): string[] {
  const all = project.model.services ?? {};
  const active = new Set(o.profiles);
  const enabled = (n: string): boolean => {
    const profiles = Array.isArray(all[n]?.profiles) ? (all[n]!.profiles as unknown[]).map(String) : [];
    return profiles.length === 0 || active.has('*') || profiles.some((p) => active.has(p));
  };
  let names = Object.keys(all).filter(enabled);
  if (o.only?.length) {
    for (const n of o.only) if (!(n in all)) throw new ComposeError(`no such service: ${n}`);
    const want = new Set<string>();
    const add = (n: string): void => {
      if (want.has(n)) return;
      want.add(n);
      for (const d of dependenciesOf(n, all[n] ?? {})) if (d.required) add(d.service);
    };
    o.only.forEach(add);
    names = [...want];
  }
  for (const n of names) {
    for (const d of dependenciesOf(n, all[n] ?? {})) {
      if (!(d.service in all)) throw new ComposeError(`services.${n}.depends_on: no service "${d.service}"`);
      if (d.required && !names.includes(d.service)) throw new ComposeError(`services.${n} depends on ${d.service}, which no active profile enables (--profile)`);
    }
  }
  return names;
}

export function dependenciesOf(name: string, svc: Obj): Dependency[] {
  const out: Dependency[] = [];
  const dep = svc.depends_on;
  if (Array.isArray(dep)) for (const d of dep) out.push({ service: String(d), condition: 'service_started', required: true });
  else if (isMap(dep)) {
    for (const [d, cfg] of Object.entries(dep)) {
      const c = isMap(cfg) ? cfg : {};
      const condition = (c.condition ?? 'service_started') as Condition;
      if (c.restart === true) throw new ComposeError(`services.${name}.depends_on.${d}.restart: restarting dependents is not supported`);
      out.push({ service: d, condition, required: c.required !== false });
    }
  }
  for (const link of Array.isArray(svc.links) ? svc.links : []) {
    const target = String(link).split(':')[0]!;
    if (!out.some((d) => d.service === target)) out.push({ service: target, condition: 'service_started', required: true });
  }
  return out;
}

/** Dependencies before dependents; a cycle is an error. */
function startOrder(names: string[], deps: Map<string, Dependency[]>): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') throw new ComposeError(`depends_on has a cycle: ${[...path, n].join(' -> ')}`);
    state.set(n, 'visiting');
    for (const d of deps.get(n) ?? []) if (names.includes(d.service)) visit(d.service, [...path, n]);
    state.set(n, 'done');
    out.push(n);
  };
  for (const n of [...names].sort()) visit(n, []);
  return out;
}

interface KindChoice {
  kind: ServicePlan['kind'];
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  backoffLimit?: number;
}

function kindOf(name: string, svc: Obj, mustComplete: boolean, hasClaims: boolean, replicas: number): KindChoice {
  const deploy = isMap(svc.deploy) ? svc.deploy : {};
  const policy = isMap(deploy.restart_policy) ? deploy.restart_policy : {};
  const restart = svc.restart === undefined ? undefined : String(svc.restart);
  let job: KindChoice | undefined;
  if (restart === 'no' || policy.condition === 'none') job = { kind: 'Job', restartPolicy: 'Never', backoffLimit: 0 };
  else if (restart?.startsWith('on-failure') || policy.condition === 'on-failure') {
    const n = restart?.split(':')[1] ?? (policy.max_attempts === undefined ? undefined : String(policy.max_attempts));
    job = { kind: 'Job', restartPolicy: 'OnFailure', backoffLimit: n === undefined ? 6 : Number(n) };
  } else if (restart !== undefined && restart !== 'always' && restart !== 'unless-stopped') throw new ComposeError(`services.${name}.restart: "${restart}" is not a restart policy`);
  if (mustComplete && !job) {
    if (restart === 'always' || restart === 'unless-stopped') throw new ComposeError(`services.${name}: restart "${restart}" never completes, yet a service waits for it with service_completed_successfully`);
    job = { kind: 'Job', restartPolicy: 'Never', backoffLimit: 0 };
  }
  if (deploy.mode === 'global') {
    if (job) throw new ComposeError(`services.${name}: deploy.mode global runs forever; restart "${restart ?? String(policy.condition)}" asks for an end`);
    return { kind: 'DaemonSet', restartPolicy: 'Always' };
  }
  if (job) return job;
  return { kind: hasClaims && replicas === 1 ? 'StatefulSet' : 'Deployment', restartPolicy: 'Always' };
}

function buildOf(name: string, svc: Obj, projectDir: string): BuildSpec | undefined {
  if (svc.build === undefined) return undefined;
  const b = isMap(svc.build) ? svc.build : { context: svc.build };
  const ctx = String(b.context ?? '.');
  if (/^[a-z]+:\/\//.test(ctx) || ctx.startsWith('git@')) throw new ComposeError(`services.${name}.build.context: remote contexts are not supported (${ctx})`);
  const args = Object.fromEntries(Object.entries(listOrDict(b.args)).filter((e): e is [string, string] => e[1] !== null));
  return {
    context: isAbsolute(ctx) ? ctx : resolve(projectDir, ctx),
    ...(typeof b.dockerfile === 'string' ? { dockerfile: b.dockerfile } : {}),
    args,
    ...(typeof b.target === 'string' ? { target: b.target } : {}),
  };
}

/** Translates a loaded project into the objects `compose up` applies. */
export function translate(project: ComposeProject, o: TranslateOptions): Plan {
  const model = project.model;
  const all = model.services ?? {};
  const names = enabledServices(project, o);
  assertSupported(model, names);
  for (const n of names) dnsName(n, 'service name');
  checkNetworks(Object.fromEntries(names.map((n) => [n, all[n] ?? {}])), isMap(model.networks) ? model.networks : {});
  const namespace = dnsName(o.namespace ?? project.name.replace(/_/g, '-'), 'namespace (project name)');
  const base = { [LABEL_PROJECT]: project.name, [LABEL_KETCH_PROJECT]: project.name, [LABEL_MANAGED_BY]: MANAGER };
  const meta = (name: string, extra: Record<string, string | null> = {}): Obj => {
    const split = splitLabels(extra);
    return { name, namespace, labels: { ...split.labels, ...base }, ...(Object.keys(split.annotations).length ? { annotations: split.annotations } : {}) };
  };
  const claims = claimObjects(isMap(model.volumes) ? model.volumes : {}, meta, o.claimSize ?? '1Gi');
  const configs = fileObjects('config', isMap(model.configs) ? model.configs : {}, project.dir, project.env, meta);
  const secrets = fileObjects('secret', isMap(model.secrets) ? model.secrets : {}, project.dir, project.env, meta);
  const deps = new Map(names.map((n) => [n, dependenciesOf(n, all[n] ?? {})]));
  const mustComplete = new Set([...deps.values()].flat().filter((d) => d.condition === 'service_completed_successfully').map((d) => d.service));
  const services: Obj[] = [];
  const plans: ServicePlan[] = [];
  for (const name of startOrder(names, deps)) {
    const svc = all[name] ?? {};
    const where = `services.${name}`;
    const selector = { [LABEL_PROJECT]: project.name, [LABEL_SERVICE]: name };
    const ports = [...parsePorts(svc.ports, `${where}.ports`), ...parseExpose(svc.expose, `${where}.expose`)];
    services.push(...serviceObjects(name, ports, aliasesOf(name, svc, all), selector, (n) => meta(n, { [LABEL_SERVICE]: name })));
    const mounts = serviceMounts(svc, { service: name, projectDir: project.dir, claimNames: claims.names, configs: configs.defs, secrets: secrets.defs });
    const deploy = isMap(svc.deploy) ? svc.deploy : {};
    const replicas = Number(deploy.replicas ?? svc.scale ?? 1);
    const choice = kindOf(name, svc, mustComplete.has(name), mounts.claims.length > 0, replicas);
    const build = buildOf(name, svc, project.dir);
    const image = typeof svc.image === 'string' ? svc.image : build ? `${o.registry}/${namespace}/${name}:latest` : undefined;
    if (!image) throw new ComposeError(`${where}: needs an image or a build section`);
    const own = splitLabels(listOrDict(svc.labels));
    const template = podTemplate({
      name,
      svc,
      image,
      projectDir: project.dir,
      env: project.env,
      ports,
      mounts,
      labels: { ...own.labels, ...selector, [LABEL_KETCH_PROJECT]: project.name },
      annotations: { ...own.annotations, ...Object.fromEntries(Object.entries(listOrDict(svc.annotations)).map(([k, v]) => [k, v ?? ''])) },
      restartPolicy: choice.restartPolicy,
    });
    const workload = workloadObject(choice, replicas, selector, template, mounts.claims.length > 0, meta(name, { ...listOrDict(deploy.labels), [LABEL_SERVICE]: name }));
    plans.push({ name, kind: choice.kind, workload, image, ...(build ? { build } : {}), dependsOn: (deps.get(name) ?? []).filter((d) => names.includes(d.service)) });
  }
  for (const p of plans) {
    for (const d of p.dependsOn) {
      if (d.condition === 'service_healthy' && !isMap(all[d.service]?.healthcheck)) throw new ComposeError(`services.${p.name}.depends_on.${d.service}: condition service_healthy, but ${d.service} has no healthcheck`);
    }
  }
  const ownNamespace = o.namespace === undefined;
  const nsObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: base } };
  return { project: project.name, namespace, ownNamespace, shared: [...(ownNamespace ? [nsObject] : []), ...claims.objects, ...configs.objects, ...secrets.objects, ...services], services: plans };
}

function workloadObject(choice: KindChoice, replicas: number, selector: Record<string, string>, template: Obj, hasClaims: boolean, metadata: Obj): Obj {
  switch (choice.kind) {
    case 'Job':
      return { apiVersion: 'batch/v1', kind: 'Job', metadata, spec: { backoffLimit: choice.backoffLimit ?? 0, completions: replicas, parallelism: replicas, template } };
    case 'DaemonSet':
      return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata, spec: { selector: { matchLabels: selector }, template } };
    case 'StatefulSet':
      return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata, spec: { serviceName: String(metadata.name), replicas, podManagementPolicy: 'OrderedReady', selector: { matchLabels: selector }, template } };
    default:
      return {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata,
        // A claim is ReadWriteOnce: replace pods rather than run old and new side by side.
        spec: { replicas, selector: { matchLabels: selector }, template, ...(hasClaims ? { strategy: { type: 'Recreate' } } : {}) },
      };
  }
}
