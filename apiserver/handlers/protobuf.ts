// Decodes the Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown) that kubectl's typed clients send, for the
// kinds they send (Namespace, ConfigMap, Secret, Deployment, ServiceAccount, the RBAC kinds from `kubectl create` and
// `kubectl auth reconcile`; Job and CronJob from `kubectl create job|cronjob`; HorizontalPodAutoscaler from `kubectl autoscale`; DeleteOptions and Eviction from
// `kubectl drain`; TokenRequest from `kubectl create token`; the review kinds from `kubectl auth`), into JSON objects.
import { errors } from '../../api/errors.js';
import type { JsonObject } from '../registry/object.js';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Field = { no: number; wire: number; varint?: bigint; bytes?: Buffer };

function readVarint(buf: Buffer, pos: { i: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos.i >= buf.length) throw new Error('truncated varint');
    const b = buf[pos.i++] ?? 0;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result;
    shift += 7n;
    if (shift > 70n) throw new Error('varint too long');
  }
}

/** The fields of one message, in order (repeated fields appear several times). */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  const pos = { i: 0 };
  while (pos.i < buf.length) {
    const tag = Number(readVarint(buf, pos));
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, varint: readVarint(buf, pos) });
    else if (wire === 2) {
      const len = Number(readVarint(buf, pos));
      if (pos.i + len > buf.length) throw new Error('truncated field');
      out.push({ no, wire, bytes: buf.subarray(pos.i, pos.i + len) });
      pos.i += len;
    } else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      if (pos.i + len > buf.length) throw new Error('truncated field');
      out.push({ no, wire, bytes: buf.subarray(pos.i, pos.i + len) });
      pos.i += len;
    }
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const strOf = (f: Field): string => f.bytes?.toString('utf8') ?? '';
const intOf = (f: Field): number => Number(BigInt.asIntN(64, f.varint ?? 0n));

type Decoder = (buf: Buffer) => unknown;

/** A message decoder from a field table: number -> [json name, decoder, repeated?]. Unknown numbers are skipped. */
/** Go writes every optional field, empty or not: empty strings and zero numbers mean "unset" (except 'int0' fields). */
/** 'flag': a non-pointer bool, whose false Go always writes and JSON omits. */
type FieldKind = Decoder | 'string' | 'int' | 'int0' | 'bool' | 'flag' | 'bytes' | 'map' | 'bytesMap' | 'quantityMap';
type Table = Record<number, [string, FieldKind, boolean?]>;

/** A field Go wrote with its zero value: 0, empty bytes, or a message whose fields are all such (depth-bounded). */
function isZeroField(f: Field, depth = 0): boolean {
  if (f.wire === 0) return (f.varint ?? 0n) === 0n;
  if (f.wire !== 2) return false;
  if (!f.bytes?.length) return true;
  if (depth > 16) return false;
  try {
    return fields(f.bytes).every((x) => isZeroField(x, depth + 1));
  } catch {
    return false; // not a message: a non-empty string or bytes
  }
}

/** A field of a message this server decodes but does not model: refused, never dropped. */
export class UnsupportedProtobufField extends Error {}

/**
 * Like message(), but a field number missing from the table is refused unless Go wrote it empty: a Job's pod template
 * must not lose a field silently on the way in. `name` names the message in the refusal.
 */
function strictMessage(name: string, table: Table): Decoder {
  const lenient = message(table);
  return (buf) => {
    for (const f of fields(buf)) {
      if (!table[f.no] && !isZeroField(f)) throw new UnsupportedProtobufField(`${name} field ${f.no}`);
    }
    return lenient(buf);
  };
}

