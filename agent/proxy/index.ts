// The service proxy as the agent runs it: informers for Services and EndpointSlices, and the proxy over them.
import type { EndpointSlice, Service } from '../../api/index.js';
import { InformerFactory, type Informer } from '../../client/informer.js';
import { ENDPOINTSLICES, SERVICES } from '../../client/resources.js';
import type { RestClient } from '../../client/rest.js';
import { ServiceProxy, type ServiceProxyOptions } from './proxy.js';

export { ServiceProxy, type ServiceProxyOptions, type ProxyInformer } from './proxy.js';
export { hostCommands, type HostCommands } from './commands.js';

export interface RunningServiceProxy {
  proxy: ServiceProxy;
  services: Informer<Service>;
  endpointSlices: Informer<EndpointSlice>;
  /** Removes the proxy's table, then stops the informers (unless they came from the caller's factory). */
  stop(): Promise<void>;
}

export type StartServiceProxyOptions = Omit<ServiceProxyOptions, 'services' | 'endpointSlices'> & {
  signal?: AbortSignal;
} & ({ rest: RestClient; factory?: undefined } | { factory: InformerFactory; rest?: undefined });

/**
 * Starts the informers (its own over `rest`, or the shared ones of `factory`, which the caller stops) and the proxy;
 * resolves once the whole table is in the kernel (rejects when nft refuses it).
 */
export async function startServiceProxy(o: StartServiceProxyOptions): Promise<RunningServiceProxy> {
  const { rest, factory: shared, signal, ...opts } = o;
  const factory = shared ?? new InformerFactory(rest, opts.log ? { log: opts.log } : {});
  const services = factory.for<Service>(SERVICES);
  const endpointSlices = factory.for<EndpointSlice>(ENDPOINTSLICES);
  const proxy = new ServiceProxy({ ...opts, services, endpointSlices });
  factory.start();
  const stopInformers = async (): Promise<void> => {
    if (!shared) await factory.stop();
  };
  try {
    await proxy.start(signal);
  } catch (err) {
    await proxy.stop().finally(stopInformers);
    throw err;
  }
  return {
    proxy,
    services,
    endpointSlices,
    async stop() {
      try {
        await proxy.stop();
      } finally {
        await stopInformers();
      }
    },
  };
}
