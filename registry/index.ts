// The built-in OCI registry: public surface for the CLI (`ketch registry`, `ketch up`).
export { startRegistry, startClusterRegistry, registryServingCert, DEFAULT_REGISTRY_PORT, DEFAULT_GC, type RunningRegistry, type RegistryServerOptions, type ClusterRegistryOptions } from './server.js';
export { collectGarbage, type GcOptions, type GcReport } from './gc.js';
export { apiServerAuth, type ClusterAuth, type Principal, type ResourceAttributes, REGISTRY_GROUP, REGISTRY_RESOURCE } from './auth.js';
export { RegistryStore } from './store.js';
export { Uploads } from './uploads.js';
export { RwLock } from './lock.js';
