// discovery.k8s.io/v1 EndpointSlice: generation counts changes to endpoints, ports and address type (as kube's
// strategy does), which is how the EndpointSlice controller tells its own writes from others'.
import type { ResourceInfo } from '../../../api/resources.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

export function endpointSliceStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, { tracksGeneration: true });
}
