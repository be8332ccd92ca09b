// `ketch describe`: a readable account of objects with their events, as kubectl's describers print it
// (pods, deployments, replica sets, nodes, services, config maps, claims, volumes and storage classes in detail;
// other kinds generically).
import type { Command } from 'commander';
import type { ObjectLike } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { describeEvents, eventsOrNone } from '../events.js';
import { age } from '../printers/age.js';
import { tabwrite } from '../printers/tabwriter.js';
import { toYaml } from '../printers/data.js';
import { formatLabels } from '../printers/table.js';
import { parseTargets, type ApiResource } from '../resources.js';
import { listNamespace, withKind } from '../select.js';
import { LAST_APPLIED } from './apply.js';
import { accessModesString, ANN_BETA_STORAGE_CLASS, isDefaultClass, podClaimNames, type Pod, type StorageClass } from '../../api/index.js';

type Any = Record<string, unknown>;
type Obj = ObjectLike & Any;

const o = (v: unknown): Any => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Any) : {});
const a = (v: unknown): Any[] => (Array.isArray(v) ? v.map(o) : []);
const s = (v: unknown, dflt = '<none>'): string => (v === undefined || v === null || v === '' ? dflt : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** RFC 1123 with a numeric zone, as kubectl prints times in describe. */
export const rfc1123 = (ts: unknown): string => (typeof ts === 'string' && !Number.isNaN(Date.parse(ts)) ? new Date(ts).toUTCString().replace('GMT', '+0000') : '<unknown>');

interface DescribeFlags {
  selector?: string;
  allNamespaces?: boolean;
  showEvents: boolean;
  chunkSize: string;
}

export function register(program: Command): void {
  program
    .command('describe')
    .description('show details of a resource or group of resources')
    .argument('<args...>', 'TYPE [NAME_PREFIX] or TYPE/NAME')
    .option('-l, --selector <selector>', 'label selector')
    .option('-A, --all-namespaces', 'across all namespaces')
    .option('--no-show-events', "don't show events")
    .option('--chunk-size <n>', 'list page size', '500')
    .action(async (args: string[], flags: DescribeFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const targets = parseTargets(await cli.resolver(), args);
      const objs: { res: ApiResource; obj: Obj }[] = [];
      for (const t of targets) {
        const c = cli.client<Obj>(t.res);
        if (t.name !== undefined) {
          try {
            objs.push({ res: t.res, obj: withKind(await c.get(cli.nsFor(t.res), t.name), t.res) });
          } catch (e) {
            // kubectl describe TYPE PREFIX: objects whose names start with the prefix.
            if ((e as { code?: number }).code !== 404 || args[0]!.includes('/')) {
              cli.fail(e);
              continue;
            }
            const list = await c.listAll(cli.nsFor(t.res));
            const matches = list.items.filter((x) => x.metadata?.name?.startsWith(t.name!));
            if (!matches.length) cli.fail(e);
            for (const m of matches) objs.push({ res: t.res, obj: withKind(m, t.res) });
          }
        } else {
          const list = await c.listAll(listNamespace(cli, t.res, flags.allNamespaces), flags.selector ? { labelSelector: flags.selector } : {});
          for (const m of list.items) objs.push({ res: t.res, obj: withKind(m, t.res) });
        }
      }
      if (!objs.length && !cli.failed) {
        if (targets.every((t) => t.name === undefined)) cli.err(targets[0]?.res.namespaced && !flags.allNamespaces ? `No resources found in ${cli.namespace} namespace.` : 'No resources found');
        else throw new CliError('no objects to describe');
      }
      const blocks: string[] = [];
      for (const { res, obj } of objs) blocks.push(await describe(cli, res, obj, flags.showEvents));
      cli.io.stdout.write(blocks.join('\n\n'));
    });
}

export async function describe(cli: Cli, res: ApiResource, obj: Obj, withEvents = true): Promise<string> {
  let text: string;
  switch (res.group === '' || res.group === 'apps' || res.group === 'storage.k8s.io' ? res.kind : '') {
    case 'Pod':
      text = describePod(obj);
      break;
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      text = await describeWorkload(cli, res, obj);
      break;
    case 'Node':
      text = await describeNode(cli, obj);
      break;
    case 'Service':
      text = await describeService(cli, obj);
      break;
    case 'ConfigMap':
    case 'Secret':
      text = describeData(obj, res.kind === 'Secret');
      break;
    case 'PersistentVolumeClaim':
      text = await describeClaim(cli, obj);
      break;
    case 'PersistentVolume':
      text = describeVolume(obj);
      break;
    case 'StorageClass':
      text = describeStorageClass(obj);
      break;
    case 'Event':
      text = header(obj) + rest(obj, ['metadata', 'apiVersion', 'kind']);
      break;
    default:
      text = header(obj) + rest(obj, ['metadata', 'apiVersion', 'kind']);
  }
  if (withEvents && res.kind !== 'Event') text += describeEvents(await eventsOrNone(cli, obj, res.kind));
  return tabwrite(text);
}

function mapLines(label: string, m: Record<string, string> | undefined, skip: string[] = []): string {
  const e = Object.entries(m ?? {}).filter(([k]) => !skip.includes(k)).sort(([x], [y]) => (x < y ? -1 : 1));
  if (!e.length) return `${label}\t<none>\n`;
  return e.map(([k, v], i) => `${i ? '' : label}\t${k}=${v}\n`).join('');
}

function header(obj: Obj, extra: string[] = []): string {
  const m = obj.metadata ?? {};
  let t = `Name:\t${m.name ?? ''}\n`;
  if (m.namespace) t += `Namespace:\t${m.namespace}\n`;
  for (const line of extra) t += line;
  t += mapLines('Labels:', m.labels);
  t += mapLines('Annotations:', m.annotations, [LAST_APPLIED]).replace(/=/, ': ').replace(/\n\t([^=\n]*)=/g, '\n\t$1: ');
  return t;
}

/** Remaining fields, YAML-style and indented (kubectl's generic describer). */
function rest(obj: Obj, skip: string[]): string {
  const r = Object.fromEntries(Object.entries(obj).filter(([k]) => !skip.includes(k)));
  return Object.entries(r)
    .map(([k, v]) => {
      const title = k.charAt(0).toUpperCase() + k.slice(1);
      if (v && typeof v === 'object') return `${title}:\n${toYaml(v).replace(/^/gm, '  ').trimEnd()}\n`;
      return `${title}:\t${s(v)}\n`;
    })
    .join('');
}

function controller(obj: Obj): string | undefined {
  const ref = a(obj.metadata?.ownerReferences).find((r) => r.controller === true);
  return ref ? `${String(ref.kind)}/${String(ref.name)}` : undefined;
}

function resources(label: string, r: unknown, indent: string): string {
  const e = Object.entries(o(r));
  if (!e.length) return '';
  return `${indent}${label}:\n` + e.map(([k, v]) => `${indent}  ${k}:\t${s(v)}\n`).join('');
}

function probe(p: unknown): string {
  const x = o(p);
  const h = o(x.httpGet);
  const what = x.httpGet ? `http-get ${s(h.scheme, 'http').toLowerCase()}://${s(h.host, '')}:${s(h.port)}${s(h.path, '')}` : x.tcpSocket ? `tcp-socket :${s(o(x.tcpSocket).port)}` : x.exec ? `exec [${(o(x.exec).command as string[] | undefined)?.join(' ') ?? ''}]` : x.grpc ? `grpc <pod>:${s(o(x.grpc).port)}` : 'unknown';
  return `${what} delay=${s(x.initialDelaySeconds, '0')}s timeout=${s(x.timeoutSeconds, '1')}s period=${s(x.periodSeconds, '10')}s #success=${s(x.successThreshold, '1')} #failure=${s(x.failureThreshold, '3')}`;
}

function state(label: string, st: unknown, indent: string): string {
  const x = o(st);
  if (x.running) return `${indent}${label}:\tRunning\n${indent}  Started:\t${rfc1123(o(x.running).startedAt)}\n`;
  if (x.waiting) {
    const w = o(x.waiting);
    return `${indent}${label}:\tWaiting\n${indent}  Reason:\t${s(w.reason, '')}\n${w.message ? `${indent}  Message:\t${s(w.message)}\n` : ''}`;
  }
  if (x.terminated) {
    const t = o(x.terminated);
    return (
      `${indent}${label}:\tTerminated\n${indent}  Reason:\t${s(t.reason, '')}\n` +
      (t.message ? `${indent}  Message:\t${s(t.message)}\n` : '') +
      `${indent}  Exit Code:\t${s(t.exitCode, '0')}\n` +
      (t.signal ? `${indent}  Signal:\t${s(t.signal)}\n` : '') +
      `${indent}  Started:\t${rfc1123(t.startedAt)}\n${indent}  Finished:\t${rfc1123(t.finishedAt)}\n`
    );
  }
  return label === 'State' ? `${indent}${label}:\tWaiting\n` : '';
}

/** The containers section shared by pods and pod templates (statuses only for pods). */
function containers(title: string, cs: Any[], statuses: Any[], indent: string): string {
  if (!cs.length) return '';
  let t = `${indent}${title}:\n`;
  for (const c of cs) {
    const st = statuses.find((x) => x.name === c.name);
    const i = indent + '    ';
    t += `${indent}  ${s(c.name)}:\n`;
    if (st) t += `${i}Container ID:\t${s(st.containerID, '')}\n`;
    t += `${i}Image:\t${s(c.image)}\n`;
    if (st) t += `${i}Image ID:\t${s(st.imageID, '')}\n`;
    const ports = a(c.ports);
    t += `${i}Port:\t${ports.length ? ports.map((p) => `${s(p.containerPort)}/${s(p.protocol, 'TCP')}`).join(', ') : '<none>'}\n`;
    t += `${i}Host Port:\t${ports.length ? ports.map((p) => `${s(p.hostPort, '0')}/${s(p.protocol, 'TCP')}`).join(', ') : '<none>'}\n`;
    if (Array.isArray(c.command)) t += `${i}Command:\n` + (c.command as unknown[]).map((x) => `${i}  ${s(x)}\n`).join('');
    if (Array.isArray(c.args)) t += `${i}Args:\n` + (c.args as unknown[]).map((x) => `${i}  ${s(x)}\n`).join('');
    if (st) {
      t += state('State', st.state, i);
      t += state('Last State', st.lastState, i);
      t += `${i}Ready:\t${st.ready === true ? 'True' : 'False'}\n${i}Restart Count:\t${s(st.restartCount, '0')}\n`;
    }
    t += resources('Limits', o(c.resources).limits, i) + resources('Requests', o(c.resources).requests, i);
    if (c.livenessProbe) t += `${i}Liveness:\t${probe(c.livenessProbe)}\n`;
    if (c.readinessProbe) t += `${i}Readiness:\t${probe(c.readinessProbe)}\n`;
    if (c.startupProbe) t += `${i}Startup:\t${probe(c.startupProbe)}\n`;
    const env = a(c.env);
    if (!env.length && !a(c.envFrom).length) t += `${i}Environment:\t<none>\n`;
    else {
      t += `${i}Environment:\n`;
      for (const e of env) {
        const from = o(e.valueFrom);
        const val = e.value !== undefined ? s(e.value, '') : from.configMapKeyRef ? `<set to the key '${s(o(from.configMapKeyRef).key)}' of config map '${s(o(from.configMapKeyRef).name)}'>` : from.secretKeyRef ? `<set to the key '${s(o(from.secretKeyRef).key)}' in secret '${s(o(from.secretKeyRef).name)}'>` : from.fieldRef ? `(${s(o(from.fieldRef).fieldPath)})` : '';
        t += `${i}  ${s(e.name)}:\t${val}\n`;
      }
      for (const e of a(c.envFrom)) t += e.configMapRef ? `${i}  ConfigMap\t${s(o(e.configMapRef).name)}\n` : `${i}  Secret\t${s(o(e.secretRef).name)}\n`;
    }
    const mounts = a(c.volumeMounts);
    t += mounts.length ? `${i}Mounts:\n` + mounts.map((m) => `${i}  ${s(m.mountPath)} from ${s(m.name)} (${m.readOnly ? 'ro' : 'rw'})\n`).join('') : `${i}Mounts:\t<none>\n`;
  }
  return t;
}

function volumes(vs: Any[], indent = ''): string {
  if (!vs.length) return `${indent}Volumes:\t<none>\n`;
  let t = `${indent}Volumes:\n`;
  for (const v of vs) {
    const { name, ...src } = v;
    const [type, cfg] = Object.entries(src)[0] ?? ['', {}];
    t += `${indent}  ${s(name)}:\n${indent}    Type:\t${type}\n`;
    for (const [k, x] of Object.entries(o(cfg))) t += `${indent}    ${k.charAt(0).toUpperCase() + k.slice(1)}:\t${s(x)}\n`;
  }
  return t;
}

export function describePod(pod: Obj): string {
  const spec = o(pod.spec);
  const st = o(pod.status);
  const m = pod.metadata ?? {};
  let t = header(pod, [
    `Priority:\t${s(spec.priority, '0')}\n`,
    `Service Account:\t${s(spec.serviceAccountName, 'default')}\n`,
    `Node:\t${spec.nodeName ? `${s(spec.nodeName)}/${s(st.hostIP, '')}` : '<none>'}\n`,
    `Start Time:\t${st.startTime ? rfc1123(st.startTime) : '<unset>'}\n`,
  ]);
  if (m.deletionTimestamp) t += `Status:\tTerminating (lasts ${age(m.deletionTimestamp)})\nTermination Grace Period:\t${s(m.deletionGracePeriodSeconds, '0')}s\n`;
  else t += `Status:\t${s(st.phase, 'Pending')}\n`;
  if (st.reason) t += `Reason:\t${s(st.reason)}\n`;
  if (st.message) t += `Message:\t${s(st.message)}\n`;
  t += `IP:\t${s(st.podIP, '')}\n`;
  const ips = a(st.podIPs);
  t += ips.length ? `IPs:\n` + ips.map((x) => `  IP:\t${s(x.ip)}\n`).join('') : `IPs:\t<none>\n`;
  const ctl = controller(pod);
  if (ctl) t += `Controlled By:\t${ctl}\n`;
  t += containers('Init Containers', a(spec.initContainers), a(st.initContainerStatuses), '');
  t += containers('Containers', a(spec.containers), a(st.containerStatuses), '');
  const conds = a(st.conditions);
  if (conds.length) t += `Conditions:\n  Type\tStatus\n` + conds.map((c) => `  ${s(c.type)} \t${s(c.status)} \n`).join('');
  t += volumes(a(spec.volumes));
  t += `QoS Class:\t${s(st.qosClass, 'BestEffort')}\n`;
  t += mapLines('Node-Selectors:', spec.nodeSelector as Record<string, string> | undefined);
  const tol = a(spec.tolerations);
  t += tol.length ? tol.map((x, i) => `${i ? '' : 'Tolerations:'}\t${s(x.key, '')}${x.operator === 'Exists' ? '' : `=${s(x.value, '')}`}${x.effect ? `:${s(x.effect)}` : ''}${x.tolerationSeconds !== undefined ? ` op=${s(x.operator, 'Equal')} for ${s(x.tolerationSeconds)}s` : ''}\n`).join('') : `Tolerations:\t<none>\n`;
  return t;
}

async function describeWorkload(cli: Cli, res: ApiResource, obj: Obj): Promise<string> {
  const spec = o(obj.spec);
  const st = o(obj.status);
  let t = header(obj, [`CreationTimestamp:\t${rfc1123(obj.metadata?.creationTimestamp)}\n`]);
  const sel = o(spec.selector);
  const matchLabels = o(sel.matchLabels) as Record<string, string>;
  t += `Selector:\t${Object.entries(matchLabels).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'}\n`;
  if (res.kind === 'Deployment') {
    const unavailable = st.unavailableReplicas ?? 0;
    t += `Replicas:\t${s(spec.replicas, '1')} desired | ${s(st.updatedReplicas, '0')} updated | ${s(st.replicas, '0')} total | ${s(st.availableReplicas, '0')} available | ${s(unavailable)} unavailable\n`;
    const strat = o(spec.strategy);
    t += `StrategyType:\t${s(strat.type, 'RollingUpdate')}\nMinReadySeconds:\t${s(spec.minReadySeconds, '0')}\n`;
    if (s(strat.type, 'RollingUpdate') === 'RollingUpdate') {
      const ru = o(strat.rollingUpdate);
      t += `RollingUpdateStrategy:\t${s(ru.maxUnavailable, '25%')} max unavailable, ${s(ru.maxSurge, '25%')} max surge\n`;
    }
    if (spec.paused) t += `Paused:\ttrue\n`;
  } else if (res.kind === 'DaemonSet') {
    t += `Desired Number of Nodes Scheduled: ${s(st.desiredNumberScheduled, '0')}\nCurrent Number of Nodes Scheduled: ${s(st.currentNumberScheduled, '0')}\nNumber of Nodes Scheduled with Up-to-date Pods: ${s(st.updatedNumberScheduled, '0')}\nNumber of Nodes Scheduled with Available Pods: ${s(st.numberAvailable, '0')}\nNumber of Nodes Misscheduled: ${s(st.numberMisscheduled, '0')}\n`;
  } else {
    t += `Replicas:\t${s(st.replicas, '0')} current / ${s(spec.replicas, '1')} desired\n`;
    const ctl = controller(obj);
    if (ctl) t += `Controlled By:\t${ctl}\n`;
  }
  const tpl = o(spec.template);
  const tspec = o(tpl.spec);
  t += `Pod Template:\n` + mapLines('  Labels:', o(tpl.metadata).labels as Record<string, string> | undefined);
  if (tspec.serviceAccountName) t += `  Service Account:\t${s(tspec.serviceAccountName)}\n`;
  t += containers('Containers', a(tspec.containers), [], '  ').replace(/^ {2}Containers:/m, '  Containers:');
  t += volumes(a(tspec.volumes), '  ');
  const conds = a(st.conditions);
  if (conds.length) t += `Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n` + conds.map((c) => `  ${s(c.type)}\t${s(c.status)}\t${s(c.reason, '')}\n`).join('');
  if (res.kind === 'Deployment') {
    const rsRes = (await cli.resolver()).byKind('apps/v1', 'ReplicaSet');
    if (rsRes) {
      const all = (await cli.client<Obj>(rsRes).listAll(obj.metadata?.namespace)).items.filter((r) => a(r.metadata?.ownerReferences).some((x) => x.uid === obj.metadata?.uid));
      const hash = (r: Obj): unknown => o(o(o(r.spec).template).metadata).labels && (o(o(o(r.spec).template).metadata).labels as Any)['pod-template-hash'];
      const tplHash = (o(o(tpl.metadata).labels) as Any)['pod-template-hash'];
      const rev = (r: Obj): number => Number(r.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
      const newest = all.reduce<Obj | undefined>((best, r) => (!best || rev(r) > rev(best) ? r : best), undefined);
      const isNew = (r: Obj): boolean => (tplHash !== undefined ? hash(r) === tplHash : r === newest);
      const fmt = (r: Obj): string => `${r.metadata?.name ?? ''} (${s(o(r.status).replicas, '0')}/${s(o(r.spec).replicas, '0')} replicas created)`;
      const olds = all.filter((r) => !isNew(r) && (Number(o(r.spec).replicas ?? 0) > 0 || Number(o(r.status).replicas ?? 0) > 0));
      t += `OldReplicaSets:\t${olds.length ? olds.map(fmt).join(', ') : '<none>'}\n`;
      const nw = all.find(isNew);
      t += `NewReplicaSet:\t${nw ? fmt(nw) : '<none>'}\n`;
    }
  }
  return t;
}

async function describeNode(cli: Cli, node: Obj): Promise<string> {
  const spec = o(node.spec);
  const st = o(node.status);
  const labels = node.metadata?.labels ?? {};
  const roles = Object.keys(labels).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
  let t = header(node, [`Roles:\t${roles.join(',') || '<none>'}\n`]);
  t += `CreationTimestamp:\t${rfc1123(node.metadata?.creationTimestamp)}\n`;
  const taints = a(spec.taints);
  t += taints.length ? taints.map((x, i) => `${i ? '' : 'Taints:'}\t${s(x.key)}${x.value ? `=${s(x.value)}` : ''}:${s(x.effect)}\n`).join('') : `Taints:\t<none>\n`;
  t += `Unschedulable:\t${spec.unschedulable ? 'true' : 'false'}\n`;
  const conds = a(st.conditions);
  t += `Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n  ----\t------\t-----------------\t------------------\t------\t-------\n`;
  t += conds.map((c) => `  ${s(c.type)}\t${s(c.status)}\t${rfc1123(c.lastHeartbeatTime)}\t${rfc1123(c.lastTransitionTime)}\t${s(c.reason, '')}\t${s(c.message, '')}\n`).join('');
  const addrs = a(st.addresses);
  t += `Addresses:\n` + addrs.map((x) => `  ${s(x.type)}:\t${s(x.address)}\n`).join('');
  t += resources('Capacity', st.capacity, '') + resources('Allocatable', st.allocatable, '');
  const info = o(st.nodeInfo);
  if (Object.keys(info).length) t += `System Info:\n` + Object.entries(info).map(([k, v]) => `  ${k.replace(/^./, (c) => c.toUpperCase()).replace(/([a-z])([A-Z])/g, '$1 $2')}:\t${s(v)}\n`).join('');
  if (spec.podCIDR) t += `PodCIDR:\t${s(spec.podCIDR)}\n`;
  const podRes = (await cli.resolver()).byKind('v1', 'Pod');
  if (podRes) {
    const pods = (await cli.client<Obj>(podRes).listAll(undefined, { fieldSelector: `spec.nodeName=${node.metadata?.name ?? ''}` })).items.filter((p) => !['Succeeded', 'Failed'].includes(String(o(p.status).phase)));
    t += `Non-terminated Pods:\t(${pods.length} in total)\n`;
    if (pods.length) {
      t += `  Namespace\tName\tCPU Requests\tMemory Requests\tAge\n  ---------\t----\t------------\t---------------\t---\n`;
      for (const p of pods) {
        const req = (k: string): string => a(o(p.spec).containers).map((c) => s(o(o(c.resources).requests)[k], '')).filter(Boolean).join('+') || '0';
        t += `  ${p.metadata?.namespace ?? ''}\t${p.metadata?.name ?? ''}\t${req('cpu')}\t${req('memory')}\t${age(p.metadata?.creationTimestamp)}\n`;
      }
    }
  }
  return t;
}

/** kubectl's formatEndpointSlices: the ready endpoints of the named port (address:port), three at most and a count. */
export function formatEndpointSlices(slices: Any[], portName: string): string {
  if (!slices.length) return '<none>';
  const list: string[] = [];
  let count = 0;
  const add = (addr: string): void => {
    if (list.length < 3) list.push(addr);
    count++;
  };
  const ready = (e: Any): boolean => o(e.conditions).ready !== false;
  const first = (e: Any): string => String((e.addresses as unknown[] | undefined)?.[0] ?? '');
  for (const slice of slices) {
    const ports = a(slice.ports);
    const endpoints = a(slice.endpoints).filter(ready);
    // A headless service may have no ports: its addresses alone.
    if (!ports.length) for (const e of endpoints) add(first(e));
    for (const p of ports) if (s(p.name, '') === portName) for (const e of endpoints) add(`${first(e)}:${s(p.port)}`);
  }
  return count > list.length ? `${list.join(',')} + ${count - list.length} more...` : list.join(',');
}

/** kubectl's service describer: the spec, the load balancer ingress, and each port's endpoints from the EndpointSlices. */
async function describeService(cli: Cli, svc: Obj): Promise<string> {
  const spec = o(svc.spec);
  const ingress = a(o(o(svc.status).loadBalancer).ingress);
  const slicesRes = (await cli.resolver()).byKind('discovery.k8s.io/v1', 'EndpointSlice');
  const slices = slicesRes
    ? (await cli.client<Obj>(slicesRes).listAll(svc.metadata?.namespace, { labelSelector: `kubernetes.io/service-name=${svc.metadata?.name ?? ''}` }).catch(() => ({ items: [] as Obj[] }))).items
    : [];
  const list = (v: unknown): string => (Array.isArray(v) && v.length ? v.map(String).join(',') : '<none>');
  let t = header(svc);
  t += `Selector:\t${formatLabels(spec.selector as Record<string, string> | undefined)}\n`;
  t += `Type:\t${s(spec.type, '')}\n`;
  if (spec.ipFamilyPolicy) t += `IP Family Policy:\t${s(spec.ipFamilyPolicy)}\n`;
  t += `IP Families:\t${list(spec.ipFamilies)}\n`;
  t += `IP:\t${s(spec.clusterIP, '')}\nIPs:\t${list(spec.clusterIPs)}\n`;
  if (Array.isArray(spec.externalIPs) && spec.externalIPs.length) t += `External IPs:\t${list(spec.externalIPs)}\n`;
  if (spec.loadBalancerIP) t += `Desired LoadBalancer IP:\t${s(spec.loadBalancerIP)}\n`;
  if (spec.externalName) t += `External Name:\t${s(spec.externalName)}\n`;
  if (ingress.length) t += `LoadBalancer Ingress:\t${ingress.map((i) => (i.ip ? `${s(i.ip)}${i.ipMode ? ` (${s(i.ipMode)})` : ''}` : s(i.hostname, ''))).join(', ')}\n`;
  for (const p of a(spec.ports)) {
    const name = s(p.name, '<unset>');
    const proto = s(p.protocol, 'TCP');
    t += `Port:\t${name}\t${s(p.port)}/${proto}\n`;
    t += `TargetPort:\t${s(p.targetPort, s(p.port))}/${proto}\n`;
    if (p.nodePort) t += `NodePort:\t${name}\t${s(p.nodePort)}/${proto}\n`;
    t += `Endpoints:\t${formatEndpointSlices(slices, s(p.name, ''))}\n`;
  }
  t += `Session Affinity:\t${s(spec.sessionAffinity, '')}\n`;
  if (spec.externalTrafficPolicy) t += `External Traffic Policy:\t${s(spec.externalTrafficPolicy)}\n`;
  if (spec.internalTrafficPolicy) t += `Internal Traffic Policy:\t${s(spec.internalTrafficPolicy)}\n`;
  if (spec.healthCheckNodePort) t += `HealthCheck NodePort:\t${s(spec.healthCheckNodePort)}\n`;
  if (Array.isArray(spec.loadBalancerSourceRanges) && spec.loadBalancerSourceRanges.length) t += `LoadBalancer Source Ranges:\t${list(spec.loadBalancerSourceRanges)}\n`;
  return t;
}

function describeData(obj: Obj, secret: boolean): string {
  let t = header(obj);
  if (secret) {
    t += `\nType:\t${s(obj.type, 'Opaque')}\n\nData\n====\n`;
    for (const [k, v] of Object.entries(o(obj.data))) t += `${k}:\t${Buffer.from(String(v), 'base64').length} bytes\n`;
    return t;
  }
  t += `\nData\n====\n`;
  for (const [k, v] of Object.entries(o(obj.data))) t += `${k}:\n----\n${String(v)}\n\n`;
  t += `\nBinaryData\n====\n`;
  for (const [k, v] of Object.entries(o(obj.binaryData))) t += `${k}: ${Buffer.from(String(v), 'base64').length} bytes\n`;
  return t + '\n';
}

const classOf = (obj: Obj): string => s(obj.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS] ?? o(obj.spec).storageClassName, '');
const finalizers = (obj: Obj): string => `Finalizers:\t[${(Array.isArray(obj.metadata?.finalizers) ? (obj.metadata.finalizers as string[]) : []).join(' ')}]\n`;
/** A label with one value a line (printPodsMultiline and friends). */
const multiline = (label: string, values: string[]): string => (values.length ? values.map((v, i) => `${i ? '' : label}\t${v}\n`).join('') : `${label}\t<none>\n`);

/** kubectl's PersistentVolumeClaimDescriber, with `Used By:` computed from the pods of the namespace, as kubectl does. */
async function describeClaim(cli: Cli, pvc: Obj): Promise<string> {
  const spec = o(pvc.spec);
  const st = o(pvc.status);
  const m = pvc.metadata ?? {};
  const status = m.deletionTimestamp ? `Terminating (lasts ${age(m.deletionTimestamp)})` : s(st.phase, '');
  let t = header(pvc, [`StorageClass:\t${classOf(pvc)}\n`, `Status:\t${status}\n`, `Volume:\t${s(spec.volumeName, '')}\n`]);
  t += finalizers(pvc);
  const bound = !!spec.volumeName;
  t += `Capacity:\t${bound ? s(o(st.capacity).storage, '') : ''}\nAccess Modes:\t${bound ? accessModesString(Array.isArray(st.accessModes) ? st.accessModes : []) : ''}\n`;
  if (spec.volumeMode) t += `VolumeMode:\t${s(spec.volumeMode)}\n`;
  const ds = o(spec.dataSource);
  if (spec.dataSource) t += `DataSource:\n  APIGroup:\t${s(ds.apiGroup, '')}\n  Kind:\t${s(ds.kind)}\n  Name:\t${s(ds.name)}\n`;
  const podRes = (await cli.resolver()).byKind('v1', 'Pod');
  const pods = podRes ? (await cli.client<Obj>(podRes).listAll(m.namespace)).items : [];
  t += multiline('Used By:', pods.filter((p) => podClaimNames(p as unknown as Pod).includes(m.name ?? '')).map((p) => p.metadata?.name ?? ''));
  const conds = a(st.conditions);
  if (conds.length) {
    t += `Conditions:\n  Type\tStatus\tLastProbeTime\tLastTransitionTime\tReason\tMessage\n  ----\t------\t-----------------\t------------------\t------\t-------\n`;
    t += conds.map((c) => `  ${s(c.type)} \t${s(c.status)} \t${rfc1123(c.lastProbeTime)} \t${rfc1123(c.lastTransitionTime)} \t${s(c.reason, '')} \t${s(c.message, '')}\n`).join('');
  }
  return t;
}

/** kubectl's PersistentVolumeDescriber. */
function describeVolume(pv: Obj): string {
  const spec = o(pv.spec);
  const st = o(pv.status);
  let t = header(pv) + finalizers(pv);
  t += `StorageClass:\t${classOf(pv)}\n`;
  t += `Status:\t${pv.metadata?.deletionTimestamp ? `Terminating (lasts ${age(pv.metadata.deletionTimestamp)})` : s(st.phase, '')}\n`;
  const ref = o(spec.claimRef);
  t += `Claim:\t${spec.claimRef ? `${s(ref.namespace, '')}/${s(ref.name, '')}` : ''}\n`;
  t += `Reclaim Policy:\t${s(spec.persistentVolumeReclaimPolicy, '')}\nAccess Modes:\t${accessModesString(Array.isArray(spec.accessModes) ? spec.accessModes : [])}\n`;
  t += `VolumeMode:\t${s(spec.volumeMode, 'Filesystem')}\nCapacity:\t${s(o(spec.capacity).storage, '')}\n`;
  const terms = a(o(o(spec.nodeAffinity).required).nodeSelectorTerms);
  if (!terms.length) t += `Node Affinity:\t<none>\n`;
  else {
    t += `Node Affinity:\n  Required Terms:\n`;
    terms.forEach((term, i) => {
      const exprs = a(term.matchExpressions).map((e) => `${s(e.key)} ${s(e.operator).toLowerCase()} [${(Array.isArray(e.values) ? e.values : []).join(', ')}]`);
      t += exprs.map((e, j) => `${j ? '' : `    Term ${i}:`}\t${e}\n`).join('');
    });
  }
  t += `Message:\t${s(st.message, '')}\nSource:\n`;
  if (spec.hostPath) t += `    Type:\tHostPath (bare host directory volume)\n    Path:\t${s(o(spec.hostPath).path)}\n    HostPathType:\t${s(o(spec.hostPath).type, '')}\n`;
  else if (spec.local) t += `    Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n    Path:\t${s(o(spec.local).path)}\n`;
  else if (spec.nfs) t += `    Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n    Server:\t${s(o(spec.nfs).server)}\n    Path:\t${s(o(spec.nfs).path)}\n    ReadOnly:\t${o(spec.nfs).readOnly === true}\n`;
  else if (spec.csi) t += `    Type:\tCSI (a Container Storage Interface (CSI) volume source)\n    Driver:\t${s(o(spec.csi).driver)}\n    VolumeHandle:\t${s(o(spec.csi).volumeHandle)}\n    ReadOnly:\t${o(spec.csi).readOnly === true}\n`;
  return t;
}

/** kubectl's StorageClassDescriber. */
function describeStorageClass(sc: Obj): string {
  const params = Object.entries(o(sc.parameters)).map(([k, v]) => `${k}=${s(v)}`).join(',');
  let t = `Name:\t${sc.metadata?.name ?? ''}\nIsDefaultClass:\t${isDefaultClass(sc as unknown as StorageClass) ? 'Yes' : 'No'}\n`;
  t += mapLines('Annotations:', sc.metadata?.annotations, [LAST_APPLIED]);
  t += `Provisioner:\t${s(sc.provisioner, '')}\nParameters:\t${params || '<none>'}\n`;
  t += `AllowVolumeExpansion:\t${sc.allowVolumeExpansion === undefined ? '<unset>' : sc.allowVolumeExpansion === true ? 'True' : 'False'}\n`;
  t += `MountOptions:\t${Array.isArray(sc.mountOptions) && sc.mountOptions.length ? (sc.mountOptions as string[]).join(', ') : '<none>'}\n`;
  t += `ReclaimPolicy:\t${s(sc.reclaimPolicy, 'Delete')}\nVolumeBindingMode:\t${s(sc.volumeBindingMode, 'Immediate')}\n`;
  return t;
}
