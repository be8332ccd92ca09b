// Running a plan against the API server: up (server-side apply with one field manager, dependencies waited for in
// start order, objects of removed services pruned), down (exactly the objects with the project label), ps, logs,
// restart.
import type { Cli } from '../context.js';
import { CliError } from '../errors.js';
import type { ApiResource } from '../resources.js';
import { isNotFound } from '../../api/errors.js';
import type { ObjectLike } from '../../client/rest.js';
import { stream } from '../commands/logs.js';
import type { PodObj } from '../streams.js';
import { pollUntil } from '../wait-util.js';
import { LABEL_PROJECT, LABEL_SERVICE, MANAGER, type Dependency, type Plan, type ServicePlan } from './translate.js';
import type { Obj } from './volumes.js';

/** The kinds `up` prunes and `down` deletes (claims only with --volumes), dependents first. */
const WORKLOAD_KINDS: [string, string][] = [
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'DaemonSet'],
  ['batch/v1', 'Job'],
];
const SHARED_KINDS: [string, string][] = [
  ['v1', 'Service'],
  ['v1', 'ConfigMap'],
  ['v1', 'Secret'],
];
const CLAIM_KIND: [string, string] = ['v1', 'PersistentVolumeClaim'];

type Kube = ObjectLike & Obj & { status?: Record<string, unknown> };

async function resourceFor(cli: Cli, apiVersion: string, kind: string): Promise<ApiResource> {
  const res = (await cli.resolver()).byKind(apiVersion, kind);
  if (!res) throw new CliError(`the API server does not serve ${kind} (${apiVersion}), which this compose file needs`);
  return res;
}

const nameOf = (o: Obj): string => String((o.metadata as Obj).name);

/** Server-side apply under the compose field manager; prints what changed (created, configured, unchanged). */
async function apply(cli: Cli, obj: Obj, namespace: string): Promise<Kube> {
  const res = await resourceFor(cli, String(obj.apiVersion), String(obj.kind));
  const client = cli.client<Kube>(res);
  const ns = res.namespaced ? namespace : undefined;
  const name = nameOf(obj);
  const before = await client.get(ns, name).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  const applied = await client.patch(ns, name, obj, 'apply', { query: { fieldManager: MANAGER, force: 'true' } }).catch(async (e: unknown) => {
    // A Job's template cannot change: a changed one-shot service is run again from a new Job.
    if (obj.kind === 'Job' && before && /immutable/i.test(String(e))) {
      await client.delete(ns, name, { propagationPolicy: 'Background' });
      await pollUntil(async () => ((await client.get(ns, name).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)))) ? undefined : true), 30_000);
      return client.patch(ns, name, obj, 'apply', { query: { fieldManager: MANAGER, force: 'true' } });
    }
    throw e;
  });
  // A controller may write status between the read and the apply: the generation tells spec changes apart.
  const gen = (o: Kube): unknown => (o.metadata as { generation?: number } | undefined)?.generation;
  const same = (a: Kube, b: Kube): boolean =>
    a.metadata?.resourceVersion === b.metadata?.resourceVersion ||
    (gen(a) !== undefined && gen(a) === gen(b) && JSON.stringify(a.metadata?.labels) === JSON.stringify(b.metadata?.labels) && JSON.stringify(a.metadata?.annotations) === JSON.stringify(b.metadata?.annotations));
  const what = !before ? 'created' : same(before, applied) ? 'unchanged' : 'configured';
  cli.out(`${String(obj.kind).toLowerCase()}/${name} ${what}`);
  return applied;
}

const selectorOf = (project: string, service?: string): string => `${LABEL_PROJECT}=${project}${service ? `,${LABEL_SERVICE}=${service}` : ''}`;

async function podsOf(cli: Cli, plan: Pick<Plan, 'namespace' | 'project'>, service?: string): Promise<PodObj[]> {
  const pods = cli.client<PodObj>(await resourceFor(cli, 'v1', 'Pod'));
  return (await pods.list(plan.namespace, { labelSelector: selectorOf(plan.project, service) })).items;
}

