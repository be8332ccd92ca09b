// The strict protobuf decoding of Job bodies: what kubectl's typed client writes (zero values included) decodes to the
// JSON kube would store; a field the tables do not model is refused (415), never dropped; garbage is a 400.
import assert from 'node:assert/strict';
import { ApiError } from '../../api/errors.js';
import { decodeProtobuf } from './protobuf.js';

// A minimal protobuf writer for the test's own bodies.
const varint = (n: bigint): Buffer => {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
};
const int = (no: number, n: number): Buffer => Buffer.concat([varint(BigInt(no << 3)), varint(BigInt(n))]);
const bytes = (no: number, b: Buffer | string): Buffer => {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([varint(BigInt((no << 3) | 2)), varint(BigInt(body.length)), body]);
};
const msg = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
const envelope = (apiVersion: string, kind: string, raw: Buffer): Buffer =>
  Buffer.concat([Buffer.from('k8s\0', 'binary'), bytes(1, msg(bytes(1, apiVersion), bytes(2, kind))), bytes(2, raw)]);

const container = msg(bytes(1, 'main'), bytes(2, 'busybox:1.36'), bytes(3, 'sh'), bytes(3, '-c'), bytes(5, ''), int(16, 0), bytes(8, msg(bytes(1, msg(bytes(1, 'cpu'), bytes(2, msg(bytes(1, '100m'))))))));
const podSpec = (extra: Buffer = Buffer.alloc(0)): Buffer => msg(bytes(2, container), bytes(3, 'Never'), int(4, 30), int(11, 0), extra);
const jobBody = (podExtra?: Buffer): Buffer =>
  envelope(
    'batch/v1',
    'Job',
    msg(
      bytes(1, msg(bytes(1, 'by-hand'), bytes(2, ''), bytes(8, Buffer.alloc(0)), bytes(12, msg(bytes(1, 'cronjob.kubernetes.io/instantiate'), bytes(2, 'manual'))))),
      bytes(2, msg(int(7, 0), int(5, 0), bytes(6, msg(bytes(1, Buffer.alloc(0)), bytes(2, podSpec(podExtra)))))),
      bytes(3, msg(int(4, 0), int(5, 0))),
    ),
  );

describe('protobuf Job bodies', () => {
  it('decodes a Job with its pod template, keeping pointer zeros and dropping Go\'s written zero values', () => {
    assert.deepEqual(decodeProtobuf(jobBody()), {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'by-hand', annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' } },
      spec: {
        backoffLimit: 0,
        manualSelector: false,
        template: {
          metadata: {},
          spec: { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c'], resources: { limits: { cpu: '100m' } } }], restartPolicy: 'Never', terminationGracePeriodSeconds: 30 },
        },
      },
    });
  });

  it('refuses a set field it does not model with 415 naming it, and accepts one written empty', () => {
    const affinity = bytes(18, msg(bytes(1, msg(bytes(1, msg(bytes(1, msg(bytes(1, 'zone'), bytes(2, 'Exists')))))))));
    assert.throws(() => decodeProtobuf(jobBody(affinity)), (err: unknown) => err instanceof ApiError && err.code === 415 && /PodSpec field 18/.test(err.message));
    assert.doesNotThrow(() => decodeProtobuf(jobBody(bytes(26, msg(bytes(1, ''), int(2, 0))))), 'an unmodelled field Go wrote with zero values is no loss');
  });

  it('answers 400 for a truncated body', () => {
    const body = jobBody();
    assert.throws(() => decodeProtobuf(body.subarray(0, body.length - 7)), (err: unknown) => err instanceof ApiError && err.code === 400);
  });
});
