// Loads api.proto and binds typed handlers (server) and typed promise methods (client) to it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { DeepPartial, ImageMethods, MethodTable, RuntimeMethods, ServiceImpl } from './cri-types.js';
import { RuntimeError, toServiceError } from './errors.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

/** tsc does not copy api.proto into dist/, so from dist/agent/runtime we fall back to the source folder. */
export function protoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'api.proto'), join(here, '..', '..', '..', 'agent', 'runtime', 'api.proto')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`api.proto not found (looked in ${candidates.join(', ')})`);
  return found;
}

interface Services {
  runtime: grpc.ServiceClientConstructor;
  image: grpc.ServiceClientConstructor;
}

let cached: Services | undefined;

function services(): Services {
  if (cached) return cached;
  const def = protoLoader.loadSync(protoPath(), {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    objects: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } };
  };
  cached = { runtime: pkg.runtime.v1.RuntimeService, image: pkg.runtime.v1.ImageService };
  return cached;
}

function bind<M extends MethodTable<M>>(service: string, impl: ServiceImpl<M>): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(impl) as (keyof M & string)[]) {
    const fn = impl[name];
    out[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = Date.now();
      fn(call.request as M[typeof name][0]).then(
        (resp) => {
          log.debug('cri call', { service, method: name, ms: Date.now() - started });
          callback(null, resp);
        },
        (err: unknown) => {
          const level = err instanceof RuntimeError && err.expected ? 'debug' : 'warn';
          log.log(level, 'cri call failed', { service, method: name, ms: Date.now() - started, error: String(err) });
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
  runtime: ServiceImpl<RuntimeMethods>,
  image: ServiceImpl<ImageMethods>,
): Promise<grpc.Server> {
  const s = services();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  server.addService(s.runtime.service, bind('RuntimeService', runtime));
  server.addService(s.image.service, bind('ImageService', image));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}

type ClientOf<M extends MethodTable<M>> = {
  [K in keyof M & string as Uncapitalize<K>]: (req?: DeepPartial<M[K][0]>, opts?: { timeoutMs?: number }) => Promise<M[K][1]>;
};

/** A typed CRI client: `client.runtime.runPodSandbox({...})`, `client.image.pullImage({...})`. */
export interface RuntimeClient {
  runtime: ClientOf<RuntimeMethods>;
  image: ClientOf<ImageMethods>;
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
          const deadline = new Date(Date.now() + (opts.timeoutMs ?? defaultTimeoutMs));
          fn.call(client, req, new grpc.Metadata(), { deadline }, (err, resp) => (err ? reject(err) : resolve(resp)));
        });
    },
  });
}

/** Connects to a runtime service, e.g. connectRuntime('unix:///var/run/ketch/runtime.sock'). */
export function connectRuntime(endpoint: string, opts: { timeoutMs?: number } = {}): RuntimeClient {
  const s = services();
  const channelOpts = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
  const rt = new s.runtime(endpoint, grpc.credentials.createInsecure(), channelOpts);
  const im = new s.image(endpoint, grpc.credentials.createInsecure(), channelOpts);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return {
    runtime: wrap<RuntimeMethods>(rt, timeoutMs),
    image: wrap<ImageMethods>(im, timeoutMs),
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
