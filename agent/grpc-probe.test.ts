// gRPC probes against a real grpc.health.v1 server (@grpc/grpc-js on loopback): SERVING passes, the rest fail.
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { grpcProbe } from './grpc-probe.js';
import { runProbe } from './probes.js';
import { healthServer } from '../test/support/grpc-health-server.js';

describe('gRPC probes (grpc.health.v1 Health/Check)', () => {
  let server: grpc.Server;
  let port: number;
  let status: 'SERVING' | 'NOT_SERVING' = 'SERVING';

  before(async () => {
    server = healthServer(() => status);
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  });
  after(() => server.forceShutdown());

  it('passes while the server answers SERVING and fails with kubelet\'s message on NOT_SERVING', async () => {
    status = 'SERVING';
    assert.deepEqual(await grpcProbe('127.0.0.1', port, '', 2), { ok: true, message: '' });
    status = 'NOT_SERVING';
    assert.deepEqual(await grpcProbe('127.0.0.1', port, 'my.Service', 2), { ok: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
  });

  it('fails when nothing listens, within the timeout', async () => {
    const closed = healthServer(() => 'SERVING');
    const free = await new Promise<number>((resolve, reject) => closed.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    closed.forceShutdown();
    const t0 = Date.now();
    const r = await grpcProbe('127.0.0.1', free, '', 1);
    assert.equal(r.ok, false);
    assert.match(r.message, /timeout|failed to connect/);
    assert.ok(Date.now() - t0 < 5000);
  });

  it('is what runProbe does for a probe with grpc', async () => {
    status = 'NOT_SERVING';
    const target = { containerId: 'c', container: { name: 'c', image: 'x' }, host: '127.0.0.1', exec: async () => ({ exitCode: 0, output: '' }) };
    const r = await runProbe({ grpc: { port }, timeoutSeconds: 2 }, target);
    assert.equal(r.ok, false);
    status = 'SERVING';
    assert.equal((await runProbe({ grpc: { port }, timeoutSeconds: 2 }, target)).ok, true);
  });
});