type PodStatus = { phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { ready?: boolean; restartCount?: number; state?: Record<string, { reason?: string } | undefined> }[] };
const statusOf = (p: PodObj): PodStatus => (p.status ?? {}) as PodStatus;
const isReady = (p: PodObj): boolean => statusOf(p).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Whether a dependency's condition holds now; throws when it never will (a failed one-shot service). */
async function conditionMet(cli: Cli, plan: Plan, dep: Dependency): Promise<boolean> {
  const target = plan.services.find((s) => s.name === dep.service);
  if (dep.condition === 'service_completed_successfully') {
    const jobs = cli.client<Kube>(await resourceFor(cli, 'batch/v1', 'Job'));
    const job = await jobs.get(plan.namespace, dep.service);
    const st = (job.status ?? {}) as { succeeded?: number; conditions?: { type: string; status: string }[] };
    if (st.conditions?.some((c) => c.type === 'Failed' && c.status === 'True')) throw new CliError(`service ${dep.service} did not complete successfully (its Job failed)`);
    return (st.succeeded ?? 0) >= 1;
  }
  const pods = await podsOf(cli, plan, dep.service);
  if (dep.condition === 'service_healthy') return pods.some(isReady);
  const done = target?.kind === 'Job' ? ['Running', 'Succeeded'] : ['Running'];
  return pods.some((p) => done.includes(statusOf(p).phase ?? ''));
}

async function waitFor(cli: Cli, plan: Plan, svc: ServicePlan, timeoutMs: number): Promise<void> {
  for (const dep of svc.dependsOn) {
    cli.err(`waiting for ${dep.service} (${dep.condition}) before ${svc.name}`);
    const ok = await pollUntil(async () => ((await conditionMet(cli, plan, dep)) ? true : undefined), timeoutMs, 500);
    if (!ok) {
      if (!dep.required) {
        cli.err(`${dep.service} is not ${dep.condition.replace('service_', '')} after ${timeoutMs / 1000}s; starting ${svc.name} anyway (required: false)`);
        continue;
      }
      throw new CliError(`${dep.service} did not reach ${dep.condition} within ${timeoutMs / 1000}s (ketch compose ps; ketch why pod/NAME)`);
    }
  }
}

export interface UpOptions {
  waitTimeoutMs: number;
  /** Also wait for every service (running, healthy when it has a healthcheck, completed for one-shot ones). */
  wait: boolean;
  /** Runs before a service with a build section is applied. */
  build?: (svc: ServicePlan) => Promise<void>;
}

export async function composeUp(cli: Cli, plan: Plan, o: UpOptions): Promise<void> {
  for (const obj of plan.shared) await apply(cli, obj, plan.namespace);
  for (const svc of plan.services) {
    if (svc.build && o.build) await o.build(svc);
    await waitFor(cli, plan, svc, o.waitTimeoutMs);
    await apply(cli, svc.workload, plan.namespace);
  }
  await prune(cli, plan);
  if (!o.wait) return;
  for (const svc of plan.services) {
    const hasProbe = JSON.stringify(svc.workload).includes('"readinessProbe"');
    const condition = svc.kind === 'Job' ? 'service_completed_successfully' : hasProbe ? 'service_healthy' : 'service_started';
    await waitFor(cli, plan, { ...svc, name: 'the end of up', dependsOn: [{ service: svc.name, condition, required: true }] }, o.waitTimeoutMs);
  }
}

/** Deletes the project's objects that the plan no longer has (a service removed from the file). */
async function prune(cli: Cli, plan: Plan): Promise<void> {
  const wanted = new Set([...plan.shared, ...plan.services.map((s) => s.workload)].map((o) => `${String(o.kind)}/${nameOf(o)}`));
  for (const [apiVersion, kind] of [...WORKLOAD_KINDS, ...SHARED_KINDS]) {
    const res = (await cli.resolver()).byKind(apiVersion, kind);
    if (!res) continue;
    const client = cli.client<Kube>(res);
    for (const o of (await client.list(plan.namespace, { labelSelector: selectorOf(plan.project) })).items) {
      const name = o.metadata?.name ?? '';
      if (wanted.has(`${kind}/${name}`)) continue;
      await client.delete(plan.namespace, name, { propagationPolicy: 'Background' });
      cli.out(`${kind.toLowerCase()}/${name} deleted (no longer in the compose file)`);
    }
  }
}

