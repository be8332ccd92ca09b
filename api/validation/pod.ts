// Pod spec rules (pkg/apis/core/validation ValidatePodSpec and friends), shared by Pods and pod templates.
// Inputs have passed the schema, but required members may still be missing (already reported there).
import type {
  Affinity, Container, ContainerPort, EnvVar, LifecycleHandler, NodeSelectorTerm, PodAffinityTerm, PodSpec,
  PodTemplateSpec, Probe, ResourceRequirements, Toleration, TopologySpreadConstraint, Volume, KeyToPath,
} from '../schemas/core.js';
import { VOLUME_SOURCES } from '../schemas/core.js';
import type { IntOrString } from '../schemas/kit.js';
import {
  child, deepEqual, duplicate, forbidden, index, invalid, key, notFound, notSupported, required, type Cause,
} from '../field.js';
import {
  inclusiveRangeError, isConfigMapKey, isDNS1123Label, isDNS1123Subdomain, isEnvVarName, isQualifiedName,
  isValidLabelValue, isValidPortName, isValidPortNum, validateAnnotations, validateLabels, validateQualifiedName,
} from '../names.js';
import { compareQuantities, isNegativeQuantity, QUANTITY_FORMAT_MESSAGE, validateQuantity } from '../quantity.js';
import { validateLabelSelector } from './meta.js';
import { validateClaimTemplate } from './claims.js';

const MAX_INT32 = 2147483647;

export function validatePodSpec(spec: PodSpec, path: string): Cause[] {
  const causes: Cause[] = [];
  const volumes = spec.volumes ?? [];
  const volumeNames = validateVolumes(volumes, child(path, 'volumes'), causes);
  const containerNames = new Set<string>();
  if (!spec.containers || spec.containers.length === 0) causes.push(required(child(path, 'containers')));
  (spec.initContainers ?? []).forEach((c, i) =>
    causes.push(...validateContainer(c, index(child(path, 'initContainers'), i), { init: true, names: containerNames, volumeNames, spec })),
  );
  (spec.containers ?? []).forEach((c, i) =>
    causes.push(...validateContainer(c, index(child(path, 'containers'), i), { init: false, names: containerNames, volumeNames, spec })),
  );
  causes.push(...checkHostPortConflicts(spec, path));

  if (spec.activeDeadlineSeconds !== undefined && (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > MAX_INT32)) {
    causes.push(invalid(child(path, 'activeDeadlineSeconds'), spec.activeDeadlineSeconds, inclusiveRangeError(1, MAX_INT32)));
  }
  if (spec.dnsPolicy === 'None' && !spec.dnsConfig) {
    causes.push(required(child(path, 'dnsConfig'), 'must provide `dnsConfig` when `dnsPolicy` is None'));
  }
  causes.push(...validateLabels(spec.nodeSelector, child(path, 'nodeSelector')));
  for (const field of ['serviceAccountName', 'nodeName', 'priorityClassName', 'schedulerName'] as const) {
    const v = spec[field];
    if (v) causes.push(...isDNS1123Subdomain(v).map((m) => invalid(child(path, field), v, m)));
  }
  for (const field of ['hostname', 'subdomain'] as const) {
    const v = spec[field];
    if (v) causes.push(...isDNS1123Label(v).map((m) => invalid(child(path, field), v, m)));
  }
  (spec.tolerations ?? []).forEach((t, i) => causes.push(...validateToleration(t, index(child(path, 'tolerations'), i))));
  if (spec.affinity) causes.push(...validateAffinity(spec.affinity, child(path, 'affinity')));
  causes.push(...validateTopologySpread(spec.topologySpreadConstraints ?? [], child(path, 'topologySpreadConstraints')));
  (spec.readinessGates ?? []).forEach((g, i) =>
    causes.push(...validateQualifiedName(g.conditionType, child(index(child(path, 'readinessGates'), i), 'conditionType'))),
  );
  causes.push(...validateResourceList(spec.overhead, child(path, 'overhead')));
  return causes;
}

