// Registry access from the kubeconfig: the cluster CA, and its client certificate or token as credentials.
import type { Cli } from '../context.js';
import type { RegistryAccess } from './buildah.js';

/** The kubeconfig's CA and credentials (the cluster's, for the built-in registry), when there is a kubeconfig. */
export function clusterAccess(cli: Cli, creds?: string): RegistryAccess {
  let cfg;
  try {
    cfg = cli.config;
  } catch {
    // No kubeconfig: builds and pushes to other registries need none.
    return creds ? { creds } : {};
  }
  return {
    ...(cfg.ca ? { caPem: cfg.ca } : {}),
    ...(cfg.cert && cfg.key ? { certPem: cfg.cert, keyPem: cfg.key } : {}),
    ...(creds ? { creds } : cfg.token ? { creds: `ketch:${cfg.token}` } : {}),
  };
}
