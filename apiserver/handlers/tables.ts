// meta.k8s.io/v1 Table output with kubectl's columns per kind (Accept: application/json;as=Table;g=meta.k8s.io;v=v1).
import { formatLabels } from '../../api/selectors.js';
import { hpaToV2, type HorizontalPodAutoscaler, type HorizontalPodAutoscalerV1, type MetricSpec, type MetricStatus } from '../../api/index.js';
import { age as ageAt, humanDuration } from '../../lib/duration.js';
import { getPath, isObject, type JsonObject, type Obj } from '../registry/object.js';
import { selectorCell } from '../registry/selectors.js';
import { accessModesString as accessModes, ANN_BETA_DEFAULT_STORAGE_CLASS, ANN_BETA_STORAGE_CLASS, ANN_DEFAULT_STORAGE_CLASS } from '../../api/storage.js';
import type { TablePrinter } from '../registry/rest.js';

export interface Column {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description?: string;
  priority?: number;
}

type Cell = string | number | boolean;

type Printer = TablePrinter;

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const age = (ts: unknown, now: Date): string => ageAt(ts, now.getTime());

const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});
const arr = (v: unknown): JsonObject[] => (Array.isArray(v) ? v.filter(isObject) : []);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const orNone = (v: unknown): string => (v === undefined || v === null || v === '' ? '<none>' : String(v));

const nameCol: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.' };
const ageCol: Column = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };
const wide = (name: string): Column => ({ name, type: 'string', priority: 1 });
const col = (name: string, type: Column['type'] = 'string'): Column => ({ name, type });

function containersAndImages(podSpec: unknown): [string, string] {
  const cs = arr(obj(podSpec).containers);
  return [cs.map((c) => String(c.name ?? '')).join(','), cs.map((c) => String(c.image ?? '')).join(',')];
}

/** A volume's or claim's class: the beta annotation wins over spec.storageClassName. */
function storageClassOf(o: Obj): string {
  return String(o.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] ?? obj(o.spec).storageClassName ?? '');
}

/** A container status's last termination time, if it has restarted (ms since the epoch). */
const lastTerminated = (c: JsonObject): number => {
  const t = obj(obj(c.lastState).terminated).finishedAt;
  return typeof t === 'string' ? Date.parse(t) || 0 : 0;
};

/** A terminated state's reason as kube prints it: its reason, else Signal:N or ExitCode:N. */
const terminatedReason = (term: JsonObject): string =>
  term.reason ? String(term.reason) : term.signal ? `Signal:${String(term.signal)}` : `ExitCode:${String(term.exitCode)}`;

/**
 * READY, STATUS and RESTARTS of `kubectl get pods`, as kube's printPod: sidecars (restartable init containers) count
 * among the containers and their restarts, the first init container not done gives Init:..., and RESTARTS shows
 * how long ago the last restart was.
 */
export function podSummary(pod: Obj, now: Date): { ready: string; status: string; restarts: string } {
  const spec = obj(pod.spec);
  const status = obj(pod.status);
  const inits = arr(spec.initContainers);
  const sidecars = new Set(inits.filter((c) => c.restartPolicy === 'Always').map((c) => String(c.name)));
  const total = arr(spec.containers).length + sidecars.size;
  let reason = String(status.reason ?? status.phase ?? 'Pending');
  let ready = 0;
  let restarts = 0;
  let lastRestart = 0;
  let sidecarRestarts = 0;
  let lastSidecarRestart = 0;
  let initializing = false;
  for (const [i, c] of arr(status.initContainerStatuses).entries()) {
    restarts += num(c.restartCount);
    lastRestart = Math.max(lastRestart, lastTerminated(c));
    const sidecar = sidecars.has(String(c.name));
    if (sidecar) {
      sidecarRestarts += num(c.restartCount);
      lastSidecarRestart = Math.max(lastSidecarRestart, lastTerminated(c));
    }
    const state = obj(c.state);
    const term = obj(state.terminated);
    const wait = obj(state.waiting);
    if (isObject(state.terminated) && term.exitCode === 0) continue;
    if (sidecar && c.started === true) {
      if (c.ready === true) ready++;
      continue;
    }
    if (isObject(state.terminated)) reason = `Init:${terminatedReason(term)}`;
    else if (isObject(state.waiting) && wait.reason && wait.reason !== 'PodInitializing') reason = `Init:${String(wait.reason)}`;
    else reason = `Init:${i}/${inits.length}`;
    initializing = true;
    break;
  }
  const initialized = arr(status.conditions).some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    for (const c of [...arr(status.containerStatuses)].reverse()) {
      restarts += num(c.restartCount);
      lastRestart = Math.max(lastRestart, lastTerminated(c));
      const state = obj(c.state);
      const wait = obj(state.waiting);
      const term = obj(state.terminated);
      if (isObject(state.waiting) && wait.reason) reason = String(wait.reason);
      else if (isObject(state.terminated)) reason = terminatedReason(term);
      else if (isObject(state.running) && c.ready === true) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const podReady = arr(status.conditions).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = podReady ? 'Running' : 'NotReady';
    }
  }
  const terminal = status.phase === 'Succeeded' || status.phase === 'Failed';
  if (pod.metadata.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && !terminal) reason = 'Terminating';
  const restartsCell = restarts !== 0 && lastRestart > 0 ? `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)` : String(restarts);
  return { ready: `${ready}/${total}`, status: reason, restarts: restartsCell };
}