/** A pod template: labels and annotations (no name), then the pod spec. */
export function validatePodTemplateSpec(t: PodTemplateSpec | undefined, path: string): Cause[] {
  if (!t) return [required(path)];
  const causes: Cause[] = [
    ...validateLabels(t.metadata?.labels, child(path, 'metadata', 'labels')),
    ...validateAnnotations(t.metadata?.annotations, child(path, 'metadata', 'annotations')),
  ];
  if (!t.spec) causes.push(required(child(path, 'spec')));
  else causes.push(...validatePodSpec(t.spec, child(path, 'spec')));
  return causes;
}

// ---- containers ----

interface ContainerContext {
  init: boolean;
  names: Set<string>;
  volumeNames: Set<string>;
  spec: PodSpec;
}

function validateContainer(c: Container, path: string, ctx: ContainerContext): Cause[] {
  const causes: Cause[] = [];
  if (c.name === undefined || c.name === '') {
    if (c.name === '') causes.push(required(child(path, 'name')));
  } else {
    causes.push(...isDNS1123Label(c.name).map((m) => invalid(child(path, 'name'), c.name, m)));
    if (ctx.names.has(c.name)) causes.push(duplicate(child(path, 'name'), c.name));
    ctx.names.add(c.name);
  }
  if (c.image === '') causes.push(required(child(path, 'image')));
  else if (c.image !== undefined && c.image.trim() !== c.image) {
    causes.push(invalid(child(path, 'image'), c.image, 'must not have leading or trailing whitespace'));
  }
  causes.push(...validatePorts(c.ports ?? [], child(path, 'ports'), ctx.spec.hostNetwork === true));
  (c.env ?? []).forEach((e, i) => causes.push(...validateEnvVar(e, index(child(path, 'env'), i))));
  (c.envFrom ?? []).forEach((e, i) => {
    const p = index(child(path, 'envFrom'), i);
    if (e.prefix) causes.push(...isEnvVarName(e.prefix).map((m) => invalid(child(p, 'prefix'), e.prefix, m)));
    const n = (e.configMapRef ? 1 : 0) + (e.secretRef ? 1 : 0);
    if (n === 0) causes.push(required(p, 'must specify one of: `configMapRef` or `secretRef`'));
    if (n > 1) causes.push(invalid(p, '', 'may not have more than one field specified at a time'));
    if (e.configMapRef && !e.configMapRef.name) causes.push(required(child(p, 'configMapRef', 'name')));
    if (e.secretRef && !e.secretRef.name) causes.push(required(child(p, 'secretRef', 'name')));
  });
  causes.push(...validateResources(c.resources, child(path, 'resources')));
  causes.push(...validateVolumeMounts(c, path, ctx.volumeNames));

  const sidecar = ctx.init && c.restartPolicy === 'Always';
  if (!ctx.init && c.restartPolicy !== undefined) causes.push(forbidden(child(path, 'restartPolicy'), 'may not be set for non-init containers'));
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const pr = c[probe];
    if (!pr) continue;
    if (ctx.init && !sidecar) {
      causes.push(forbidden(child(path, probe), 'may not be set for init containers without restartPolicy=Always'));
      continue;
    }
    causes.push(...validateHandler(pr, child(path, probe)));
    if (probe !== 'readinessProbe' && pr.successThreshold !== undefined && pr.successThreshold !== 1) {
      causes.push(invalid(child(path, probe, 'successThreshold'), pr.successThreshold, 'must be 1'));
    }
  }
  // A regular init container runs to completion: no lifecycle hooks (a sidecar may have them).
  if (ctx.init && !sidecar && c.lifecycle) causes.push(forbidden(child(path, 'lifecycle'), 'may not be set for init containers without restartPolicy=Always'));
  else if (c.lifecycle?.postStart) causes.push(...validateHandler(c.lifecycle.postStart, child(path, 'lifecycle', 'postStart')));
  if (c.lifecycle?.preStop && (!ctx.init || sidecar)) causes.push(...validateHandler(c.lifecycle.preStop, child(path, 'lifecycle', 'preStop')));
  if (c.stdinOnce && !c.stdin) causes.push(forbidden(child(path, 'stdinOnce'), 'may not be set when `stdin` is false'));
  return causes;
}

