// The CRI client: typed promise methods over the gRPC services of api.proto (`client.runtime.runPodSandbox({...})`).
import * as grpc from '@grpc/grpc-js';
import { realClock } from '../../lib/clock.js';
import { MAX_MESSAGE_BYTES, criServices } from './proto.js';
import type { DeepPartial, ImageServiceMethods, MethodTable, RuntimeServiceMethods } from './types.js';

type ClientOf<M extends MethodTable<M>> = {
  [K in keyof M & string as Uncapitalize<K>]: (req?: DeepPartial<M[K][0]>, opts?: { timeoutMs?: number }) => Promise<M[K][1]>;
};

/** A typed CRI client: `client.runtime.runPodSandbox({...})`, `client.image.pullImage({...})`. */
export interface RuntimeClient {
  runtime: ClientOf<RuntimeServiceMethods>;
  image: ClientOf<ImageServiceMethods>;
  close(): void;
}

function wrap<M extends MethodTable<M>>(client: grpc.Client, defaultTimeoutMs: number): ClientOf<M> {
  const raw = client as unknown as Record<string, (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>;
  return new Proxy({} as ClientOf<M>, {
    get(_t, prop) {
      if (typeof prop !== 'string') return undefined;
      const method = prop.charAt(0).toUpperCase() + prop.slice(1);
      const fn = raw[method];
      if (typeof fn !== 'function') return undefined;
      return (req: unknown = {}, opts: { timeoutMs?: number } = {}) =>
        new Promise((resolve, reject) => {
          // A gRPC deadline is an instant that grpc-js compares with the wall clock: it is always real time, even
          // where a test gives the caller a fake clock.
          const deadline = new Date(realClock.now() + (opts.timeoutMs ?? defaultTimeoutMs));
          fn.call(client, req, new grpc.Metadata(), { deadline }, (err, resp) => (err ? reject(err) : resolve(resp)));
        });
    },
  });
}

/** Connects to a runtime service, e.g. connectRuntime('unix:///var/run/ketch/runtime.sock'). */
export function connectRuntime(endpoint: string, opts: { timeoutMs?: number } = {}): RuntimeClient {
  const s = criServices();
  const channelOpts = { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES };
  const rt = new s.runtime(endpoint, grpc.credentials.createInsecure(), channelOpts);
  const im = new s.image(endpoint, grpc.credentials.createInsecure(), channelOpts);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return {
    runtime: wrap<RuntimeServiceMethods>(rt, timeoutMs),
    image: wrap<ImageServiceMethods>(im, timeoutMs),
    close() {
      rt.close();
      im.close();
    },
  };
}

/** True when a client call failed because the object does not exist. */
export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === grpc.status.NOT_FOUND;
}