/** kube's printRole: the creation time as stored (RFC 3339, UTC), in a string column. */
const rolePrinter: Printer = {
  columns: [nameCol, { name: 'Created At', type: 'string', description: ageCol.description ?? '' }],
  row: (o) => [o.metadata.name ?? '', String(o.metadata.creationTimestamp ?? '')],
};

/** kube's printRoleBinding: ROLE is kind/name; the wide columns list subjects by kind (service accounts as ns/name). */
const bindingPrinter: Printer = {
  columns: [nameCol, col('Role'), ageCol, wide('Users'), wide('Groups'), wide('ServiceAccounts')],
  row(o, now) {
    const ref = obj(o.roleRef);
    const subjects = arr(o.subjects);
    const names = (kind: string): string => subjects.filter((s) => s.kind === kind).map((s) => (kind === 'ServiceAccount' ? `${String(s.namespace ?? '')}/${String(s.name ?? '')}` : String(s.name ?? ''))).join(', ');
    return [o.metadata.name ?? '', `${String(ref.kind ?? '')}/${String(ref.name ?? '')}`, age(o.metadata.creationTimestamp, now), names('User'), names('Group'), names('ServiceAccount')];
  },
};

/** DESIRED CURRENT READY of a ReplicaSet or ReplicationController; they differ only in how the selector prints. */
function replicasPrinter(selector: (sel: unknown) => string): Printer {
  return {
    columns: [nameCol, col('Desired', 'integer'), col('Current', 'integer'), col('Ready', 'integer'), ageCol, wide('Containers'), wide('Images'), wide('Selector')],
    row(o, now) {
      const spec = obj(o.spec);
      const st = obj(o.status);
      const [c, i] = containersAndImages(obj(spec.template).spec);
      return [o.metadata.name ?? '', num(spec.replicas), num(st.replicas), num(st.readyReplicas), age(o.metadata.creationTimestamp, now), c, i, selector(spec.selector)];
    },
  };
}

/** kubectl's listWithMoreString: the first three, then "+ N more..."; "<unset>" when empty. */
function listWithMore(items: string[], max = 3): string {
  if (items.length > max) return `${items.slice(0, max).join(',')} + ${items.length - max} more...`;
  return items.length ? items.join(',') : '<unset>';
}

/** A quantity as given, or a placeholder (kube prints Quantity.String()). */
const q = (v: unknown, none = '<unknown>'): string => (v === undefined || v === null ? none : String(v));