function validatePorts(ports: ContainerPort[], path: string, hostNetwork: boolean): Cause[] {
  const causes: Cause[] = [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const pp = index(path, i);
    if (p.name) {
      causes.push(...isValidPortName(p.name).map((m) => invalid(child(pp, 'name'), p.name, m)));
      if (names.has(p.name)) causes.push(duplicate(child(pp, 'name'), p.name));
      names.add(p.name);
    }
    if (p.containerPort === 0) causes.push(required(child(pp, 'containerPort')));
    else if (p.containerPort !== undefined) {
      causes.push(...isValidPortNum(p.containerPort).map((m) => invalid(child(pp, 'containerPort'), p.containerPort, m)));
    }
    if (p.hostPort !== undefined && p.hostPort !== 0) {
      causes.push(...isValidPortNum(p.hostPort).map((m) => invalid(child(pp, 'hostPort'), p.hostPort, m)));
      if (hostNetwork && p.hostPort !== p.containerPort) {
        causes.push(invalid(child(pp, 'hostPort'), p.hostPort, 'must match `containerPort` when `hostNetwork` is true'));
      }
    }
  });
  return causes;
}

function checkHostPortConflicts(spec: PodSpec, path: string): Cause[] {
  const causes: Cause[] = [];
  const seen = new Set<string>();
  for (const [field, list] of [['initContainers', spec.initContainers], ['containers', spec.containers]] as const) {
    (list ?? []).forEach((c, ci) =>
      (c.ports ?? []).forEach((p, pi) => {
        if (!p.hostPort) return;
        const k = `${p.hostIP ?? ''}/${p.hostPort}/${p.protocol ?? 'TCP'}`;
        if (seen.has(k)) causes.push(duplicate(child(index(child(index(child(path, field), ci), 'ports'), pi), 'hostPort'), `${p.hostPort}/${p.protocol ?? 'TCP'}`));
        seen.add(k);
      }),
    );
  }
  return causes;
}

const ENV_FIELD_PATHS = [
  'metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid',
  'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs',
];
const VOLUME_FIELD_PATHS = ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid'];
const RESOURCE_FIELDS = ['limits.cpu', 'limits.ephemeral-storage', 'limits.memory', 'requests.cpu', 'requests.ephemeral-storage', 'requests.memory'];

function validateFieldPath(fieldPath: string | undefined, supported: string[], path: string): Cause[] {
  if (!fieldPath) return [required(child(path, 'fieldPath'))];
  // metadata.labels['key'] and metadata.annotations['key'] select one entry
  const sub = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (sub) {
    const k = sub[2] ?? '';
    const msgs = sub[1] === 'labels' ? isQualifiedName(k) : isQualifiedName(k.toLowerCase());
    return msgs.map((m) => invalid(child(path, 'fieldPath'), k, m));
  }
  return supported.includes(fieldPath) ? [] : [notSupported(child(path, 'fieldPath'), fieldPath, supported)];
}

