// The in-tree plugins by name, as profiles refer to them.
import type { PluginFactory } from '../framework/types.js';
import { defaultBinder } from './default-binder/index.js';
import { defaultPreemption } from './default-preemption/index.js';
import { imageLocality } from './image-locality/index.js';
import { interPodAffinity } from './inter-pod-affinity/index.js';
import { nodeAffinity } from './node-affinity/index.js';
import { nodeName } from './node-name/index.js';
import { nodePorts } from './node-ports/index.js';
import { balancedAllocation, nodeResourcesFit } from './node-resources/index.js';
import { nodeUnschedulable } from './node-unschedulable/index.js';
import { podTopologySpread } from './pod-topology-spread/index.js';
import { taintToleration } from './taint-toleration/index.js';
import { volumeBinding } from './volume-binding/index.js';
import { volumeRestrictions } from './volume-restrictions/index.js';

export const IN_TREE_PLUGINS: Readonly<Record<string, PluginFactory>> = {
  NodeUnschedulable: () => nodeUnschedulable(),
  NodeName: () => nodeName(),
  TaintToleration: () => taintToleration(),
  NodeAffinity: () => nodeAffinity(),
  NodePorts: () => nodePorts(),
  NodeResourcesFit: (args) => nodeResourcesFit(args),
  VolumeRestrictions: (args, h) => volumeRestrictions(args, h),
  VolumeBinding: (args, h) => volumeBinding(args, h),
  NodeResourcesBalancedAllocation: (args) => balancedAllocation(args),
  PodTopologySpread: (args, h) => podTopologySpread(args, h),
  InterPodAffinity: (args, h) => interPodAffinity(args, h),
  ImageLocality: (args, h) => imageLocality(args, h),
  DefaultPreemption: (args, h) => defaultPreemption(args, h),
  DefaultBinder: (args, h) => defaultBinder(args, h),
};
