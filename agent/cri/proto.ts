// Loads api.proto once for both sides (client.ts, server.ts), with the decoding options api-types.ts describes.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** tsc does not copy api.proto into dist/, so from dist/agent/cri we fall back to the source folder. */
export function protoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'api.proto'), join(here, '..', '..', '..', 'agent', 'cri', 'api.proto')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`api.proto not found (looked in ${candidates.join(', ')})`);
  return found;
}

export interface CriServices {
  runtime: grpc.ServiceClientConstructor;
  image: grpc.ServiceClientConstructor;
}

/** Larger than gRPC's 4 MiB default: a node's ListContainerStats can be big. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

let cached: CriServices | undefined;

export function criServices(): CriServices {
  if (cached) return cached;
  // These options define the decoded shapes: scripts/gen-cri-types.ts writes api-types.ts to match them.
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
