// gRPC probes (kubelet's pkg/probe/grpc): one grpc.health.v1.Health/Check call to the pod's address, SERVING or not.
// The two messages are one field each, so they are encoded by hand rather than loaded from a .proto file.
import * as grpc from '@grpc/grpc-js';

const STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/** HealthCheckRequest { string service = 1; }, the field written even when empty (grpc-js drops a 0-byte message). */
function encodeRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  const len: number[] = [];
  for (let n = s.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...len]), s]);
}

/** HealthCheckResponse { ServingStatus status = 1; }: the enum's value (0 when absent). */
function decodeStatus(b: Buffer): number {
  let status = 0;
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; i < b.length; shift += 7) {
      const byte = b[i++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return v;
    }
    throw new Error('truncated varint in HealthCheckResponse');
  };
  while (i < b.length) {
    const tag = varint();
    const wire = tag & 7;
    if (tag >>> 3 === 1 && wire === 0) status = varint();
    else if (wire === 0) varint();
    else if (wire === 2) i += varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unexpected wire type ${wire} in HealthCheckResponse`);
  }
  return status;
}

/** The one method of grpc.health.v1.Health a probe calls (a test's server implements it with the same definition). */
export const HEALTH_SERVICE = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    // An object, not the bare string: grpc-js takes a falsy request ("") for a missing one.
    requestSerialize: (req: { service: string }) => encodeRequest(req.service),
    requestDeserialize: (b: Buffer) => ({ service: decodeService(b) }),
    responseSerialize: (status: number) => Buffer.from([0x08, status]),
    responseDeserialize: (b: Buffer) => decodeStatus(b),
  },
} satisfies grpc.ServiceDefinition;

export const SERVING_STATUS = STATUS;

/** The service name of a HealthCheckRequest (field 1, one short string). */
function decodeService(b: Buffer): string {
  if (b.length < 2 || b[0] !== 0x0a || (b[1] ?? 0) > 0x7f) return '';
  return b.subarray(2, 2 + (b[1] ?? 0)).toString('utf8');
}

const Client = grpc.makeGenericClientConstructor(HEALTH_SERVICE, 'Health');

export type GrpcProbeResult = { ok: boolean; message: string };

/** Calls Health/Check on host:port for `service` ("" is the server's overall health) within `timeoutSec`. */
export async function grpcProbe(host: string, port: number, service: string, timeoutSec: number): Promise<GrpcProbeResult> {
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const client = new Client(target, grpc.credentials.createInsecure(), { 'grpc.user_agent': 'kube-probe/1.32' });
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const deadline = new Date(Date.now() + timeoutSec * 1000);
      (client as unknown as { Check(req: { service: string }, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: number) => void): void }).Check(
        { service },
        new grpc.Metadata(),
        { deadline },
        (err, res) => (err ? reject(err) : resolve(res ?? 0)),
      );
    });
    const name = STATUS[status] ?? String(status);
    return status === 1 ? { ok: true, message: '' } : { ok: false, message: `service unhealthy (responded with "${name}")` };
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (e.code === grpc.status.DEADLINE_EXCEEDED) return { ok: false, message: `timeout: health rpc did not complete within ${timeoutSec}s` };
    if (e.code === grpc.status.UNAVAILABLE) return { ok: false, message: `timeout: failed to connect service "${target}" within ${timeoutSec}s: ${e.details}` };
    return { ok: false, message: `error: health rpc probe failed: ${e.details ?? String(err)}` };
  } finally {
    client.close();
  }
}
