// GENERATED from agent/cri/api.proto by scripts/gen-cri-types.ts: do not edit by hand.
// The decoded shapes (@grpc/proto-loader, options in agent/cri/proto.ts); regenerate with `npx tsx scripts/gen-cri-types.ts`.

/** An int64 field: a decimal string when received; a number is accepted when sent. */
export type Int64 = string | number;

export interface VersionRequest {
  version: string;
}

export interface VersionResponse {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface PortMapping {
  protocol: Protocol;
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export type MountPropagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';

export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  selinuxRelabel: boolean;
  propagation: MountPropagation;
}

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

export interface NamespaceOption {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
  targetId: string;
  usernsOptions: UserNamespace | null;
}

export interface IDMapping {
  hostId: number;
  containerId: number;
  length: number;
}

export interface UserNamespace {
  mode: NamespaceMode;
  uids: IDMapping[];
  gids: IDMapping[];
}

export type ProfileType = 'RuntimeDefault' | 'Unconfined' | 'Localhost';

export interface SecurityProfile {
  profileType: ProfileType;
  localhostRef: string;
}

export interface Int64Value {
  value: Int64;
}

export interface LinuxSandboxSecurityContext {
  namespaceOptions: NamespaceOption | null;
  runAsUser: Int64Value | null;
  readonlyRootfs: boolean;
  supplementalGroups: Int64[];
  privileged: boolean;
  runAsGroup: Int64Value | null;
  seccomp: SecurityProfile | null;
  apparmor: SecurityProfile | null;
}

export interface LinuxPodSandboxConfig {
  cgroupParent: string;
  securityContext: LinuxSandboxSecurityContext | null;
  sysctls: Record<string, string>;
  overhead: LinuxContainerResources | null;
  resources: LinuxContainerResources | null;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata | null;
  hostname: string;
  logDirectory: string;
  dnsConfig: DNSConfig | null;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: LinuxPodSandboxConfig | null;
}

export interface RunPodSandboxRequest {
  config: PodSandboxConfig | null;
  runtimeHandler: string;
}

export interface RunPodSandboxResponse {
  podSandboxId: string;
}

export interface StopPodSandboxRequest {
  podSandboxId: string;
}

export type StopPodSandboxResponse = Record<string, never>;

export interface RemovePodSandboxRequest {
  podSandboxId: string;
}

export type RemovePodSandboxResponse = Record<string, never>;

export interface PodSandboxStatusRequest {
  podSandboxId: string;
  verbose: boolean;
}

export interface PodIP {
  ip: string;
}

export interface PodSandboxNetworkStatus {
  ip: string;
  additionalIps: PodIP[];
}

export interface Namespace {
  options: NamespaceOption | null;
}

export interface LinuxPodSandboxStatus {
  namespaces: Namespace | null;
}

export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  createdAt: Int64;
  network: PodSandboxNetworkStatus | null;
  linux: LinuxPodSandboxStatus | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface PodSandboxStatusResponse {
  status: PodSandboxStatus | null;
  info: Record<string, string>;
  containersStatuses: ContainerStatus[];
  timestamp: Int64;
}

export interface PodSandboxStateValue {
  state: PodSandboxState;
}

export interface PodSandboxFilter {
  id: string;
  state: PodSandboxStateValue | null;
  labelSelector: Record<string, string>;
}

export interface ListPodSandboxRequest {
  filter: PodSandboxFilter | null;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  createdAt: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface ListPodSandboxResponse {
  items: PodSandbox[];
}

export interface ImageSpec {
  image: string;
  annotations: Record<string, string>;
  userSpecifiedImage: string;
  runtimeHandler: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface LinuxContainerResources {
  cpuPeriod: Int64;
  cpuQuota: Int64;
  cpuShares: Int64;
  memoryLimitInBytes: Int64;
  oomScoreAdj: Int64;
  cpusetCpus: string;
  cpusetMems: string;
  unified: Record<string, string>;
  memorySwapLimitInBytes: Int64;
}

export interface Capability {
  addCapabilities: string[];
  dropCapabilities: string[];
  addAmbientCapabilities: string[];
}

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
  seccomp: SecurityProfile | null;
  apparmor: SecurityProfile | null;
}

export interface LinuxContainerConfig {
  resources: LinuxContainerResources | null;
  securityContext: LinuxContainerSecurityContext | null;
}

export interface ContainerMetadata {
  name: string;
  attempt: number;
}

export interface Device {
  containerPath: string;
  hostPath: string;
  permissions: string;
}

export interface ContainerConfig {
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  command: string[];
  args: string[];
  workingDir: string;
  envs: KeyValue[];
  mounts: Mount[];
  devices: Device[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  linux: LinuxContainerConfig | null;
}

export interface CreateContainerRequest {
  podSandboxId: string;
  config: ContainerConfig | null;
  sandboxConfig: PodSandboxConfig | null;
}

export interface CreateContainerResponse {
  containerId: string;
}

export interface StartContainerRequest {
  containerId: string;
}

export type StartContainerResponse = Record<string, never>;

export interface StopContainerRequest {
  containerId: string;
  timeout: Int64;
}

export type StopContainerResponse = Record<string, never>;

export interface RemoveContainerRequest {
  containerId: string;
}

export type RemoveContainerResponse = Record<string, never>;

export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface ContainerStateValue {
  state: ContainerState;
}

export interface ContainerFilter {
  id: string;
  state: ContainerStateValue | null;
  podSandboxId: string;
  labelSelector: Record<string, string>;
}

export interface ListContainersRequest {
  filter: ContainerFilter | null;
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  imageRef: string;
  state: ContainerState;
  createdAt: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  imageId: string;
}

export interface ListContainersResponse {
  containers: Container[];
}

export interface ContainerStatusRequest {
  containerId: string;
  verbose: boolean;
}

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
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: Mount[];
  logPath: string;
  resources: ContainerResources | null;
  imageId: string;
}

export interface ContainerStatusResponse {
  status: ContainerStatus | null;
  info: Record<string, string>;
}

export interface ContainerResources {
  linux: LinuxContainerResources | null;
}

export interface UpdateContainerResourcesRequest {
  containerId: string;
  linux: LinuxContainerResources | null;
  annotations: Record<string, string>;
}

export type UpdateContainerResourcesResponse = Record<string, never>;

export interface ExecSyncRequest {
  containerId: string;
  cmd: string[];
  timeout: Int64;
}

export interface ExecSyncResponse {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface ExecResponse {
  url: string;
}

export interface AttachRequest {
  containerId: string;
  stdin: boolean;
  tty: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachResponse {
  url: string;
}

export interface PortForwardRequest {
  podSandboxId: string;
  port: number[];
}

export interface PortForwardResponse {
  url: string;
}

export interface ImageFilter {
  image: ImageSpec | null;
}

export interface ListImagesRequest {
  filter: ImageFilter | null;
}

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

export interface ListImagesResponse {
  images: Image[];
}

export interface ImageStatusRequest {
  image: ImageSpec | null;
  verbose: boolean;
}

export interface ImageStatusResponse {
  image: Image | null;
  info: Record<string, string>;
}

export interface AuthConfig {
  username: string;
  password: string;
  auth: string;
  serverAddress: string;
  identityToken: string;
  registryToken: string;
}

export interface PullImageRequest {
  image: ImageSpec | null;
  auth: AuthConfig | null;
  sandboxConfig: PodSandboxConfig | null;
}

export interface PullImageResponse {
  imageRef: string;
}

export interface RemoveImageRequest {
  image: ImageSpec | null;
}

export type RemoveImageResponse = Record<string, never>;

export interface NetworkConfig {
  podCidr: string;
}

export interface RuntimeConfig {
  networkConfig: NetworkConfig | null;
}

export interface UpdateRuntimeConfigRequest {
  runtimeConfig: RuntimeConfig | null;
}

export type UpdateRuntimeConfigResponse = Record<string, never>;

export interface RuntimeCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

export interface RuntimeStatus {
  conditions: RuntimeCondition[];
}

export interface StatusRequest {
  verbose: boolean;
}

export interface StatusResponse {
  status: RuntimeStatus | null;
  info: Record<string, string>;
}

export type ImageFsInfoRequest = Record<string, never>;

export interface UInt64Value {
  value: Int64;
}

export interface FilesystemIdentifier {
  mountpoint: string;
}

export interface FilesystemUsage {
  timestamp: Int64;
  fsId: FilesystemIdentifier | null;
  usedBytes: UInt64Value | null;
  inodesUsed: UInt64Value | null;
}

export interface ImageFsInfoResponse {
  imageFilesystems: FilesystemUsage[];
  containerFilesystems: FilesystemUsage[];
}

export interface ContainerStatsRequest {
  containerId: string;
}

export interface ContainerStatsResponse {
  stats: ContainerStats | null;
}

export interface ContainerStatsFilter {
  id: string;
  podSandboxId: string;
  labelSelector: Record<string, string>;
}

export interface ListContainerStatsRequest {
  filter: ContainerStatsFilter | null;
}

export interface ListContainerStatsResponse {
  stats: ContainerStats[];
}

export interface ContainerAttributes {
  id: string;
  metadata: ContainerMetadata | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerStats {
  attributes: ContainerAttributes | null;
  cpu: CpuUsage | null;
  memory: MemoryUsage | null;
  writableLayer: FilesystemUsage | null;
}

export interface CpuUsage {
  timestamp: Int64;
  usageCoreNanoSeconds: UInt64Value | null;
  usageNanoCores: UInt64Value | null;
}

export interface MemoryUsage {
  timestamp: Int64;
  workingSetBytes: UInt64Value | null;
  availableBytes: UInt64Value | null;
  usageBytes: UInt64Value | null;
  rssBytes: UInt64Value | null;
  pageFaults: UInt64Value | null;
  majorPageFaults: UInt64Value | null;
}

export interface ReopenContainerLogRequest {
  containerId: string;
}

export type ReopenContainerLogResponse = Record<string, never>;

/** RuntimeService: method name -> [request, response]. */
export interface RuntimeServiceMethods {
  Version: [VersionRequest, VersionResponse];
  RunPodSandbox: [RunPodSandboxRequest, RunPodSandboxResponse];
  StopPodSandbox: [StopPodSandboxRequest, StopPodSandboxResponse];
  RemovePodSandbox: [RemovePodSandboxRequest, RemovePodSandboxResponse];
  PodSandboxStatus: [PodSandboxStatusRequest, PodSandboxStatusResponse];
  ListPodSandbox: [ListPodSandboxRequest, ListPodSandboxResponse];
  CreateContainer: [CreateContainerRequest, CreateContainerResponse];
  StartContainer: [StartContainerRequest, StartContainerResponse];
  StopContainer: [StopContainerRequest, StopContainerResponse];
  RemoveContainer: [RemoveContainerRequest, RemoveContainerResponse];
  ListContainers: [ListContainersRequest, ListContainersResponse];
  ContainerStatus: [ContainerStatusRequest, ContainerStatusResponse];
  UpdateContainerResources: [UpdateContainerResourcesRequest, UpdateContainerResourcesResponse];
  ReopenContainerLog: [ReopenContainerLogRequest, ReopenContainerLogResponse];
  ExecSync: [ExecSyncRequest, ExecSyncResponse];
  Exec: [ExecRequest, ExecResponse];
  Attach: [AttachRequest, AttachResponse];
  PortForward: [PortForwardRequest, PortForwardResponse];
  ContainerStats: [ContainerStatsRequest, ContainerStatsResponse];
  ListContainerStats: [ListContainerStatsRequest, ListContainerStatsResponse];
  UpdateRuntimeConfig: [UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse];
  Status: [StatusRequest, StatusResponse];
}

/** ImageService: method name -> [request, response]. */
export interface ImageServiceMethods {
  ListImages: [ListImagesRequest, ListImagesResponse];
  ImageStatus: [ImageStatusRequest, ImageStatusResponse];
  PullImage: [PullImageRequest, PullImageResponse];
  RemoveImage: [RemoveImageRequest, RemoveImageResponse];
  ImageFsInfo: [ImageFsInfoRequest, ImageFsInfoResponse];
}