/** Deletes every object with the project label (claims only with `volumes`), then the project's own namespace. */
export async function composeDown(cli: Cli, plan: Pick<Plan, 'namespace' | 'project' | 'ownNamespace'>, volumes: boolean): Promise<void> {
  let claimsLeft = 0;
  for (const [apiVersion, kind] of [...WORKLOAD_KINDS, ...SHARED_KINDS, CLAIM_KIND]) {
    const res = (await cli.resolver()).byKind(apiVersion, kind);
    if (!res) continue;
    const client = cli.client<Kube>(res);
    const items = (await client.list(plan.namespace, { labelSelector: selectorOf(plan.project) }).catch((e: unknown) => (isNotFound(e) ? { items: [] } : Promise.reject(e)))).items;
    if (kind === 'PersistentVolumeClaim' && !volumes) {
      claimsLeft = items.length;
      continue;
    }
    for (const o of items) {
      await client.delete(plan.namespace, o.metadata?.name ?? '', { propagationPolicy: 'Background' });
      cli.out(`${kind.toLowerCase()}/${o.metadata?.name ?? ''} deleted`);
    }
  }
  if (!plan.ownNamespace) return;
  const nsClient = cli.client<Kube>(await resourceFor(cli, 'v1', 'Namespace'));
  const ns = await nsClient.get(undefined, plan.namespace).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
  if (!ns || ns.metadata?.labels?.[LABEL_PROJECT] !== plan.project) return;
  if (claimsLeft) {
    cli.err(`namespace/${plan.namespace} kept: it holds ${claimsLeft} volume claim(s) (down --volumes removes them)`);
    return;
  }
  await nsClient.delete(undefined, plan.namespace);
  cli.out(`namespace/${plan.namespace} deleted`);
}

/** One line per pod of the project: service, status, readiness, restarts, node. */
export async function composePs(cli: Cli, plan: Pick<Plan, 'namespace' | 'project'>, all: boolean): Promise<string[][]> {
  const rows = [['NAME', 'SERVICE', 'STATUS', 'READY', 'RESTARTS', 'NODE']];
  const pods = (await podsOf(cli, plan)).sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const p of pods) {
    const st = statusOf(p);
    if (!all && st.phase === 'Succeeded') continue;
    const cs = st.containerStatuses ?? [];
    const waiting = cs.map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason).find(Boolean);
    rows.push([
      p.metadata?.name ?? '',
      p.metadata?.labels?.[LABEL_SERVICE] ?? '',
      waiting ?? st.phase ?? 'Unknown',
      `${cs.filter((c) => c.ready).length}/${p.spec?.containers?.length ?? 0}`,
      String(cs.reduce((n, c) => n + (c.restartCount ?? 0), 0)),
      p.spec?.nodeName ?? '',
    ]);
  }
  return rows;
}

export async function composeLogs(cli: Cli, plan: Pick<Plan, 'namespace' | 'project'>, services: string[], o: { follow: boolean; tail: number; timestamps: boolean }): Promise<void> {
  const pods = (await podsOf(cli, plan)).filter((p) => !services.length || services.includes(p.metadata?.labels?.[LABEL_SERVICE] ?? ''));
  if (!pods.length) throw new CliError(`no pods of project ${plan.project}${services.length ? ` for ${services.join(', ')}` : ''}`);
  const width = Math.max(...pods.map((p) => (p.metadata?.name ?? '').length));
  const one = (p: PodObj): Promise<void> =>
    stream(cli, p, p.spec?.containers?.[0]?.name ?? '', { follow: o.follow, timestamps: o.timestamps }, o.tail, true, `${(p.metadata?.name ?? '').padEnd(width)} | `);
  if (o.follow) await Promise.all(pods.map(one));
  else for (const p of pods) await one(p);
}

/** Restarts services: a new template annotation for long-running ones, a fresh Job for one-shot ones. */
export async function composeRestart(cli: Cli, plan: Plan, only: string[]): Promise<void> {
  for (const svc of plan.services.filter((s) => !only.length || only.includes(s.name))) {
    const [group, kind] = [String(svc.workload.apiVersion), svc.kind];
    const client = cli.client<Kube>(await resourceFor(cli, group, kind));
    if (kind === 'Job') {
      await client.delete(plan.namespace, svc.name, { propagationPolicy: 'Background' }).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
      await pollUntil(async () => ((await client.get(plan.namespace, svc.name).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)))) ? undefined : true), 30_000);
      await apply(cli, svc.workload, plan.namespace);
      continue;
    }
    const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } };
    await client.patch(plan.namespace, svc.name, patch, 'merge', { query: { fieldManager: `${MANAGER}-restart` } });
    cli.out(`${kind.toLowerCase()}/${svc.name} restarted`);
  }
}
