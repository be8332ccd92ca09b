// Images of a compose project: `build` sections through ketch build (pushed to the registry the cluster pulls
// from), and `pull` on every node.
import { pullOnNodes } from '../commands/image.js';
import type { Cli } from '../context.js';
import { DEFAULT_BUILD_ROOT, buildImage } from '../build/buildah.js';
import { clusterAccess } from '../build/access.js';
import { DEFAULT_RUNTIME_ROOT } from '../commands/components.js';
import type { ServicePlan } from './translate.js';

/** Builds each service's image, loads it on this node and pushes it under its image name. */
export async function buildServices(cli: Cli, services: ServicePlan[], registry: string): Promise<void> {
  for (const svc of services) {
    if (!svc.build) continue;
    cli.err(`building ${svc.name} (${svc.image})`);
    const r = await buildImage({
      context: svc.build.context,
      ...(svc.build.dockerfile ? { dockerfile: svc.build.dockerfile } : {}),
      tags: [svc.image],
      buildArgs: svc.build.args,
      ...(svc.build.target ? { target: svc.build.target } : {}),
      push: true,
      load: true,
      runtimeRoot: process.env.KETCH_RUNTIME_ROOT ?? DEFAULT_RUNTIME_ROOT,
      buildRoot: process.env.KETCH_BUILD_ROOT ?? DEFAULT_BUILD_ROOT,
      insecureRegistries: (process.env.KETCH_INSECURE_REGISTRIES ?? '').split(',').filter(Boolean),
      mirrors: {},
      access: clusterAccess(cli),
      progress: (s) => cli.io.stderr.write(s),
    });
    cli.out(`${svc.name}: built ${r.imageId.replace(/^sha256:/, '').slice(0, 12)}, pushed ${Object.entries(r.pushed).map(([t, d]) => `${t}@${d}`).join(', ')} (registry ${registry})`);
  }
}

/**
 * Pulls each service's image on every node, through the agents as `ketch image pull` does: the nodes' runtimes pull
 * (they trust the built-in registry's CA and present their node certificates), not this process.
 */
export async function resolveImages(cli: Cli, services: ServicePlan[]): Promise<void> {
  for (const svc of services) await pullOnNodes(cli, svc.image, {}, `${svc.name}: `);
}