/** One metric of the TARGETS column: current/target, as kube's formatHPAMetrics. */
function hpaMetric(spec: MetricSpec, status: MetricStatus | undefined): string {
  const avg = (target: unknown, current: unknown): string => `${q(current)}/${q(target)} (avg)`;
  switch (spec.type) {
    case 'External': {
      const t = spec.external?.target;
      return t?.averageValue !== undefined ? avg(t.averageValue, status?.external?.current.averageValue) : `${q(status?.external?.current.value)}/${q(t?.value)}`;
    }
    case 'Pods':
      return `${q(status?.pods?.current.averageValue)}/${q(spec.pods?.target.averageValue)}`;
    case 'Object': {
      const t = spec.object?.target;
      return t?.averageValue !== undefined ? avg(t.averageValue, status?.object?.current.averageValue) : `${q(status?.object?.current.value)}/${q(t?.value)}`;
    }
    case 'Resource':
    case 'ContainerResource': {
      const src = spec.type === 'Resource' ? spec.resource : spec.containerResource;
      const cur = spec.type === 'Resource' ? status?.resource?.current : status?.containerResource?.current;
      const prefix = spec.type === 'Resource' ? `${src?.name ?? ''}: ` : '';
      if (src?.target.averageValue !== undefined) return `${prefix}${q(cur?.averageValue)}/${q(src.target.averageValue)}`;
      const current = cur?.averageUtilization !== undefined ? `${cur.averageUtilization}%` : '<unknown>';
      const target = src?.target.averageUtilization !== undefined ? `${src.target.averageUtilization}%` : '<auto>';
      return `${prefix}${current}/${target}`;
    }
    default:
      return '<unknown type>';
  }
}

/** The TARGETS column: the first two metrics, then "+ N more..." (kube's formatHPAMetrics). */
function hpaTargets(hpa: HorizontalPodAutoscaler): string {
  const specs = hpa.spec?.metrics ?? [];
  if (!specs.length) return '<none>';
  const statuses = hpa.status?.currentMetrics ?? [];
  const list = specs.map((m, i) => hpaMetric(m, statuses[i]));
  return list.length > 2 ? `${list.slice(0, 2).join(', ')} + ${list.length - 2} more...` : list.join(', ');
}

/** An IntOrString as Go's String(), or N/A when unset (kube's printPodDisruptionBudget). */
const orNA = (v: unknown): string => (v === undefined || v === null ? 'N/A' : String(v));

const webhooksPrinter: Printer = {
  columns: [nameCol, col('Webhooks', 'integer'), ageCol],
  row: (o, now) => [o.metadata.name ?? '', arr(o.webhooks).length, age(o.metadata.creationTimestamp, now)],
};

/** kube-aggregator's APIService columns: SERVICE ("Local" or namespace/name), AVAILABLE ("True", "False (Reason)"). */
function apiServiceRow(o: Obj, now: Date): Cell[] {
  const svc = obj(obj(o.spec).service);
  const c = arr(obj(o.status).conditions).find((x) => x.type === 'Available');
  const available = !c ? 'Unknown' : c.status === 'True' ? 'True' : `${String(c.status)} (${String(c.reason ?? '')})`;
  return [o.metadata.name ?? '', svc.name ? `${String(svc.namespace ?? '')}/${String(svc.name)}` : 'Local', available, age(o.metadata.creationTimestamp, now)];
}

