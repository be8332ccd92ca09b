// Server glue: binds typed CRI service implementations to gRPC, logs each call, and maps errors to gRPC statuses.
import * as grpc from '@grpc/grpc-js';
import { realClock, type Clock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';
import { RuntimeError, toServiceError } from './errors.js';
import { MAX_MESSAGE_BYTES, criServices } from './proto.js';
import type { ImageServiceMethods, MethodTable, RuntimeServiceMethods, ServiceImpl } from './types.js';

const log = logger('runtime');

function bind<M extends MethodTable<M>>(service: string, impl: ServiceImpl<M>, clock: Clock): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(impl) as (keyof M & string)[]) {
    const fn = impl[name];
    out[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = clock.now();
      fn(call.request as M[typeof name][0]).then(
        (resp) => {
          log.debug('cri call', { service, method: name, ms: clock.now() - started });
          callback(null, resp);
        },
        (err: unknown) => {
          const level = err instanceof RuntimeError && err.expected ? 'debug' : 'warn';
          log.log(level, 'cri call failed', { service, method: name, ms: clock.now() - started, error: String(err) });
          callback(toServiceError(err));
        },
      );
    };
  }
  return out;
}

/** Serves both CRI services on `listen` ("unix:///path" or "host:port"). */
export async function serveCri(
  listen: string,
  runtime: ServiceImpl<RuntimeServiceMethods>,
  image: ServiceImpl<ImageServiceMethods>,
  clock: Clock = realClock,
): Promise<grpc.Server> {
  const s = criServices();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  server.addService(s.runtime.service, bind('RuntimeService', runtime, clock));
  server.addService(s.image.service, bind('ImageService', image, clock));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
