// TypeScript shapes of the runtime.v1 (CRI) messages in api.proto, as @grpc/proto-loader decodes them.
// Decoding options (see grpc.ts): camelCase names, enums as strings, int64 as decimal strings,
// scalar defaults filled in, absent sub-messages as null. int64 fields accept numbers when sent.

export type Int64 = string | number;

/** An int64 field as a number (0 when unset); values past 2^53 lose precision, which no limit here reaches. */
export function int64(v: Int64 | undefined | null): number {
  return v === undefined || v === null || v === '' ? 0 : Number(v);
}
export type StringMap = Record<string, string>;

/** Makes every field optional, recursively: the shape a caller may send. */
export type DeepPartial<T> = T extends Buffer | Uint8Array
  ? T
  : T extends readonly (infer U)[]
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> | null }
      : T;

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type MountPropagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface VersionRequest { version: string }
export interface VersionResponse { version: string; runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }

export interface DNSConfig { servers: string[]; searches: string[]; options: string[] }
export interface PortMapping { protocol: Protocol; containerPort: number; hostPort: number; hostIp: string }
export interface Mount { containerPath: string; hostPath: string; readonly: boolean; selinuxRelabel: boolean; propagation: MountPropagation }
export interface NamespaceOption { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId: string }
export interface Int64Value { value: Int64 }
export interface UInt64Value { value: Int64 }

export interface LinuxSandboxSecurityContext {
  namespaceOptions: NamespaceOption | null;
  runAsUser: Int64Value | null;
  readonlyRootfs: boolean;
  supplementalGroups: Int64[];
  privileged: boolean;
  runAsGroup: Int64Value | null;
}
export interface LinuxPodSandboxConfig {
  cgroupParent: string;
  securityContext: LinuxSandboxSecurityContext | null;
  sysctls: StringMap;
  overhead: LinuxContainerResources | null;
  resources: LinuxContainerResources | null;
}
export interface PodSandboxMetadata { name: string; uid: string; namespace: string; attempt: number }
export interface PodSandboxConfig {
  metadata: PodSandboxMetadata | null;
  hostname: string;
  logDirectory: string;
  dnsConfig: DNSConfig | null;
  portMappings: PortMapping[];
  labels: StringMap;
  annotations: StringMap;
  linux: LinuxPodSandboxConfig | null;
}

export interface RunPodSandboxRequest { config: PodSandboxConfig | null; runtimeHandler: string }
export interface RunPodSandboxResponse { podSandboxId: string }
export interface PodSandboxIdRequest { podSandboxId: string }
export type Empty = Record<string, never>;
export interface PodSandboxStatusRequest { podSandboxId: string; verbose: boolean }
export interface PodIP { ip: string }
export interface PodSandboxNetworkStatus { ip: string; additionalIps: PodIP[] }
export interface LinuxPodSandboxStatus { namespaces: { options: NamespaceOption | null } | null }
export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  createdAt: Int64;
  network: PodSandboxNetworkStatus | null;
  linux: LinuxPodSandboxStatus | null;
  labels: StringMap;
  annotations: StringMap;
  runtimeHandler: string;
}
export interface PodSandboxStatusResponse { status: PodSandboxStatus | null; info: StringMap; containersStatuses: ContainerStatus[]; timestamp: Int64 }
export interface PodSandboxFilter { id: string; state: { state: PodSandboxState } | null; labelSelector: StringMap }
export interface ListPodSandboxRequest { filter: PodSandboxFilter | null }
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  createdAt: Int64;
  labels: StringMap;
  annotations: StringMap;
  runtimeHandler: string;
}
export interface ListPodSandboxResponse { items: PodSandbox[] }