function message(table: Table): Decoder {
  return (buf) => {
    const out: JsonObject = {};
    for (const f of fields(buf)) {
      const spec = table[f.no];
      if (!spec) continue;
      const [name, kind, repeated] = spec;
      let value: unknown;
      if (kind === 'string') value = strOf(f);
      else if ((kind === 'int' || kind === 'int0') && f.wire === 2) {
        // A packed repeated integer field: all the values in one length-delimited run.
        const pos = { i: 0 };
        const arr = (out[name] ??= []) as unknown[];
        while (pos.i < (f.bytes?.length ?? 0)) arr.push(Number(BigInt.asIntN(64, readVarint(f.bytes!, pos))));
        continue;
      } else if (kind === 'int' || kind === 'int0') value = intOf(f);
      else if (kind === 'bool' || kind === 'flag') value = (f.varint ?? 0n) !== 0n;
      else if (kind === 'bytes') value = f.bytes?.toString('base64') ?? '';
      else if (kind === 'map' || kind === 'bytesMap' || kind === 'quantityMap') {
        const entry = fields(f.bytes ?? Buffer.alloc(0));
        const k = entry.find((e) => e.no === 1);
        const v = entry.find((e) => e.no === 2);
        const m = (out[name] ??= {}) as JsonObject;
        m[k ? strOf(k) : ''] = v ? (kind === 'bytesMap' ? (v.bytes?.toString('base64') ?? '') : kind === 'quantityMap' ? quantityOf(v.bytes) : strOf(v)) : '';
        continue;
      } else value = kind(f.bytes ?? Buffer.alloc(0));
      if (!repeated && (value === '' || (value === 0 && kind === 'int') || (value === false && kind === 'flag'))) continue;
      if (repeated) ((out[name] ??= []) as unknown[]).push(value);
      else out[name] = value;
    }
    return out;
  };
}

const objectMeta = message({
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  5: ['uid', 'string'],
  6: ['resourceVersion', 'string'],
  11: ['labels', 'map'],
  12: ['annotations', 'map'],
  14: ['finalizers', 'string', true],
});
const labelSelector = message({
  1: ['matchLabels', 'map'],
  2: ['matchExpressions', message({ 1: ['key', 'string'], 2: ['operator', 'string'], 3: ['values', 'string', true] }), true],
});
const containerPort = message({ 1: ['name', 'string'], 2: ['hostPort', 'int'], 3: ['containerPort', 'int'], 4: ['protocol', 'string'], 5: ['hostIP', 'string'] });
const envVar = message({ 1: ['name', 'string'], 2: ['value', 'string'] });
const container = message({
  1: ['name', 'string'],
  2: ['image', 'string'],
  3: ['command', 'string', true],
  4: ['args', 'string', true],
  5: ['workingDir', 'string'],
  6: ['ports', containerPort, true],
  7: ['env', envVar, true],
  8: ['resources', message({})],
  13: ['terminationMessagePath', 'string'],
  14: ['imagePullPolicy', 'string'],
});
const podSpec = message({ 2: ['containers', container, true], 3: ['restartPolicy', 'string'], 7: ['nodeSelector', 'map'], 8: ['serviceAccountName', 'string'] });
const podTemplate = message({ 1: ['metadata', objectMeta], 2: ['spec', podSpec] });
const deploymentSpec = message({ 1: ['replicas', 'int0'], 2: ['selector', labelSelector], 3: ['template', podTemplate], 4: ['strategy', message({ 1: ['type', 'string'] })] });

// metav1.DeleteOptions (DELETE bodies, and inside policy/v1 Eviction): gracePeriodSeconds 0 means "now", so it is kept.
const deleteOptions = message({
  1: ['gracePeriodSeconds', 'int0'],
  2: ['preconditions', message({ 1: ['uid', 'string'], 2: ['resourceVersion', 'string'] })],
  3: ['orphanDependents', 'bool'],
  4: ['propagationPolicy', 'string'],
  5: ['dryRun', 'string', true],
});
// authorization.k8s.io/v1: what `kubectl auth can-i` sends (field numbers as in kubectl v1.32's bodies).
const resourceAttributes = message({
  1: ['namespace', 'string'],
  2: ['verb', 'string'],
  3: ['group', 'string'],
  4: ['version', 'string'],
  5: ['resource', 'string'],
  6: ['subresource', 'string'],
  7: ['name', 'string'],
});
const nonResourceAttributes = message({ 1: ['path', 'string'], 2: ['verb', 'string'] });
const subjectAccessReview = message({
  1: ['metadata', objectMeta],
  2: ['spec', message({ 1: ['resourceAttributes', resourceAttributes], 2: ['nonResourceAttributes', nonResourceAttributes], 3: ['user', 'string'], 4: ['groups', 'string', true], 6: ['uid', 'string'] })],
});

// rbac.authorization.k8s.io/v1 (k8s.io/api/rbac/v1/generated.proto).
const policyRule = message({ 1: ['verbs', 'string', true], 2: ['apiGroups', 'string', true], 3: ['resources', 'string', true], 4: ['resourceNames', 'string', true], 5: ['nonResourceURLs', 'string', true] });
const rbacBinding = message({
  1: ['metadata', objectMeta],
  2: ['subjects', message({ 1: ['kind', 'string'], 2: ['apiGroup', 'string'], 3: ['name', 'string'], 4: ['namespace', 'string'] }), true],
  3: ['roleRef', message({ 1: ['apiGroup', 'string'], 2: ['kind', 'string'], 3: ['name', 'string'] })],
});

