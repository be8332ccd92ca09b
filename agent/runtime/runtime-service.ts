// The CRI RuntimeService over the sandbox and container stores: version, status and runtime config here, the
// sandbox methods in sandbox-service.ts, the container methods in container-service.ts, streams in stream-service.ts
// and stats in stats-service.ts.
import type { RuntimeServiceMethods, ServiceImpl } from '../cri/types.js';
import { containerMethods } from './container-service.js';
import { run } from './exec.js';
import { KeyedLock } from './keyed-lock.js';
import type { RuntimeDeps } from './runtime-deps.js';
import { sandboxMethods } from './sandbox-service.js';
import { statsMethods } from './stats-service.js';
import { streamMethods } from './stream-service.js';

export const RUNTIME_NAME = 'ketch-runtime';
export const RUNTIME_VERSION = '0.1.0';

export function runtimeService(deps: Omit<RuntimeDeps, 'locks'>): ServiceImpl<RuntimeServiceMethods> {
  const d: RuntimeDeps = { ...deps, locks: new KeyedLock() };
  const { network } = d;
  return {
    async Version() {
      return { version: '0.1.0', runtimeName: RUNTIME_NAME, runtimeVersion: RUNTIME_VERSION, runtimeApiVersion: 'v1' };
    },

    async Status(req) {
      const cidr = await network.podCidr();
      return {
        status: {
          conditions: [
            { type: 'RuntimeReady', status: Boolean(d.runcVersion), reason: d.runcVersion ? '' : 'RuncMissing', message: d.runcVersion ? '' : 'runc was not found' },
            network.conflict
              ? { type: 'NetworkReady', status: false, reason: 'PodCIDRConflict', message: network.conflict }
              : { type: 'NetworkReady', status: true, reason: '', message: cidr ? '' : 'no pod CIDR: pods get a loopback-only network' },
          ],
        },
        info: req.verbose ? { runc: JSON.stringify(d.runcVersion), podCidr: JSON.stringify(cidr ?? '') } : {},
      };
    },

    async UpdateRuntimeConfig(req) {
      const cidr = req.runtimeConfig?.networkConfig?.podCidr;
      if (cidr !== undefined) await network.setPodCidr(cidr);
      return {};
    },

    ...sandboxMethods(d),
    ...containerMethods(d),
    ...streamMethods(d),
    ...statsMethods(d),
  };
}

/** The first line of `runc --version`, or '' when runc is not there. */
export async function runcVersion(): Promise<string> {
  const res = await run('runc', ['--version'], { allowFailure: true }).catch((err: unknown) => {
    // runc not installed: that is the answer (the caller reports it), not a failure.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  });
  return res?.code === 0 ? (res.stdout.split('\n')[0] ?? '').trim() : '';
}