const PRINTERS: Record<string, Printer> = {
  MutatingWebhookConfiguration: webhooksPrinter,
  ValidatingWebhookConfiguration: webhooksPrinter,
  ValidatingAdmissionPolicy: {
    columns: [nameCol, col('Validations', 'integer'), col('ParamKind'), ageCol],
    row(o, now) {
      const spec = obj(o.spec);
      const pk = obj(spec.paramKind);
      return [o.metadata.name ?? '', arr(spec.validations).length, pk.kind ? `${String(pk.apiVersion ?? '')}/${String(pk.kind)}` : '<unset>', age(o.metadata.creationTimestamp, now)];
    },
  },
  ValidatingAdmissionPolicyBinding: {
    columns: [nameCol, col('PolicyName'), col('ParamRef'), ageCol],
    row(o, now) {
      const spec = obj(o.spec);
      const ref = obj(spec.paramRef);
      return [o.metadata.name ?? '', String(spec.policyName ?? ''), ref.name ? `${String(ref.namespace ?? '')}/${String(ref.name)}` : '<unset>', age(o.metadata.creationTimestamp, now)];
    },
  },
  APIService: { columns: [nameCol, col('Service'), col('Available'), ageCol], row: apiServiceRow },
  HorizontalPodAutoscaler: {
    columns: [nameCol, col('Reference'), col('Targets'), col('MinPods'), col('MaxPods'), col('Replicas'), ageCol],
    row(o, now) {
      // Printed from the stored version whatever version was asked for, as kube prints its internal one.
      const hpa = (o.apiVersion === 'autoscaling/v1' ? hpaToV2(o as unknown as HorizontalPodAutoscalerV1) : o) as unknown as HorizontalPodAutoscaler;
      const ref = hpa.spec?.scaleTargetRef;
      const min = hpa.spec?.minReplicas;
      return [o.metadata.name ?? '', `${ref?.kind ?? ''}/${ref?.name ?? ''}`, hpaTargets(hpa), min === undefined ? '<unset>' : String(min), num(hpa.spec?.maxReplicas), num(hpa.status?.currentReplicas), age(o.metadata.creationTimestamp, now)];
    },
  },
  PodDisruptionBudget: {
    columns: [
      nameCol,
      { name: 'Min Available', type: 'string', description: 'The minimum number of pods that must be available.' },
      { name: 'Max Unavailable', type: 'string', description: 'The maximum number of pods that may be unavailable.' },
      { name: 'Allowed Disruptions', type: 'integer', description: 'Calculated number of pods that may be disrupted at this time.' },
      ageCol,
    ],
    row(o, now) {
      const spec = obj(o.spec);
      return [o.metadata.name ?? '', orNA(spec.minAvailable), orNA(spec.maxUnavailable), num(obj(o.status).disruptionsAllowed), age(o.metadata.creationTimestamp, now)];
    },
  },
  Pod: {
    columns: [nameCol, col('Ready'), col('Status'), col('Restarts'), ageCol, wide('IP'), wide('Node'), wide('Nominated Node'), wide('Readiness Gates')],
    row(o, now) {
      const spec = obj(o.spec);
      const status = obj(o.status);
      const gates = arr(spec.readinessGates);
      const conds = arr(status.conditions);
      const gatesCell = gates.length
        ? `${gates.filter((g) => conds.some((c) => c.type === g.conditionType && c.status === 'True')).length}/${gates.length}`
        : '<none>';
      const sum = podSummary(o, now);
      return [o.metadata.name ?? '', sum.ready, sum.status, sum.restarts, age(o.metadata.creationTimestamp, now), orNone(status.podIP), orNone(spec.nodeName), orNone(status.nominatedNodeName), gatesCell];
    },
  },
  Deployment: {
    columns: [nameCol, col('Ready'), col('Up-to-date', 'integer'), col('Available', 'integer'), ageCol, wide('Containers'), wide('Images'), wide('Selector')],
    row(o, now) {
      const spec = obj(o.spec);
      const st = obj(o.status);
      const [c, i] = containersAndImages(obj(spec.template).spec);
      return [o.metadata.name ?? '', `${num(st.readyReplicas)}/${num(spec.replicas)}`, num(st.updatedReplicas), num(st.availableReplicas), age(o.metadata.creationTimestamp, now), c, i, selectorCell(spec.selector)];
    },
  },
  ReplicaSet: replicasPrinter(selectorCell),
  // A ReplicationController's selector is a plain label map (labels.FormatLabels: sorted key=value pairs).
  ReplicationController: replicasPrinter((sel) => orNone(formatLabels(obj(sel) as Record<string, string>))),
  ControllerRevision: {
    columns: [nameCol, { name: 'Controller', type: 'string', description: 'Controller of the object' }, col('Revision'), ageCol],
    row(o, now) {
      const ref = arr(o.metadata.ownerReferences).find((r) => r.controller === true);
      // kubectl's formatResourceName: "<kind>.<group>/<name>" in lower case, the group left out for the core group.
      const group = String(ref?.apiVersion ?? '').split('/').slice(0, -1).join('/');
      const controller = ref ? `${String(ref.kind ?? '').toLowerCase()}${group ? `.${group}` : ''}/${String(ref.name ?? '')}` : '<none>';
      return [o.metadata.name ?? '', controller, num(o.revision), age(o.metadata.creationTimestamp, now)];
    },
  },
  StatefulSet: {
    columns: [nameCol, col('Ready'), ageCol, wide('Containers'), wide('Images')],
    row(o, now) {
      const spec = obj(o.spec);
      const st = obj(o.status);
      const [c, i] = containersAndImages(obj(spec.template).spec);
      return [o.metadata.name ?? '', `${num(st.readyReplicas)}/${num(spec.replicas)}`, age(o.metadata.creationTimestamp, now), c, i];
    },
  },
  DaemonSet: {
    columns: [
      nameCol,
      col('Desired', 'integer'),
      col('Current', 'integer'),
      col('Ready', 'integer'),
      col('Up-to-date', 'integer'),
      col('Available', 'integer'),
      col('Node Selector'),
      ageCol,
      wide('Containers'),
      wide('Images'),
      wide('Selector'),
    ],
    row(o, now) {
      const spec = obj(o.spec);
      const st = obj(o.status);
      const podSpec = obj(obj(spec.template).spec);
      const [c, i] = containersAndImages(podSpec);
      const ns = Object.entries(obj(podSpec.nodeSelector)).map(([k, v]) => `${k}=${String(v)}`).join(',');
      return [
        o.metadata.name ?? '',
        num(st.desiredNumberScheduled),
        num(st.currentNumberScheduled),
        num(st.numberReady),
        num(st.updatedNumberScheduled),
        num(st.numberAvailable),
        orNone(ns),
        age(o.metadata.creationTimestamp, now),
        c,
        i,
        selectorCell(spec.selector),
      ];
    },
  },
  Job: {
    columns: [nameCol, col('Status'), col('Completions'), col('Duration'), ageCol, wide('Containers'), wide('Images'), wide('Selector')],
    row(o, now) {
      const spec = obj(o.spec);
      const st = obj(o.status);
      const conds = arr(st.conditions);
      const has = (t: string): boolean => conds.some((c) => c.type === t && c.status === 'True');
      const status = has('Complete') ? 'Complete' : has('Failed') ? 'Failed' : spec.suspend === true ? 'Suspended' : has('FailureTarget') ? 'FailureTarget' : has('SuccessCriteriaMet') ? 'SuccessCriteriaMet' : 'Running';
      const completions = spec.completions === undefined ? `${num(st.succeeded)}/1 of ${num(spec.parallelism) || 1}` : `${num(st.succeeded)}/${num(spec.completions)}`;
      const start = typeof st.startTime === 'string' ? Date.parse(st.startTime) : NaN;
      const end = typeof st.completionTime === 'string' ? Date.parse(st.completionTime) : now.getTime();
      const [c, i] = containersAndImages(obj(spec.template).spec);
      return [o.metadata.name ?? '', status, completions, Number.isNaN(start) ? '' : humanDuration(end - start), age(o.metadata.creationTimestamp, now), c, i, selectorCell(spec.selector)];
    },
  },
  CronJob: {
    // kube's cronJobColumnDefinitions; Suspend is printBoolPtr's text ("<unset>" when nil).
    columns: [nameCol, col('Schedule'), col('Timezone'), col('Suspend', 'boolean'), col('Active', 'integer'), col('Last Schedule'), ageCol, wide('Containers'), wide('Images'), wide('Selector')],
    row(o, now) {
      const spec = obj(o.spec);
      const st = obj(o.status);
      const jobSpec = obj(obj(spec.jobTemplate).spec);
      const [c, i] = containersAndImages(obj(jobSpec.template).spec);
      const suspend = typeof spec.suspend === 'boolean' ? (spec.suspend ? 'True' : 'False') : '<unset>';
      const last = st.lastScheduleTime === undefined ? '<none>' : age(st.lastScheduleTime, now);
      return [o.metadata.name ?? '', String(spec.schedule ?? ''), orNone(spec.timeZone), suspend, arr(st.active).length, last, age(o.metadata.creationTimestamp, now), c, i, selectorCell(jobSpec.selector)];
    },
  },
  Service: {
    columns: [nameCol, col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), ageCol, wide('Selector')],
    row(o, now) {
      const spec = obj(o.spec);
      const type = String(spec.type ?? 'ClusterIP');
      const lb = arr(obj(obj(o.status).loadBalancer).ingress).map((x) => String(x.ip ?? x.hostname ?? ''));
      const ext = [...(Array.isArray(spec.externalIPs) ? spec.externalIPs.map(String) : []), ...lb];
      const external = type === 'ExternalName' ? String(spec.externalName ?? '') : ext.length ? ext.join(',') : type === 'LoadBalancer' ? '<pending>' : '<none>';
      const ports = arr(spec.ports)
        .map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${String(p.protocol ?? 'TCP')}`)
        .join(',');
      const sel = Object.entries(obj(spec.selector)).map(([k, v]) => `${k}=${String(v)}`).join(',');
      return [o.metadata.name ?? '', type, orNone(spec.clusterIP), external, orNone(ports), age(o.metadata.creationTimestamp, now), orNone(sel)];
    },
  },
  Node: {
    columns: [nameCol, col('Status'), col('Roles'), ageCol, col('Version'), wide('Internal-IP'), wide('External-IP'), wide('OS-Image'), wide('Kernel-Version'), wide('Container-Runtime')],
    row(o, now) {
      const st = obj(o.status);
      const ready = arr(st.conditions).find((c) => c.type === 'Ready');
      const states = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
      if (obj(o.spec).unschedulable === true) states.push('SchedulingDisabled');
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length))
        .filter(Boolean);
      const addr = (t: string): string => orNone(arr(st.addresses).find((a) => a.type === t)?.address);
      const info = obj(st.nodeInfo);
      return [o.metadata.name ?? '', states.join(','), roles.length ? roles.sort().join(',') : '<none>', age(o.metadata.creationTimestamp, now), String(info.kubeletVersion ?? ''), addr('InternalIP'), addr('ExternalIP'), orNone(info.osImage), orNone(info.kernelVersion), orNone(info.containerRuntimeVersion)];
    },
  },
  Namespace: {
    columns: [nameCol, col('Status'), ageCol],
    row: (o, now) => [o.metadata.name ?? '', String(obj(o.status).phase ?? ''), age(o.metadata.creationTimestamp, now)],
  },
  PersistentVolume: {
    columns: [nameCol, col('Capacity'), col('Access Modes'), col('Reclaim Policy'), col('Status'), col('Claim'), col('StorageClass'), col('VolumeAttributesClass'), col('Reason'), ageCol, wide('VolumeMode')],
    row(o, now) {
      const spec = obj(o.spec);
      const ref = isObject(spec.claimRef) ? `${String(spec.claimRef.namespace ?? '')}/${String(spec.claimRef.name ?? '')}` : '';
      const phase = o.metadata.deletionTimestamp ? 'Terminating' : String(obj(o.status).phase ?? '');
      return [
        o.metadata.name ?? '',
        String(obj(spec.capacity).storage ?? '0'),
        accessModes(Array.isArray(spec.accessModes) ? spec.accessModes : []),
        String(spec.persistentVolumeReclaimPolicy ?? ''),
        phase,
        ref,
        storageClassOf(o),
        String(spec.volumeAttributesClassName ?? '<unset>'),
        String(obj(o.status).reason ?? ''),
        age(o.metadata.creationTimestamp, now),
        String(spec.volumeMode ?? '<unset>'),
      ];
    },
  },
  PersistentVolumeClaim: {
    columns: [nameCol, col('Status'), col('Volume'), col('Capacity'), col('Access Modes'), col('StorageClass'), col('VolumeAttributesClass'), ageCol, wide('VolumeMode')],
    row(o, now) {
      const spec = obj(o.spec);
      const st = obj(o.status);
      const bound = typeof spec.volumeName === 'string' && spec.volumeName !== '';
      return [
        o.metadata.name ?? '',
        o.metadata.deletionTimestamp ? 'Terminating' : String(st.phase ?? ''),
        String(spec.volumeName ?? ''),
        bound ? String(obj(st.capacity).storage ?? '0') : '',
        bound ? accessModes(Array.isArray(st.accessModes) ? st.accessModes : []) : '',
        storageClassOf(o),
        String(spec.volumeAttributesClassName ?? '<unset>'),
        age(o.metadata.creationTimestamp, now),
        String(spec.volumeMode ?? '<unset>'),
      ];
    },
  },
  StorageClass: {
    columns: [nameCol, col('Provisioner'), col('ReclaimPolicy'), col('VolumeBindingMode'), col('AllowVolumeExpansion'), ageCol],
    row(o, now) {
      const ann = o.metadata.annotations ?? {};
      const dflt = ann[ANN_DEFAULT_STORAGE_CLASS] === 'true' || ann[ANN_BETA_DEFAULT_STORAGE_CLASS] === 'true';
      return [
        `${o.metadata.name ?? ''}${dflt ? ' (default)' : ''}`,
        String(o.provisioner ?? ''),
        String(o.reclaimPolicy ?? 'Delete'),
        String(o.volumeBindingMode ?? 'Immediate'),
        o.allowVolumeExpansion === true,
        age(o.metadata.creationTimestamp, now),
      ];
    },
  },
  CSIDriver: {
    columns: [nameCol, col('AttachRequired', 'boolean'), col('PodInfoOnMount', 'boolean'), col('StorageCapacity', 'boolean'), col('TokenRequests'), col('RequiresRepublish', 'boolean'), col('Modes'), ageCol],
    row(o, now) {
      const spec = obj(o.spec);
      const modes = Array.isArray(spec.volumeLifecycleModes) ? spec.volumeLifecycleModes.map(String).join(',') : '';
      const tokens = Array.isArray(spec.tokenRequests) ? arr(spec.tokenRequests).map((t) => String(t.audience ?? '')).join(',') : '<unset>';
      return [o.metadata.name ?? '', spec.attachRequired === true, spec.podInfoOnMount === true, spec.storageCapacity === true, tokens, spec.requiresRepublish === true, modes || '<none>', age(o.metadata.creationTimestamp, now)];
    },
  },
  CSINode: {
    columns: [nameCol, col('Drivers', 'integer'), ageCol],
    row: (o, now) => [o.metadata.name ?? '', arr(obj(o.spec).drivers).length, age(o.metadata.creationTimestamp, now)],
  },
  Event: {
    // kube's eventColumnDefinitions order; the wide columns sit between the others (kubectl get events -o wide).
    columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), wide('Subobject'), wide('Source'), col('Message'), wide('First Seen'), wide('Count'), { ...nameCol, priority: 1 }],
    row(o, now) {
      const io = obj(o.involvedObject);
      const last = o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp;
      const first = o.firstTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp;
      const src = obj(o.source);
      const source = src.component ? `${String(src.component)}${src.host ? `, ${String(src.host)}` : ''}` : String(o.reportingComponent ?? '');
      return [age(last, now), String(o.type ?? ''), String(o.reason ?? ''), `${String(io.kind ?? '').toLowerCase()}/${String(io.name ?? '')}`, String(io.fieldPath ?? ''), source, String(o.message ?? '').trim(), age(first, now), num(o.count) || 1, o.metadata.name ?? ''];
    },
  },
  ConfigMap: {
    columns: [nameCol, col('Data', 'integer'), ageCol],
    row: (o, now) => [o.metadata.name ?? '', Object.keys(obj(o.data)).length + Object.keys(obj(o.binaryData)).length, age(o.metadata.creationTimestamp, now)],
  },
  Secret: {
    columns: [nameCol, col('Type'), col('Data', 'integer'), ageCol],
    row: (o, now) => [o.metadata.name ?? '', String(o.type ?? 'Opaque'), Object.keys(obj(o.data)).length, age(o.metadata.creationTimestamp, now)],
  },
  ServiceAccount: {
    columns: [nameCol, col('Secrets', 'integer'), ageCol],
    row: (o, now) => [o.metadata.name ?? '', arr(o.secrets).length, age(o.metadata.creationTimestamp, now)],
  },
  Endpoints: {
    columns: [nameCol, col('Endpoints'), ageCol],
    row(o, now) {
      const eps: string[] = [];
      for (const s of arr(o.subsets)) for (const a of arr(s.addresses)) for (const p of arr(s.ports).length ? arr(s.ports) : [{}]) eps.push(p.port ? `${String(a.ip)}:${String(p.port)}` : String(a.ip));
      const shown = eps.length > 3 ? `${eps.slice(0, 3).join(',')} + ${eps.length - 3} more...` : eps.join(',');
      return [o.metadata.name ?? '', orNone(shown), age(o.metadata.creationTimestamp, now)];
    },
  },
  EndpointSlice: {
    // kubectl's endpointSliceColumnDefinitions: at most three ports and three addresses, then "+ N more...".
    columns: [nameCol, col('AddressType'), col('Ports'), col('Endpoints'), ageCol],
    row(o, now) {
      const ports = arr(o.ports).map((p) => (p.port !== undefined ? String(p.port) : p.name !== undefined ? String(p.name) : '*'));
      const addrs = arr(o.endpoints).flatMap((e) => (Array.isArray(e.addresses) ? e.addresses.map(String) : []));
      return [o.metadata.name ?? '', String(o.addressType ?? ''), listWithMore(ports), listWithMore(addrs), age(o.metadata.creationTimestamp, now)];
    },
  },
  Lease: {
    columns: [nameCol, col('Holder'), ageCol],
    row: (o, now) => [o.metadata.name ?? '', String(getPath(o, 'spec.holderIdentity') ?? ''), age(o.metadata.creationTimestamp, now)],
  },
  PriorityClass: {
    columns: [nameCol, col('Value', 'integer'), col('Global-Default', 'boolean'), ageCol, col('PreemptionPolicy')],
    row: (o, now) => [o.metadata.name ?? '', num(o.value), o.globalDefault === true, age(o.metadata.creationTimestamp, now), String(o.preemptionPolicy ?? '')],
  },
  Role: rolePrinter,
  ClusterRole: rolePrinter,
  RoleBinding: bindingPrinter,
  ClusterRoleBinding: bindingPrinter,
  CertificateSigningRequest: {
    columns: [nameCol, ageCol, col('SignerName'), col('Requestor'), col('RequestedDuration'), col('Condition')],
    row(o, now) {
      const spec = obj(o.spec);
      const status = obj(o.status);
      const types = new Set(arr(status.conditions).map((c) => c.type));
      // kube's extractCSRStatus: Denied wins over Approved, else Pending; then Failed and Issued.
      let condition = types.has('Denied') ? 'Denied' : types.has('Approved') ? 'Approved' : 'Pending';
      if (types.has('Failed')) condition += ',Failed';
      if (status.certificate) condition += ',Issued';
      const secs = spec.expirationSeconds;
      return [o.metadata.name ?? '', age(o.metadata.creationTimestamp, now), orNone(spec.signerName), String(spec.username ?? ''), typeof secs === 'number' ? humanDuration(secs * 1000) : '<none>', condition];
    },
  },
};

const DEFAULT_PRINTER: Printer = {
  columns: [nameCol, { name: 'Created At', type: 'date', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' }],
  row: (o) => [o.metadata.name ?? '', String(o.metadata.creationTimestamp ?? '')],
};

function rowObject(o: Obj, include: IncludeObject, apiVersion: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  const { managedFields: _m, ...metadata } = o.metadata;
  return { kind: 'PartialObjectMetadata', apiVersion, metadata };
}

export function toTable(
  kind: string,
  items: Obj[],
  opts: { include: IncludeObject; now: Date; resourceVersion?: string; continue?: string; remainingItemCount?: number; withColumns?: boolean; printer?: TablePrinter | undefined; version?: 'v1' | 'v1beta1' },
): JsonObject {
  const p: TablePrinter = opts.printer ?? PRINTERS[kind] ?? DEFAULT_PRINTER;
  const apiVersion = `meta.k8s.io/${opts.version ?? 'v1'}`;
  return {
    kind: 'Table',
    apiVersion,
    metadata: {
      ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
      ...(opts.continue ? { continue: opts.continue } : {}),
      ...(opts.remainingItemCount !== undefined ? { remainingItemCount: opts.remainingItemCount } : {}),
    },
    columnDefinitions: opts.withColumns === false ? null : p.columns,
    rows: items.map((o) => {
      const object = rowObject(o, opts.include, apiVersion);
      return { cells: p.row(o, opts.now), ...(object !== undefined ? { object } : {}) };
    }),
  };
}
