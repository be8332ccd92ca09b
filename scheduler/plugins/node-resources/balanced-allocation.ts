// NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would be used in similar fractions after
// placing the pod (score = (1 - standard deviation of the fractions) * 100).
import { MAX_NODE_SCORE, type ScorePlugin } from '../../framework/types.js';
import { allocatableOf, DEFAULT_RESOURCES, requestedWith, type ResourceSpec } from './fit.js';

export const NAME = 'NodeResourcesBalancedAllocation';

export function balancedAllocation(rawArgs: Record<string, unknown> = {}): ScorePlugin {
  const resources = (rawArgs.resources as ResourceSpec[] | undefined) ?? DEFAULT_RESOURCES;
  return {
    name: NAME,
    score(_state, pod, node) {
      if (resources.length === 2) {
        // The default (cpu, memory): no array per node.
        const [a, b] = resources as [ResourceSpec, ResourceSpec];
        const ca = allocatableOf(node, a.name);
        const cb = allocatableOf(node, b.name);
        if (ca !== 0 && cb !== 0) {
          const fa = Math.min(1, requestedWith(node, pod, a.name, false) / ca);
          const fb = Math.min(1, requestedWith(node, pod, b.name, false) / cb);
          return Math.floor((1 - Math.abs(fa - fb) / 2) * MAX_NODE_SCORE);
        }
      }
      const fractions: number[] = [];
      for (const r of resources) {
        const alloc = node.allocatable[r.name] ?? 0;
        if (alloc === 0) continue;
        fractions.push(Math.min(1, requestedWith(node, pod, r.name, false) / alloc));
      }
      let std = 0;
      if (fractions.length === 2) std = Math.abs(fractions[0]! - fractions[1]!) / 2;
      else if (fractions.length > 2) {
        const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
        std = Math.sqrt(fractions.reduce((a, f) => a + (f - mean) ** 2, 0) / fractions.length);
      }
      return Math.floor((1 - std) * MAX_NODE_SCORE);
    },
  };
}
