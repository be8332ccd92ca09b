// Test support: a grpc.health.v1 Health server that answers every Check with the status in argv[3], listening on
// argv[2] (host:port). Tests run it inside a pod's network namespace (`ip netns exec`), as busybox images have none.
import * as grpc from '@grpc/grpc-js';
import { HEALTH_SERVICE, SERVING_STATUS } from '../../agent/grpc-probe.js';

export function healthServer(status: () => (typeof SERVING_STATUS)[number]): grpc.Server {
  const server = new grpc.Server();
  server.addService(HEALTH_SERVICE, {
    Check: (_call: grpc.ServerUnaryCall<{ service: string }, number>, cb: grpc.sendUnaryData<number>) => cb(null, SERVING_STATUS.indexOf(status())),
  });
  return server;
}

if (process.argv[1]?.endsWith('grpc-health-server.ts')) {
  const [address = '0.0.0.0:50051', status = 'SERVING'] = process.argv.slice(2);
  const server = healthServer(() => status as (typeof SERVING_STATUS)[number]);
  server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      console.error(String(err));
      process.exit(1);
    }
    console.log('listening');
  });
  process.once('SIGTERM', () => server.forceShutdown());
}