function validateEnvVar(e: EnvVar, path: string): Cause[] {
  const causes: Cause[] = [];
  if (e.name === '') causes.push(required(child(path, 'name')));
  else if (e.name !== undefined) causes.push(...isEnvVarName(e.name).map((m) => invalid(child(path, 'name'), e.name, m)));
  const from = e.valueFrom;
  if (!from) return causes;
  const p = child(path, 'valueFrom');
  const n = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((k) => from[k as keyof typeof from] !== undefined).length;
  if (n === 0) causes.push(required(p, 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
  if (n > 1) causes.push(invalid(p, '', 'may not have more than one field specified at a time'));
  if (e.value) causes.push(invalid(p, '', 'may not be specified when `value` is not empty'));
  if (from.fieldRef) causes.push(...validateFieldPath(from.fieldRef.fieldPath, ENV_FIELD_PATHS, child(p, 'fieldRef')));
  if (from.resourceFieldRef) causes.push(...validateResourceFieldRef(from.resourceFieldRef.resource, child(p, 'resourceFieldRef')));
  for (const ref of ['configMapKeyRef', 'secretKeyRef'] as const) {
    const r = from[ref];
    if (!r) continue;
    if (!r.name) causes.push(required(child(p, ref, 'name')));
    if (r.key === '') causes.push(required(child(p, ref, 'key')));
    else if (r.key !== undefined) causes.push(...isConfigMapKey(r.key).map((m) => invalid(child(p, ref, 'key'), r.key, m)));
  }
  return causes;
}

function validateResourceFieldRef(resource: string | undefined, path: string): Cause[] {
  if (!resource) return [required(child(path, 'resource'))];
  if (RESOURCE_FIELDS.includes(resource) || /^(limits|requests)\.hugepages-/.test(resource)) return [];
  return [notSupported(child(path, 'resource'), resource, RESOURCE_FIELDS)];
}

/** Quantities must parse and be non-negative; names are qualified names. */
export function validateResourceList(list: Record<string, string | number> | undefined, path: string): Cause[] {
  const causes: Cause[] = [];
  for (const [name, q] of Object.entries(list ?? {})) {
    const p = key(path, name);
    causes.push(...isQualifiedName(name).map((m) => invalid(p, name, m)));
    const bad = validateQuantity(q);
    if (bad.length) causes.push(invalid(p, q, QUANTITY_FORMAT_MESSAGE));
    else if (isNegativeQuantity(q)) causes.push(invalid(p, String(q), 'must be greater than or equal to 0'));
  }
  return causes;
}

function validateResources(r: ResourceRequirements | undefined, path: string): Cause[] {
  if (!r) return [];
  const causes = [...validateResourceList(r.limits, child(path, 'limits')), ...validateResourceList(r.requests, child(path, 'requests'))];
  if (causes.length) return causes;
  for (const [name, req] of Object.entries(r.requests ?? {})) {
    const limit = r.limits?.[name];
    if (limit !== undefined && compareQuantities(req, limit) > 0) {
      causes.push(invalid(key(child(path, 'requests'), name), String(req), `must be less than or equal to ${name} limit of ${String(limit)}`));
    }
  }
  return causes;
}

function validateVolumeMounts(c: Container, path: string, volumeNames: Set<string>): Cause[] {
  const causes: Cause[] = [];
  const mountPaths = new Set<string>();
  (c.volumeMounts ?? []).forEach((m, i) => {
    const p = index(child(path, 'volumeMounts'), i);
    if (m.name === '') causes.push(required(child(p, 'name')));
    else if (m.name !== undefined && !volumeNames.has(m.name)) causes.push(notFound(child(p, 'name'), m.name));
    if (m.mountPath === '') causes.push(required(child(p, 'mountPath')));
    else if (m.mountPath !== undefined) {
      if (mountPaths.has(m.mountPath)) causes.push(invalid(child(p, 'mountPath'), m.mountPath, 'must be unique'));
      mountPaths.add(m.mountPath);
    }
    if (m.subPath) causes.push(...validateLocalPath(m.subPath, child(p, 'subPath')));
    if (m.subPath && m.subPathExpr) causes.push(invalid(child(p, 'subPathExpr'), m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
  });
  return causes;
}

/** A relative path without '..' segments (subPath, items[].path). */
function validateLocalPath(p: string, path: string): Cause[] {
  if (p.startsWith('/')) return [invalid(path, p, 'must be a relative path')];
  if (p.split('/').includes('..')) return [invalid(path, p, "must not contain '..'")];
  return [];
}

/** Exactly one of exec, httpGet, tcpSocket, grpc (probes) or sleep (lifecycle). */
function validateHandler(h: Probe | LifecycleHandler, path: string): Cause[] {
  const causes: Cause[] = [];
  const present = (['exec', 'httpGet', 'tcpSocket', 'grpc', 'sleep'] as const).filter((k) => (h as Record<string, unknown>)[k] !== undefined);
  if (present.length === 0) causes.push(required(path, 'must specify a handler type'));
  for (const extra of present.slice(1)) causes.push(forbidden(child(path, extra), 'may not specify more than 1 handler type'));
  const hh = h as Probe & LifecycleHandler;
  if (hh.exec && (hh.exec.command ?? []).length === 0) causes.push(required(child(path, 'exec', 'command')));
  if (hh.httpGet) causes.push(...validatePortNumOrName(hh.httpGet.port, child(path, 'httpGet', 'port')));
  if (hh.tcpSocket) causes.push(...validatePortNumOrName(hh.tcpSocket.port, child(path, 'tcpSocket', 'port')));
  if (hh.grpc && hh.grpc.port !== undefined) causes.push(...isValidPortNum(hh.grpc.port).map((m) => invalid(child(path, 'grpc', 'port'), hh.grpc?.port, m)));
  if (hh.sleep && hh.sleep.seconds !== undefined && hh.sleep.seconds < 0) {
    causes.push(invalid(child(path, 'sleep', 'seconds'), hh.sleep.seconds, 'must be greater than or equal to 0'));
  }
  return causes;
}

export function validatePortNumOrName(port: IntOrString | undefined, path: string): Cause[] {
  if (port === undefined) return [];
  if (typeof port === 'number') return isValidPortNum(port).map((m) => invalid(path, port, m));
  if (port === '') return [required(path)];
  return isValidPortName(port).map((m) => invalid(path, port, m));
}

// ---- volumes ----

function validateVolumes(volumes: Volume[], path: string, causes: Cause[]): Set<string> {
  const names = new Set<string>();
  volumes.forEach((v, i) => {
    const p = index(path, i);
    if (v.name === '') causes.push(required(child(p, 'name')));
    else if (v.name !== undefined) {
      causes.push(...isDNS1123Label(v.name).map((m) => invalid(child(p, 'name'), v.name, m)));
      if (names.has(v.name)) causes.push(duplicate(child(p, 'name'), v.name));
      names.add(v.name);
    }
    const sources = VOLUME_SOURCES.filter((s) => v[s] !== undefined);
    if (sources.length === 0) causes.push(required(p, 'must specify a volume type'));
    for (const extra of sources.slice(1)) causes.push(forbidden(child(p, extra), 'may not specify more than 1 volume type'));
    causes.push(...validateVolumeSource(v, p));
  });
  return names;
}

function validateMode(mode: number | undefined, path: string): Cause[] {
  return mode !== undefined && (mode < 0 || mode > 0o777)
    ? [invalid(path, mode, 'must be a number between 0 and 0777 (octal), both inclusive')]
    : [];
}

function validateItems(items: KeyToPath[] | undefined, path: string): Cause[] {
  const causes: Cause[] = [];
  (items ?? []).forEach((it, i) => {
    const p = index(path, i);
    if (it.key === '') causes.push(required(child(p, 'key')));
    if (it.path === '') causes.push(required(child(p, 'path')));
    else if (it.path !== undefined) causes.push(...validateLocalPath(it.path, child(p, 'path')));
    causes.push(...validateMode(it.mode, child(p, 'mode')));
  });
  return causes;
}

function validateVolumeSource(v: Volume, p: string): Cause[] {
  const causes: Cause[] = [];
  if (v.hostPath && v.hostPath.path === '') causes.push(required(child(p, 'hostPath', 'path')));
  if (v.emptyDir?.sizeLimit !== undefined) causes.push(...validateResourceList({ sizeLimit: v.emptyDir.sizeLimit }, child(p, 'emptyDir')));
  if (v.configMap) {
    if (!v.configMap.name) causes.push(required(child(p, 'configMap', 'name')));
    causes.push(...validateItems(v.configMap.items, child(p, 'configMap', 'items')));
    causes.push(...validateMode(v.configMap.defaultMode, child(p, 'configMap', 'defaultMode')));
  }
  if (v.secret) {
    if (!v.secret.secretName) causes.push(required(child(p, 'secret', 'secretName')));
    causes.push(...validateItems(v.secret.items, child(p, 'secret', 'items')));
    causes.push(...validateMode(v.secret.defaultMode, child(p, 'secret', 'defaultMode')));
  }
  if (v.persistentVolumeClaim && v.persistentVolumeClaim.claimName === '') {
    causes.push(required(child(p, 'persistentVolumeClaim', 'claimName')));
  }
  if (v.ephemeral) {
    const t = v.ephemeral.volumeClaimTemplate;
    if (!t) causes.push(required(child(p, 'ephemeral', 'volumeClaimTemplate')));
    else causes.push(...validateClaimTemplate(t, child(p, 'ephemeral', 'volumeClaimTemplate')));
  }
  if (v.downwardAPI) {
    causes.push(...validateMode(v.downwardAPI.defaultMode, child(p, 'downwardAPI', 'defaultMode')));
    causes.push(...validateDownwardItems(v.downwardAPI.items ?? [], child(p, 'downwardAPI', 'items')));
  }
  if (v.projected) {
    const pp = child(p, 'projected');
    causes.push(...validateMode(v.projected.defaultMode, child(pp, 'defaultMode')));
    (v.projected.sources ?? []).forEach((s, i) => {
      const sp = index(child(pp, 'sources'), i);
      const kinds = (['serviceAccountToken', 'configMap', 'secret', 'downwardAPI'] as const).filter((k) => s[k] !== undefined);
      if (kinds.length === 0) causes.push(required(sp, 'must specify exactly 1 of: `secret`, `configMap`, `downwardAPI`, `serviceAccountToken`'));
      for (const extra of kinds.slice(1)) causes.push(forbidden(child(sp, extra), 'may not specify more than 1 volume type per source'));
      if (s.configMap) causes.push(...validateItems(s.configMap.items, child(sp, 'configMap', 'items')));
      if (s.secret) causes.push(...validateItems(s.secret.items, child(sp, 'secret', 'items')));
      if (s.downwardAPI) causes.push(...validateDownwardItems(s.downwardAPI.items ?? [], child(sp, 'downwardAPI', 'items')));
      const t = s.serviceAccountToken;
      if (t) {
        const tp = child(sp, 'serviceAccountToken');
        if (t.path === '') causes.push(required(child(tp, 'path')));
        else if (t.path !== undefined) causes.push(...validateLocalPath(t.path, child(tp, 'path')));
        if (t.expirationSeconds !== undefined && t.expirationSeconds < 600) {
          causes.push(invalid(child(tp, 'expirationSeconds'), t.expirationSeconds, 'may not specify a duration less than 10 minutes'));
        } else if (t.expirationSeconds !== undefined && t.expirationSeconds > 2 ** 32) {
          causes.push(invalid(child(tp, 'expirationSeconds'), t.expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
        }
      }
    });
  }
  return causes;
}

function validateDownwardItems(items: NonNullable<NonNullable<Volume['downwardAPI']>['items']>, path: string): Cause[] {
  const causes: Cause[] = [];
  items.forEach((it, i) => {
    const p = index(path, i);
    if (it.path === '') causes.push(required(child(p, 'path')));
    else if (it.path !== undefined) causes.push(...validateLocalPath(it.path, child(p, 'path')));
    causes.push(...validateMode(it.mode, child(p, 'mode')));
    if (it.fieldRef && it.resourceFieldRef) causes.push(invalid(p, 'resource', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
    else if (it.fieldRef) causes.push(...validateFieldPath(it.fieldRef.fieldPath, VOLUME_FIELD_PATHS, child(p, 'fieldRef')));
    else if (it.resourceFieldRef) causes.push(...validateResourceFieldRef(it.resourceFieldRef.resource, child(p, 'resourceFieldRef')));
    else causes.push(required(p, 'one of fieldRef and resourceFieldRef is required'));
  });
  return causes;
}

// ---- scheduling ----

export function validateToleration(t: Toleration, path: string): Cause[] {
  const causes: Cause[] = [];
  if (t.key) causes.push(...validateQualifiedName(t.key, child(path, 'key')));
  if (!t.key && t.operator !== 'Exists') {
    causes.push(invalid(child(path, 'operator'), t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
  }
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    causes.push(invalid(child(path, 'effect'), t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
  }
  if (t.operator === 'Exists' && t.value) {
    causes.push(invalid(child(path, 'operator'), t.value, 'value must be empty when `operator` is \'Exists\''));
  }
  if ((t.operator ?? 'Equal') === 'Equal' && t.value) {
    causes.push(...isValidLabelValue(t.value).map((m) => invalid(child(path, 'value'), t.value, m)));
  }
  return causes;
}

export function validateNodeSelectorTerm(term: NodeSelectorTerm, path: string): Cause[] {
  const causes: Cause[] = [];
  (term.matchExpressions ?? []).forEach((r, i) => {
    const p = index(child(path, 'matchExpressions'), i);
    const values = r.values ?? [];
    if (r.operator === 'In' || r.operator === 'NotIn') {
      if (values.length === 0) causes.push(required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (r.operator === 'Exists' || r.operator === 'DoesNotExist') {
      if (values.length > 0) causes.push(forbidden(child(p, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else if (r.operator === 'Gt' || r.operator === 'Lt') {
      if (values.length !== 1) causes.push(required(child(p, 'values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
      else if (!/^-?\d+$/.test(values[0] ?? '')) causes.push(invalid(index(child(p, 'values'), 0), values[0], 'must be an integer'));
    }
    if (r.key !== undefined) causes.push(...validateQualifiedName(r.key, child(p, 'key')));
  });
  (term.matchFields ?? []).forEach((r, i) => {
    const p = index(child(path, 'matchFields'), i);
    if (r.key !== 'metadata.name') causes.push(notSupported(child(p, 'key'), r.key, ['metadata.name']));
    if (r.operator !== 'In' && r.operator !== 'NotIn') causes.push(notSupported(child(p, 'operator'), r.operator, ['In', 'NotIn']));
    if ((r.values ?? []).length !== 1) causes.push(required(child(p, 'values'), 'must be only one value when `operator` is \'In\' or \'NotIn\' for node field selector'));
  });
  return causes;
}

function validatePodAffinityTerm(t: PodAffinityTerm, path: string): Cause[] {
  const causes = [...validateLabelSelector(t.labelSelector, child(path, 'labelSelector')), ...validateLabelSelector(t.namespaceSelector, child(path, 'namespaceSelector'))];
  (t.namespaces ?? []).forEach((ns) => causes.push(...isDNS1123Label(ns).map((m) => invalid(child(path, 'namespace'), ns, m))));
  if (!t.topologyKey) causes.push(required(child(path, 'topologyKey'), 'can not be empty'));
  else causes.push(...validateQualifiedName(t.topologyKey, child(path, 'topologyKey')));
  return causes;
}

const weightOk = (w: number | undefined, path: string): Cause[] =>
  w !== undefined && (w < 1 || w > 100) ? [invalid(path, w, 'must be in the range 1-100')] : [];

export function validateAffinity(a: Affinity, path: string): Cause[] {
  const causes: Cause[] = [];
  const na = a.nodeAffinity;
  if (na) {
    const np = child(path, 'nodeAffinity');
    const req = na.requiredDuringSchedulingIgnoredDuringExecution;
    if (req) {
      const rp = child(np, 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms');
      if ((req.nodeSelectorTerms ?? []).length === 0) causes.push(required(rp, 'must have at least one node selector term'));
      (req.nodeSelectorTerms ?? []).forEach((t, i) => causes.push(...validateNodeSelectorTerm(t, index(rp, i))));
    }
    (na.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => {
      const p = index(child(np, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      causes.push(...weightOk(t.weight, child(p, 'weight')));
      if (t.preference) causes.push(...validateNodeSelectorTerm(t.preference, child(p, 'preference')));
    });
  }
  for (const kind of ['podAffinity', 'podAntiAffinity'] as const) {
    const pa = a[kind];
    if (!pa) continue;
    const pp = child(path, kind);
    (pa.requiredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) =>
      causes.push(...validatePodAffinityTerm(t, index(child(pp, 'requiredDuringSchedulingIgnoredDuringExecution'), i))),
    );
    (pa.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => {
      const p = index(child(pp, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      causes.push(...weightOk(t.weight, child(p, 'weight')));
      if (t.podAffinityTerm) causes.push(...validatePodAffinityTerm(t.podAffinityTerm, child(p, 'podAffinityTerm')));
    });
  }
  return causes;
}

function validateTopologySpread(constraints: TopologySpreadConstraint[], path: string): Cause[] {
  const causes: Cause[] = [];
  const seen = new Set<string>();
  constraints.forEach((c, i) => {
    const p = index(path, i);
    if (c.maxSkew !== undefined && c.maxSkew <= 0) causes.push(invalid(child(p, 'maxSkew'), c.maxSkew, 'must be greater than zero'));
    if (!c.topologyKey) causes.push(required(child(p, 'topologyKey'), 'can not be empty'));
    else causes.push(...validateQualifiedName(c.topologyKey, child(p, 'topologyKey')));
    if (c.minDomains !== undefined) {
      if (c.minDomains <= 0) causes.push(invalid(child(p, 'minDomains'), c.minDomains, 'must be greater than 0'));
      else if (c.whenUnsatisfiable !== 'DoNotSchedule') {
        causes.push(invalid(child(p, 'minDomains'), c.minDomains, 'can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway'));
      }
    }
    const k = `${c.topologyKey}/${c.whenUnsatisfiable}`;
    if (seen.has(k)) causes.push(duplicate(child(p, '{topologyKey, whenUnsatisfiable}'), `${c.topologyKey}, ${c.whenUnsatisfiable}`));
    seen.add(k);
    causes.push(...validateLabelSelector(c.labelSelector, child(p, 'labelSelector')));
  });
  return causes;
}

// ---- updates ----

const POD_UPDATE_MESSAGE =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,' +
  '`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),' +
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** ValidatePodUpdate: the spec is immutable but for images, a shorter deadline, added tolerations, removed scheduling gates. */
export function validatePodSpecUpdate(next: PodSpec, old: PodSpec, path = 'spec'): Cause[] {
  const causes: Cause[] = [];
  const ads = child(path, 'activeDeadlineSeconds');
  if (next.activeDeadlineSeconds !== undefined) {
    if (old.activeDeadlineSeconds !== undefined && old.activeDeadlineSeconds < next.activeDeadlineSeconds) {
      causes.push(invalid(ads, next.activeDeadlineSeconds, 'must be less than or equal to previous value'));
    }
  } else if (old.activeDeadlineSeconds !== undefined) {
    causes.push(invalid(ads, null, 'must not update from a positive integer to nil value'));
  }
  const oldTolerations = old.tolerations ?? [];
  const newTolerations = next.tolerations ?? [];
  const tolerationsOk = oldTolerations.every((o) =>
    newTolerations.some((n) => deepEqual({ ...n, tolerationSeconds: undefined }, { ...o, tolerationSeconds: undefined }) &&
      (o.tolerationSeconds === undefined ? n.tolerationSeconds === undefined : n.tolerationSeconds !== undefined && n.tolerationSeconds <= o.tolerationSeconds)),
  );
  if (!tolerationsOk) causes.push(forbidden(child(path, 'tolerations'), 'existing toleration can not be modified except its tolerationSeconds'));

  // Copy the mutable fields from next onto old; whatever differs after that was an illegal change.
  const munged: PodSpec = structuredClone(old);
  const copyImages = (field: 'containers' | 'initContainers') => {
    const a = munged[field];
    const b = next[field];
    if (!a || !b || a.length !== b.length) return;
    a.forEach((c, i) => {
      const n = b[i];
      if (n) c.image = n.image;
    });
  };
  copyImages('containers');
  copyImages('initContainers');
  munged.activeDeadlineSeconds = next.activeDeadlineSeconds;
  munged.tolerations = next.tolerations; // checked above
  const gatesRemoved = (next.schedulingGates ?? []).every((g) => (old.schedulingGates ?? []).some((o) => o.name === g.name));
  if (gatesRemoved) munged.schedulingGates = next.schedulingGates;
  if (old.terminationGracePeriodSeconds !== undefined && old.terminationGracePeriodSeconds < 0 && next.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = 1;
  }
  if (!deepEqual(stripEmpty(munged), stripEmpty(next))) causes.push(forbidden(path, POD_UPDATE_MESSAGE));
  return causes;
}

/** Drops empty arrays so that `tolerations: []` and no tolerations compare equal. */
function stripEmpty(spec: PodSpec): PodSpec {
  const out = { ...spec } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (v === undefined || (Array.isArray(v) && v.length === 0)) delete out[k];
  return out as PodSpec;
}
