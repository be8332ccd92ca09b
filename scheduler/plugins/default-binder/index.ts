// DefaultBinder: writes the pods/binding subresource.
import { Status, type BindPlugin, type Handle } from '../../framework/types.js';

export const NAME = 'DefaultBinder';

export function defaultBinder(_args: Record<string, unknown>, handle: Handle): BindPlugin {
  return {
    name: NAME,
    async bind(_state, pod, nodeName) {
      try {
        await handle.api.bind(pod.pod, nodeName);
        return Status.success();
      } catch (err) {
        return Status.error(err);
      }
    },
  };
}