export interface ImageSpec { image: string; annotations: StringMap; userSpecifiedImage: string; runtimeHandler: string }
export interface KeyValue { key: string; value: string }
export interface LinuxContainerResources {
  cpuPeriod: Int64;
  cpuQuota: Int64;
  cpuShares: Int64;
  memoryLimitInBytes: Int64;
  oomScoreAdj: Int64;
  cpusetCpus: string;
  cpusetMems: string;
  unified: StringMap;
  memorySwapLimitInBytes: Int64;
}
export interface Capability { addCapabilities: string[]; dropCapabilities: string[]; addAmbientCapabilities: string[] }
export interface LinuxContainerSecurityContext {
  capabilities: Capability | null;
  privileged: boolean;
  namespaceOptions: NamespaceOption | null;
  runAsUser: Int64Value | null;
  runAsUsername: string;
  readonlyRootfs: boolean;
  supplementalGroups: Int64[];
  noNewPrivs: boolean;
  runAsGroup: Int64Value | null;
  maskedPaths: string[];
  readonlyPaths: string[];
}
export interface LinuxContainerConfig { resources: LinuxContainerResources | null; securityContext: LinuxContainerSecurityContext | null }
export interface ContainerMetadata { name: string; attempt: number }
export interface Device { containerPath: string; hostPath: string; permissions: string }
export interface ContainerConfig {
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  command: string[];
  args: string[];
  workingDir: string;
  envs: KeyValue[];
  mounts: Mount[];
  devices: Device[];
  labels: StringMap;
  annotations: StringMap;
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  linux: LinuxContainerConfig | null;
}
export interface CreateContainerRequest { podSandboxId: string; config: ContainerConfig | null; sandboxConfig: PodSandboxConfig | null }
export interface CreateContainerResponse { containerId: string }
export interface ContainerIdRequest { containerId: string }
export interface StopContainerRequest { containerId: string; timeout: Int64 }
export interface ContainerFilter { id: string; state: { state: ContainerState } | null; podSandboxId: string; labelSelector: StringMap }
export interface ListContainersRequest { filter: ContainerFilter | null }
export interface Container {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  imageRef: string;
  state: ContainerState;
  createdAt: Int64;
  labels: StringMap;
  annotations: StringMap;
  imageId: string;
}
export interface ListContainersResponse { containers: Container[] }
export interface ContainerStatusRequest { containerId: string; verbose: boolean }
export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata | null;
  state: ContainerState;
  createdAt: Int64;
  startedAt: Int64;
  finishedAt: Int64;
  exitCode: number;
  image: ImageSpec | null;
  imageRef: string;
  reason: string;
  message: string;
  labels: StringMap;
  annotations: StringMap;
  mounts: Mount[];
  logPath: string;
  resources: { linux: LinuxContainerResources | null } | null;
  imageId: string;
}
export interface ContainerStatusResponse { status: ContainerStatus | null; info: StringMap }
export interface UpdateContainerResourcesRequest { containerId: string; linux: LinuxContainerResources | null; annotations: StringMap }
export interface ExecSyncRequest { containerId: string; cmd: string[]; timeout: Int64 }
export interface ExecSyncResponse { stdout: Buffer; stderr: Buffer; exitCode: number }
export interface ExecRequest { containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
export interface AttachRequest { containerId: string; stdin: boolean; tty: boolean; stdout: boolean; stderr: boolean }
export interface PortForwardRequest { podSandboxId: string; port: number[] }
export interface UrlResponse { url: string }

export interface ImageFilter { image: ImageSpec | null }
export interface ListImagesRequest { filter: ImageFilter | null }
export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: Int64;
  uid: Int64Value | null;
  username: string;
  spec: ImageSpec | null;
  pinned: boolean;
  imageSource: string;
}
export interface ListImagesResponse { images: Image[] }
export interface ImageStatusRequest { image: ImageSpec | null; verbose: boolean }
export interface ImageStatusResponse { image: Image | null; info: StringMap }
export interface AuthConfig {
  username: string;
  password: string;
  auth: string;
  serverAddress: string;
  identityToken: string;
  registryToken: string;
}
export interface PullImageRequest { image: ImageSpec | null; auth: AuthConfig | null; sandboxConfig: PodSandboxConfig | null }
export interface PullImageResponse { imageRef: string }
export interface RemoveImageRequest { image: ImageSpec | null }
export interface UpdateRuntimeConfigRequest { runtimeConfig: { networkConfig: { podCidr: string } | null } | null }
export interface RuntimeCondition { type: string; status: boolean; reason: string; message: string }
export interface StatusRequest { verbose: boolean }
export interface StatusResponse { status: { conditions: RuntimeCondition[] } | null; info: StringMap }
export interface FilesystemUsage {
  timestamp: Int64;
  fsId: { mountpoint: string } | null;
  usedBytes: UInt64Value | null;
  inodesUsed: UInt64Value | null;
}
export interface ImageFsInfoResponse { imageFilesystems: FilesystemUsage[]; containerFilesystems: FilesystemUsage[] }
export interface ContainerStatsFilter { id: string; podSandboxId: string; labelSelector: StringMap }
export interface ListContainerStatsRequest { filter: ContainerStatsFilter | null }
export interface ContainerAttributes { id: string; metadata: ContainerMetadata | null; labels: StringMap; annotations: StringMap }
export interface CpuUsage { timestamp: Int64; usageCoreNanoSeconds: UInt64Value | null; usageNanoCores: UInt64Value | null }
export interface MemoryUsage {
  timestamp: Int64;
  workingSetBytes: UInt64Value | null;
  availableBytes: UInt64Value | null;
  usageBytes: UInt64Value | null;
  rssBytes: UInt64Value | null;
  pageFaults: UInt64Value | null;
  majorPageFaults: UInt64Value | null;
}
export interface ContainerStats {
  attributes: ContainerAttributes | null;
  cpu: CpuUsage | null;
  memory: MemoryUsage | null;
  writableLayer: FilesystemUsage | null;
}
export interface ContainerStatsResponse { stats: ContainerStats | null }
export interface ListContainerStatsResponse { stats: ContainerStats[] }

