// storage.k8s.io/v1 schemas: StorageClass, CSIDriver, CSINode.
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Bool, Int32, Int64, Arr, StrArr, StrMap, MergeList } from './kit.js';
import { kindSchema } from './meta.js';

const def = (name: string) => `io.k8s.api.storage.v1.${name}`;

export const VOLUME_BINDING_MODES = ['Immediate', 'WaitForFirstConsumer'] as const;
export type VolumeBindingMode = (typeof VOLUME_BINDING_MODES)[number];
/** A StorageClass may only Delete or Retain what it provisions (Recycle is for volumes made by hand). */
export const CLASS_RECLAIM_POLICIES = ['Delete', 'Retain'] as const;

export const TopologySelectorTerm = named(
  'io.k8s.api.core.v1.TopologySelectorTerm',
  Type.Object(
    {
      matchLabelExpressions: Opt(
        Arr(named('io.k8s.api.core.v1.TopologySelectorLabelRequirement', Type.Object({ key: Str(), values: StrArr() })), { 'x-kubernetes-list-type': 'atomic' }),
      ),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
);
export type TopologySelectorTerm = Static<typeof TopologySelectorTerm>;

export const StorageClass = kindSchema(
  def('StorageClass'),
  'storage.k8s.io/v1',
  'StorageClass',
  {
    provisioner: Str({ description: 'The volume plugin or CSI driver that provisions volumes of this class, e.g. rancher.io/local-path.' }),
    parameters: Opt(StrMap({ description: "Passed to the provisioner; their meaning is the provisioner's." })),
    reclaimPolicy: Opt(Str({ description: 'Delete (default) or Retain: what happens to a provisioned volume when its claim is deleted.' })),
    mountOptions: Opt(Arr(Str(), { 'x-kubernetes-list-type': 'atomic' })),
    allowVolumeExpansion: Opt(Bool({ description: 'Whether claims of this class may grow.' })),
    volumeBindingMode: Opt(Str({ description: 'Immediate (default) or WaitForFirstConsumer: bind and provision once a pod using the claim is scheduled.' })),
    allowedTopologies: Opt(Arr(TopologySelectorTerm, { 'x-kubernetes-list-type': 'atomic' })),
  },
  'Describes the parameters for a class of storage for which PersistentVolumes can be dynamically provisioned.',
);
export type StorageClass = Static<typeof StorageClass>;

export const FS_GROUP_POLICIES = ['ReadWriteOnceWithFSType', 'File', 'None'] as const;
export const VOLUME_LIFECYCLE_MODES = ['Persistent', 'Ephemeral'] as const;

export const CSIDriverSpec = named(
  def('CSIDriverSpec'),
  Type.Object({
    attachRequired: Opt(Bool()),
    podInfoOnMount: Opt(Bool()),
    volumeLifecycleModes: Opt(Arr(Str(), { 'x-kubernetes-list-type': 'set' })),
    storageCapacity: Opt(Bool()),
    fsGroupPolicy: Opt(Str()),
    tokenRequests: Opt(
      Arr(named(def('TokenRequest'), Type.Object({ audience: Str(), expirationSeconds: Opt(Int64()) })), { 'x-kubernetes-list-type': 'atomic' }),
    ),
    requiresRepublish: Opt(Bool()),
    seLinuxMount: Opt(Bool()),
  }),
);
export type CSIDriverSpec = Static<typeof CSIDriverSpec>;

export const CSIDriver = kindSchema(
  def('CSIDriver'),
  'storage.k8s.io/v1',
  'CSIDriver',
  { spec: CSIDriverSpec },
  'Information about a Container Storage Interface (CSI) volume driver deployed on the cluster.',
);
export type CSIDriver = Static<typeof CSIDriver>;

export const CSINodeDriver = named(
  def('CSINodeDriver'),
  Type.Object({
    name: Str({ description: 'The CSI driver this entry is about.' }),
    nodeID: Str({ description: "The node's id as the driver knows it (NodeGetInfo)." }),
    topologyKeys: Opt(Arr(Str(), { 'x-kubernetes-list-type': 'atomic' })),
    allocatable: Opt(named(def('VolumeNodeResources'), Type.Object({ count: Opt(Int32()) }))),
  }),
);
export type CSINodeDriver = Static<typeof CSINodeDriver>;

export const CSINode = kindSchema(
  def('CSINode'),
  'storage.k8s.io/v1',
  'CSINode',
  { spec: named(def('CSINodeSpec'), Type.Object({ drivers: MergeList(CSINodeDriver, 'name') })) },
  'The CSI drivers installed on a node (named after the node).',
);
export type CSINode = Static<typeof CSINode>;
