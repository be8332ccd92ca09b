// ImageLocality: prefers nodes that already have the pod's images, weighted by image size and by how widely the image
// is spread (an image on every node says little), between 23 MB and 1000 MB per container.
import { normalizeImage } from '../../framework/node-info.js';
import { MAX_NODE_SCORE, type Handle, type ScorePlugin } from '../../framework/types.js';

export const NAME = 'ImageLocality';
const MB = 1024 * 1024;
export const MIN_THRESHOLD = 23 * MB;
export const MAX_CONTAINER_THRESHOLD = 1000 * MB;

export function imageLocality(_args: Record<string, unknown>, handle: Handle): ScorePlugin {
  return {
    name: NAME,
    score(_state, pod, node) {
      const containers = [...(pod.pod.spec.initContainers ?? []), ...(pod.pod.spec.containers ?? [])];
      if (!containers.length || !node.images.size) return 0;
      const total = handle.snapshot.list().length || 1;
      let sum = 0;
      for (const c of containers) {
        const img = normalizeImage(c.image);
        const size = node.images.get(img);
        if (size !== undefined) sum += size * (handle.snapshot.imageNodeCount(img) / total);
      }
      const max = MAX_CONTAINER_THRESHOLD * containers.length;
      const clamped = Math.min(max, Math.max(MIN_THRESHOLD, sum));
      return Math.floor((MAX_NODE_SCORE * (clamped - MIN_THRESHOLD)) / (max - MIN_THRESHOLD));
    },
  };
}
