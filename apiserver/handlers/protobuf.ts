// Decodes the Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown) that kubectl's typed clients send, for the
// kinds they send (Namespace, ConfigMap, Secret, Deployment, ServiceAccount from `kubectl create`; DeleteOptions and
// Eviction from `kubectl drain`; TokenRequest from `kubectl create token`; the review kinds from `kubectl auth`),
// into JSON objects.
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
    } else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const strOf = (f: Field): string => f.bytes?.toString('utf8') ?? '';
const intOf = (f: Field): number => Number(BigInt.asIntN(64, f.varint ?? 0n));

type Decoder = (buf: Buffer) => unknown;

/** A message decoder from a field table: number -> [json name, decoder, repeated?]. Unknown numbers are skipped. */
/** Go writes every optional field, empty or not: empty strings and zero numbers mean "unset" (except 'int0' fields). */
function message(table: Record<number, [string, Decoder | 'string' | 'int' | 'int0' | 'bool' | 'bytes' | 'map' | 'bytesMap', boolean?]>): Decoder {
  return (buf) => {
    const out: JsonObject = {};
    for (const f of fields(buf)) {
      const spec = table[f.no];
      if (!spec) continue;
      const [name, kind, repeated] = spec;
      let value: unknown;
      if (kind === 'string') value = strOf(f);
      else if (kind === 'int' || kind === 'int0') value = intOf(f);
      else if (kind === 'bool') value = (f.varint ?? 0n) !== 0n;
      else if (kind === 'bytes') value = f.bytes?.toString('base64') ?? '';
      else if (kind === 'map' || kind === 'bytesMap') {
        const entry = fields(f.bytes ?? Buffer.alloc(0));
        const k = entry.find((e) => e.no === 1);
        const v = entry.find((e) => e.no === 2);
        const m = (out[name] ??= {}) as JsonObject;
        m[k ? strOf(k) : ''] = v ? (kind === 'bytesMap' ? (v.bytes?.toString('base64') ?? '') : strOf(v)) : '';
        continue;
      } else value = kind(f.bytes ?? Buffer.alloc(0));
      if (!repeated && (value === '' || (value === 0 && kind === 'int'))) continue;
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
  11: ['labels', 'map'],
  12: ['annotations', 'map'],
  14: ['finalizers', 'string', true],
});
const labelSelector = message({ 1: ['matchLabels', 'map'] });
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

const BODIES: Record<string, Decoder> = {
  'v1/Namespace': message({ 1: ['metadata', objectMeta], 2: ['spec', message({ 1: ['finalizers', 'string', true] })] }),
  'v1/ConfigMap': message({ 1: ['metadata', objectMeta], 2: ['data', 'map'], 3: ['binaryData', 'bytesMap'], 4: ['immutable', 'bool'] }),
  'v1/Secret': message({ 1: ['metadata', objectMeta], 2: ['data', 'bytesMap'], 3: ['type', 'string'], 4: ['stringData', 'map'], 5: ['immutable', 'bool'] }),
  'v1/ServiceAccount': message({ 1: ['metadata', objectMeta] }),
  'apps/v1/Deployment': message({ 1: ['metadata', objectMeta], 2: ['spec', deploymentSpec] }),
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
    throw errors.badRequest(`malformed protobuf ${kind}: ${(err as Error).message}`);
  }
}
