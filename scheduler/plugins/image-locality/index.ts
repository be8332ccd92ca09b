// ImageLocality: prefers nodes that already have the pod's images, weighted by image size and by how widely the image
// is spread (an image on every node says little), between 23 MB and 1000 MB per container.
import { MAX_NODE_SCORE, Status, type Handle, type PreScorePlugin, type ScorePlugin } from '../../framework/types.js';

export const NAME = 'ImageLocality';
const MB = 1024 * 1024;
export const MIN_THRESHOLD = 23 * MB;
export const MAX_CONTAINER_THRESHOLD = 1000 * MB;

export function imageLocality(_args: Record<string, unknown>, handle: Handle): PreScorePlugin & ScorePlugin {
  return {
    name: NAME,
    // No node has any of the pod's images: every score would be 0, so the per-node loop is skipped.
    preScore(_state, pod) {
      return pod.images.some((img) => handle.snapshot.imageNodeCount(img) > 0) ? Status.success() : Status.skip();
    },
    score(_state, pod, node) {
      if (!node.images.size) return 0;
      const images = pod.images;
      if (!images.length) return 0;
      const total = handle.snapshot.list().length || 1;
      let sum = 0;
      for (const img of images) {
        const size = node.images.get(img);
        if (size !== undefined) sum += size * (handle.snapshot.imageNodeCount(img) / total);
      }
      const max = MAX_CONTAINER_THRESHOLD * images.length;
      const clamped = Math.min(max, Math.max(MIN_THRESHOLD, sum));
      return Math.floor((MAX_NODE_SCORE * (clamped - MIN_THRESHOLD)) / (max - MIN_THRESHOLD));
    },
  };
}