// ---- batch/v1 Job, as `kubectl create job --from=cronjob/NAME` sends it: the whole pod template a CronJob carries,
// decoded strictly (a field not in these tables is refused with 415, never dropped). Field numbers from k8s.io/api's
// generated.proto; pointer integers are 'int0' (their 0 is a value).

/** resource.Quantity: {1: string}. */
function quantityOf(buf: Buffer | undefined): string {
  const f = fields(buf ?? Buffer.alloc(0)).find((x) => x.no === 1);
  return f ? strOf(f) : '';
}
/** intstr.IntOrString: {1: type (0 int, 1 string), 2: intVal, 3: strVal}. */
const intOrString: Decoder = (buf) => {
  const fs = fields(buf);
  const type = Number(fs.find((f) => f.no === 1)?.varint ?? 0n);
  const v = fs.find((f) => f.no === (type === 1 ? 3 : 2));
  return type === 1 ? (v ? strOf(v) : '') : v ? intOf(v) : 0;
};
const S = (n: string, t: Table): Decoder => strictMessage(n, t);
const strictMeta = S('ObjectMeta', {
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  // 4-10, 17: selfLink, uid, resourceVersion, generation, timestamps, managedFields: the server sets them.
  4: ['-selfLink', 'string'],
  5: ['-uid', 'string'],
  6: ['-resourceVersion', 'string'],
  7: ['-generation', 'int'],
  8: ['-creationTimestamp', 'bytes'],
  9: ['-deletionTimestamp', 'bytes'],
  10: ['-deletionGracePeriodSeconds', 'int'],
  11: ['labels', 'map'],
  12: ['annotations', 'map'],
  13: ['ownerReferences', S('OwnerReference', { 1: ['kind', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'], 5: ['apiVersion', 'string'], 6: ['controller', 'bool'], 7: ['blockOwnerDeletion', 'bool'] }), true],
  14: ['finalizers', 'string', true],
  17: ['-managedFields', 'bytes', true],
});
const strictSelector = S('LabelSelector', {
  1: ['matchLabels', 'map'],
  2: ['matchExpressions', S('LabelSelectorRequirement', { 1: ['key', 'string'], 2: ['operator', 'string'], 3: ['values', 'string', true] }), true],
});
const localRef = S('LocalObjectReference', { 1: ['name', 'string'] });
const fieldRef = S('ObjectFieldSelector', { 1: ['apiVersion', 'string'], 2: ['fieldPath', 'string'] });
const resourceFieldRef = S('ResourceFieldSelector', { 1: ['containerName', 'string'], 2: ['resource', 'string'], 3: ['divisor', (b) => quantityOf(b)] });
/** Key selectors embed LocalObjectReference (field 1) inline in JSON: {name, key, optional}. */
const keySelector = (n: string): Decoder => {
  const inner = S(n, { 1: ['ref', localRef], 2: ['key', 'string'], 3: ['optional', 'bool'] });
  return (buf) => {
    const { ref, ...rest } = inner(buf) as JsonObject & { ref?: JsonObject };
    return { ...(ref ?? {}), ...rest };
  };
};
const strictEnvVar = S('EnvVar', {
  1: ['name', 'string'],
  2: ['value', 'string'],
  3: ['valueFrom', S('EnvVarSource', { 1: ['fieldRef', fieldRef], 2: ['resourceFieldRef', resourceFieldRef], 3: ['configMapKeyRef', keySelector('ConfigMapKeySelector')], 4: ['secretKeyRef', keySelector('SecretKeySelector')] })],
});
const envFromRef = (n: string): Decoder => {
  const inner = S(n, { 1: ['ref', localRef], 2: ['optional', 'bool'] });
  return (buf) => {
    const { ref, ...rest } = inner(buf) as JsonObject & { ref?: JsonObject };
    return { ...(ref ?? {}), ...rest };
  };
};
const probe = S('Probe', {
  1: [
    'handler',
    S('ProbeHandler', {
      1: ['exec', S('ExecAction', { 1: ['command', 'string', true] })],
      2: ['httpGet', S('HTTPGetAction', { 1: ['path', 'string'], 2: ['port', intOrString], 3: ['host', 'string'], 4: ['scheme', 'string'], 5: ['httpHeaders', S('HTTPHeader', { 1: ['name', 'string'], 2: ['value', 'string'] }), true] })],
      3: ['tcpSocket', S('TCPSocketAction', { 1: ['port', intOrString], 2: ['host', 'string'] })],
    }),
  ],
  2: ['initialDelaySeconds', 'int'],
  3: ['timeoutSeconds', 'int'],
  4: ['periodSeconds', 'int'],
  5: ['successThreshold', 'int'],
  6: ['failureThreshold', 'int'],
  7: ['terminationGracePeriodSeconds', 'int0'],
});
/** ProbeHandler is inlined in JSON. */
const inlineProbe: Decoder = (buf) => {
  const { handler, ...rest } = probe(buf) as JsonObject & { handler?: JsonObject };
  return { ...(handler ?? {}), ...rest };
};
const securityContext = S('SecurityContext', {
  1: ['capabilities', S('Capabilities', { 1: ['add', 'string', true], 2: ['drop', 'string', true] })],
  2: ['privileged', 'bool'],
  4: ['runAsUser', 'int0'],
  5: ['runAsNonRoot', 'bool'],
  6: ['readOnlyRootFilesystem', 'bool'],
  7: ['allowPrivilegeEscalation', 'bool'],
  8: ['runAsGroup', 'int0'],
  11: ['seccompProfile', S('SeccompProfile', { 1: ['type', 'string'], 2: ['localhostProfile', 'string'] })],
});
const strictContainer = S('Container', {
  1: ['name', 'string'],
  2: ['image', 'string'],
  3: ['command', 'string', true],
  4: ['args', 'string', true],
  5: ['workingDir', 'string'],
  6: ['ports', S('ContainerPort', { 1: ['name', 'string'], 2: ['hostPort', 'int'], 3: ['containerPort', 'int'], 4: ['protocol', 'string'], 5: ['hostIP', 'string'] }), true],
  7: ['env', strictEnvVar, true],
  8: ['resources', S('ResourceRequirements', { 1: ['limits', 'quantityMap'], 2: ['requests', 'quantityMap'] })],
  9: ['volumeMounts', S('VolumeMount', { 1: ['name', 'string'], 2: ['readOnly', 'flag'], 3: ['mountPath', 'string'], 4: ['subPath', 'string'], 5: ['mountPropagation', 'string'], 6: ['subPathExpr', 'string'] }), true],
  10: ['livenessProbe', inlineProbe],
  11: ['readinessProbe', inlineProbe],
  13: ['terminationMessagePath', 'string'],
  14: ['imagePullPolicy', 'string'],
  15: ['securityContext', securityContext],
  16: ['stdin', 'flag'],
  17: ['stdinOnce', 'flag'],
  18: ['tty', 'flag'],
  19: ['envFrom', S('EnvFromSource', { 1: ['prefix', 'string'], 2: ['configMapRef', envFromRef('ConfigMapEnvSource')], 3: ['secretRef', envFromRef('SecretEnvSource')] }), true],
  20: ['terminationMessagePolicy', 'string'],
  22: ['startupProbe', inlineProbe],
  24: ['restartPolicy', 'string'],
});
const keyToPath = S('KeyToPath', { 1: ['key', 'string'], 2: ['path', 'string'], 3: ['mode', 'int0'] });
const downwardFile = S('DownwardAPIVolumeFile', { 1: ['path', 'string'], 2: ['fieldRef', fieldRef], 3: ['resourceFieldRef', resourceFieldRef], 4: ['mode', 'int0'] });
const refItems = (n: string, optionalNo: number): Decoder => {
  const inner = S(n, { 1: ['ref', localRef], 2: ['items', keyToPath, true], 3: ['defaultMode', 'int0'], [optionalNo]: ['optional', 'bool'] });
  return (buf) => {
    const { ref, ...rest } = inner(buf) as JsonObject & { ref?: JsonObject };
    return { ...(ref ?? {}), ...rest };
  };
};
const volumeSource = S('VolumeSource', {
  1: ['hostPath', S('HostPathVolumeSource', { 1: ['path', 'string'], 2: ['type', 'string'] })],
  2: ['emptyDir', S('EmptyDirVolumeSource', { 1: ['medium', 'string'], 2: ['sizeLimit', (b) => quantityOf(b)] })],
  6: ['secret', S('SecretVolumeSource', { 1: ['secretName', 'string'], 2: ['items', keyToPath, true], 3: ['defaultMode', 'int0'], 4: ['optional', 'bool'] })],
  10: ['persistentVolumeClaim', S('PersistentVolumeClaimVolumeSource', { 1: ['claimName', 'string'], 2: ['readOnly', 'flag'] })],
  16: ['downwardAPI', S('DownwardAPIVolumeSource', { 1: ['items', downwardFile, true], 2: ['defaultMode', 'int0'] })],
  19: ['configMap', refItems('ConfigMapVolumeSource', 4)],
  26: [
    'projected',
    S('ProjectedVolumeSource', {
      1: [
        'sources',
        S('VolumeProjection', {
          1: ['secret', refItems('SecretProjection', 4)],
          2: ['downwardAPI', S('DownwardAPIProjection', { 1: ['items', downwardFile, true] })],
          3: ['configMap', refItems('ConfigMapProjection', 4)],
          4: ['serviceAccountToken', S('ServiceAccountTokenProjection', { 1: ['audience', 'string'], 2: ['expirationSeconds', 'int0'], 3: ['path', 'string'] })],
        }),
        true,
      ],
      2: ['defaultMode', 'int0'],
    }),
  ],
});
/** Volume inlines its VolumeSource (field 2) in JSON. */
const strictVolume: Decoder = (() => {
  const inner = S('Volume', { 1: ['name', 'string'], 2: ['source', volumeSource] });
  return (buf: Buffer) => {
    const { source, ...rest } = inner(buf) as JsonObject & { source?: JsonObject };
    return { ...rest, ...(source ?? {}) };
  };
})();
const strictPodSpec = S('PodSpec', {
  1: ['volumes', strictVolume, true],
  2: ['containers', strictContainer, true],
  3: ['restartPolicy', 'string'],
  4: ['terminationGracePeriodSeconds', 'int0'],
  5: ['activeDeadlineSeconds', 'int0'],
  6: ['dnsPolicy', 'string'],
  7: ['nodeSelector', 'map'],
  8: ['serviceAccountName', 'string'],
  9: ['serviceAccount', 'string'],
  10: ['nodeName', 'string'],
  11: ['hostNetwork', 'flag'],
  12: ['hostPID', 'flag'],
  13: ['hostIPC', 'flag'],
  14: ['securityContext', S('PodSecurityContext', { 2: ['runAsUser', 'int0'], 3: ['runAsNonRoot', 'bool'], 4: ['supplementalGroups', 'int', true], 5: ['fsGroup', 'int0'], 6: ['runAsGroup', 'int0'], 10: ['seccompProfile', S('SeccompProfile', { 1: ['type', 'string'], 2: ['localhostProfile', 'string'] })] })],
  15: ['imagePullSecrets', localRef, true],
  16: ['hostname', 'string'],
  17: ['subdomain', 'string'],
  19: ['schedulerName', 'string'],
  20: ['initContainers', strictContainer, true],
  21: ['automountServiceAccountToken', 'bool'],
  22: ['tolerations', S('Toleration', { 1: ['key', 'string'], 2: ['operator', 'string'], 3: ['value', 'string'], 4: ['effect', 'string'], 5: ['tolerationSeconds', 'int0'] }), true],
  24: ['priorityClassName', 'string'],
  25: ['priority', 'int0'],
  27: ['shareProcessNamespace', 'bool'],
  29: ['runtimeClassName', 'string'],
  30: ['enableServiceLinks', 'bool'],
  31: ['preemptionPolicy', 'string'],
  35: ['setHostnameAsFQDN', 'bool'],
});
const jobSpec = S('JobSpec', {
  1: ['parallelism', 'int0'],
  2: ['completions', 'int0'],
  3: ['activeDeadlineSeconds', 'int0'],
  4: ['selector', strictSelector],
  5: ['manualSelector', 'bool'],
  6: ['template', S('PodTemplateSpec', { 1: ['metadata', strictMeta], 2: ['spec', strictPodSpec] })],
  7: ['backoffLimit', 'int0'],
  8: ['ttlSecondsAfterFinished', 'int0'],
  9: ['completionMode', 'string'],
  10: ['suspend', 'bool'],
  11: [
    'podFailurePolicy',
    S('PodFailurePolicy', {
      1: [
        'rules',
        S('PodFailurePolicyRule', {
          1: ['action', 'string'],
          2: ['onExitCodes', S('PodFailurePolicyOnExitCodesRequirement', { 1: ['containerName', 'string'], 2: ['operator', 'string'], 3: ['values', 'int0', true] })],
          3: ['onPodConditions', S('PodFailurePolicyOnPodConditionsPattern', { 1: ['type', 'string'], 2: ['status', 'string'] }), true],
        }),
        true,
      ],
    }),
  ],
  12: ['backoffLimitPerIndex', 'int0'],
  13: ['maxFailedIndexes', 'int0'],
  14: ['podReplacementPolicy', 'string'],
  15: ['managedBy', 'string'],
  16: ['successPolicy', S('SuccessPolicy', { 1: ['rules', S('SuccessPolicyRule', { 1: ['succeededIndexes', 'string'], 2: ['succeededCount', 'int0'] }), true] })],
});
/** Drops the server-owned metadata fields the strict table names with a '-' (they are only there to be accepted). */
function withoutServerFields(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutServerFields);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('-')).map(([k, x]) => [k, withoutServerFields(x)]));
}
const job: Decoder = (buf) => withoutServerFields(S('Job', { 1: ['metadata', strictMeta], 2: ['spec', jobSpec], 3: ['-status', 'bytes'] })(buf));
const cronJobSpec = S('CronJobSpec', {
  1: ['schedule', 'string'],
  2: ['startingDeadlineSeconds', 'int0'],
  3: ['concurrencyPolicy', 'string'],
  4: ['suspend', 'bool'],
  5: ['jobTemplate', S('JobTemplateSpec', { 1: ['metadata', strictMeta], 2: ['spec', jobSpec] })],
  6: ['successfulJobsHistoryLimit', 'int0'],
  7: ['failedJobsHistoryLimit', 'int0'],
  8: ['timeZone', 'string'],
});
/** `kubectl create cronjob`. */
const cronJob: Decoder = (buf) => withoutServerFields(S('CronJob', { 1: ['metadata', strictMeta], 2: ['spec', cronJobSpec], 3: ['-status', 'bytes'] })(buf));

/** metav1.Time: seconds (and nanos, dropped: the JSON form has whole seconds) as RFC 3339. */
const time: Decoder = (buf) => {
  const secs = fields(buf).find((f) => f.no === 1);
  return new Date(Number(BigInt.asIntN(64, secs?.varint ?? 0n)) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

// certificates.k8s.io/v1 (k8s.io/api/certificates/v1/generated.proto): `kubectl certificate approve|deny` PUTs the
// whole request to /approval. spec.extra (a map of ExtraValue) is left out: the server records who asked itself.
const certificateSigningRequest = message({
  1: ['metadata', objectMeta],
  2: [
    'spec',
    message({ 1: ['request', 'bytes'], 2: ['username', 'string'], 3: ['uid', 'string'], 4: ['groups', 'string', true], 5: ['usages', 'string', true], 7: ['signerName', 'string'], 8: ['expirationSeconds', 'int'] }),
  ],
  3: [
    'status',
    message({
      1: ['conditions', message({ 1: ['type', 'string'], 6: ['status', 'string'], 2: ['reason', 'string'], 3: ['message', 'string'], 4: ['lastUpdateTime', time], 5: ['lastTransitionTime', time] }), true],
      2: ['certificate', 'bytes'],
    }),
  ],
});

const BODIES: Record<string, Decoder> = {
  'certificates.k8s.io/v1/CertificateSigningRequest': certificateSigningRequest,
  'rbac.authorization.k8s.io/v1/Role': message({ 1: ['metadata', objectMeta], 2: ['rules', policyRule, true] }),
  'rbac.authorization.k8s.io/v1/ClusterRole': message({ 1: ['metadata', objectMeta], 2: ['rules', policyRule, true], 3: ['aggregationRule', message({ 1: ['clusterRoleSelectors', labelSelector, true] })] }),
  'rbac.authorization.k8s.io/v1/RoleBinding': rbacBinding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': rbacBinding,
  'v1/Namespace': message({ 1: ['metadata', objectMeta], 2: ['spec', message({ 1: ['finalizers', 'string', true] })] }),
  'v1/ConfigMap': message({ 1: ['metadata', objectMeta], 2: ['data', 'map'], 3: ['binaryData', 'bytesMap'], 4: ['immutable', 'bool'] }),
  'v1/Secret': message({ 1: ['metadata', objectMeta], 2: ['data', 'bytesMap'], 3: ['type', 'string'], 4: ['stringData', 'map'], 5: ['immutable', 'bool'] }),
  'v1/ServiceAccount': message({ 1: ['metadata', objectMeta] }),
  'apps/v1/Deployment': message({ 1: ['metadata', objectMeta], 2: ['spec', deploymentSpec] }),
  'batch/v1/Job': job,
  'batch/v1/CronJob': cronJob,
  // `kubectl autoscale`.
  'autoscaling/v1/HorizontalPodAutoscaler': message({
    1: ['metadata', objectMeta],
    2: [
      'spec',
      message({
        1: ['scaleTargetRef', message({ 1: ['kind', 'string'], 2: ['name', 'string'], 3: ['apiVersion', 'string'] })],
        2: ['minReplicas', 'int'],
        3: ['maxReplicas', 'int0'],
        4: ['targetCPUUtilizationPercentage', 'int'],
      }),
    ],
  }),
  'v1/DeleteOptions': deleteOptions,
  'meta.k8s.io/v1/DeleteOptions': deleteOptions,
  'policy/v1/Eviction': message({ 1: ['metadata', objectMeta], 2: ['deleteOptions', deleteOptions] }),
  'authentication.k8s.io/v1/TokenRequest': message({
    1: ['metadata', objectMeta],
    2: [
      'spec',
      message({
        1: ['audiences', 'string', true],
        3: ['boundObjectRef', message({ 1: ['kind', 'string'], 2: ['apiVersion', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'] })],
        4: ['expirationSeconds', 'int'],
      }),
    ],
  }),
  'authentication.k8s.io/v1/TokenReview': message({ 1: ['metadata', objectMeta], 2: ['spec', message({ 1: ['token', 'string'], 2: ['audiences', 'string', true] })] }),
  'authentication.k8s.io/v1/SelfSubjectReview': message({ 1: ['metadata', objectMeta] }),
  'authorization.k8s.io/v1/SelfSubjectAccessReview': message({
    1: ['metadata', objectMeta],
    2: ['spec', message({ 1: ['resourceAttributes', resourceAttributes], 2: ['nonResourceAttributes', nonResourceAttributes] })],
  }),
  'authorization.k8s.io/v1/SelfSubjectRulesReview': message({ 1: ['metadata', objectMeta], 2: ['spec', message({ 1: ['namespace', 'string'] })] }),
  'authorization.k8s.io/v1/SubjectAccessReview': subjectAccessReview,
  'authorization.k8s.io/v1/LocalSubjectAccessReview': subjectAccessReview,
};

export const isProtobuf = (body: Buffer): boolean => body.subarray(0, 4).equals(MAGIC);

/** The JSON object inside a protobuf request body, or a 415 naming the kinds that can be sent as protobuf. */
export function decodeProtobuf(body: Buffer): JsonObject {
  if (!isProtobuf(body)) throw errors.badRequest('protobuf body does not start with the k8s magic number');
  let apiVersion = '';
  let kind = '';
  let raw: Buffer | undefined;
  try {
    for (const f of fields(body.subarray(4))) {
      if (f.no === 1 && f.bytes) {
        for (const t of fields(f.bytes)) {
          if (t.no === 1) apiVersion = strOf(t);
          if (t.no === 2) kind = strOf(t);
        }
      } else if (f.no === 2) raw = f.bytes;
    }
  } catch (err) {
    throw errors.badRequest(`malformed protobuf envelope: ${(err as Error).message}`);
  }
  const decode = BODIES[`${apiVersion}/${kind}`];
  if (!decode) {
    throw errors.unsupportedMediaType(
      `the protobuf body of ${kind || 'an unknown kind'} (${apiVersion}) is not supported by this server; send application/json (e.g. kubectl create -f, or --dry-run=client -o yaml | kubectl apply -f -)`,
    );
  }
  try {
    const obj = decode(raw ?? Buffer.alloc(0)) as JsonObject;
    return { apiVersion, kind, ...obj };
  } catch (err) {
    if (err instanceof UnsupportedProtobufField) {
      throw errors.unsupportedMediaType(
        `the protobuf body of ${kind} (${apiVersion}) sets a field this server cannot decode (${err.message}); send application/json (e.g. kubectl create -f)`,
      );
    }
    throw errors.badRequest(`malformed protobuf ${kind}: ${(err as Error).message}`);
  }
}
