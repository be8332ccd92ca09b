// apiextensions-apiserver inside this server: the CRD controller that serves custom resources, and their OpenAPI.
import type { Logger } from '../../lib/logger.js';
import type { Registry } from '../registry/index.js';
import type { Clock } from '../registry/rest.js';
import { CrdController } from './controller.js';
import { CustomResourceOpenApi } from './openapi.js';
import type { ServiceResolver } from '../admission/webhook/client.js';

export interface ApiExtensions {
  openapi: CustomResourceOpenApi;
  /** Serves the CRDs that exist and follows changes. */
  start(): Promise<void>;
  stop(): void;
}

export function apiExtensions(registry: Registry, clock: Clock, log: Logger, resolver: ServiceResolver): ApiExtensions {
  const openapi = new CustomResourceOpenApi();
  const crds = registry.byResource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
  if (!crds) throw new Error('customresourcedefinitions missing from the resource table');
  const controller = new CrdController(registry, crds, clock, log.child({ component: 'apiextensions' }), resolver, (served) => openapi.update(served));
  return { openapi, start: () => controller.start(), stop: () => controller.stop() };
}