/** RuntimeService: method name -> [request, response]. */
export interface RuntimeMethods {
  Version: [VersionRequest, VersionResponse];
  Status: [StatusRequest, StatusResponse];
  UpdateRuntimeConfig: [UpdateRuntimeConfigRequest, Empty];
  RunPodSandbox: [RunPodSandboxRequest, RunPodSandboxResponse];
  StopPodSandbox: [PodSandboxIdRequest, Empty];
  RemovePodSandbox: [PodSandboxIdRequest, Empty];
  PodSandboxStatus: [PodSandboxStatusRequest, PodSandboxStatusResponse];
  ListPodSandbox: [ListPodSandboxRequest, ListPodSandboxResponse];
  CreateContainer: [CreateContainerRequest, CreateContainerResponse];
  StartContainer: [ContainerIdRequest, Empty];
  StopContainer: [StopContainerRequest, Empty];
  RemoveContainer: [ContainerIdRequest, Empty];
  ListContainers: [ListContainersRequest, ListContainersResponse];
  ContainerStatus: [ContainerStatusRequest, ContainerStatusResponse];
  UpdateContainerResources: [UpdateContainerResourcesRequest, Empty];
  ReopenContainerLog: [ContainerIdRequest, Empty];
  ExecSync: [ExecSyncRequest, ExecSyncResponse];
  Exec: [ExecRequest, UrlResponse];
  Attach: [AttachRequest, UrlResponse];
  PortForward: [PortForwardRequest, UrlResponse];
  ContainerStats: [ContainerIdRequest, ContainerStatsResponse];
  ListContainerStats: [ListContainerStatsRequest, ListContainerStatsResponse];
}

/** ImageService: method name -> [request, response]. */
export interface ImageMethods {
  ListImages: [ListImagesRequest, ListImagesResponse];
  ImageStatus: [ImageStatusRequest, ImageStatusResponse];
  PullImage: [PullImageRequest, PullImageResponse];
  RemoveImage: [RemoveImageRequest, Empty];
  ImageFsInfo: [Empty, ImageFsInfoResponse];
}

/** What a server implements: each method gets the decoded request and returns what to send. */
export type MethodTable<M> = { [K in keyof M]: [unknown, unknown] };
export type ServiceImpl<M extends MethodTable<M>> = {
  [K in keyof M]: (req: M[K][0]) => Promise<DeepPartial<M[K][1]>>;
};
