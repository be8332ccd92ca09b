// The service proxy as the agent runs it: informers for Services and EndpointSlices, and the proxy over them.
import type { EndpointSlice, Service } from '../../api/index.js';
import { Informer } from '../../client/informer.js';
import { ENDPOINTSLICES, SERVICES } from '../../client/resources.js';
import type { RestClient } from '../../client/rest.js';
import { ServiceProxy, type ServiceProxyOptions } from './proxy.js';

export { ServiceProxy, type ServiceProxyOptions, type ProxyInformer } from './proxy.js';
export { hostCommands, type HostCommands } from './commands.js';

export interface RunningServiceProxy {
  proxy: ServiceProxy;
  services: Informer<Service>;
  endpointSlices: Informer<EndpointSlice>;
  /** Removes the proxy's table, then stops the informers. */
  stop(): Promise<void>;
}

/** Starts informers and the proxy; resolves once the whole table is in the kernel (rejects when nft refuses it). */
export async function startServiceProxy(o: Omit<ServiceProxyOptions, 'services' | 'endpointSlices'> & { rest: RestClient; signal?: AbortSignal }): Promise<RunningServiceProxy> {
  const { rest, signal, ...opts } = o;
  const services = new Informer<Service>(rest.resource<Service>(SERVICES), opts.log ? { log: opts.log } : {});
  const endpointSlices = new Informer<EndpointSlice>(rest.resource<EndpointSlice>(ENDPOINTSLICES), opts.log ? { log: opts.log } : {});
  const proxy = new ServiceProxy({ ...opts, services, endpointSlices });
  services.start();
  endpointSlices.start();
  const stopInformers = (): Promise<unknown> => Promise.all([services.stop(), endpointSlices.stop()]);
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
