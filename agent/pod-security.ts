// A pod's securityContext as the CRI asks for it (kubelet's kuberuntime security_context.go and helpers): users and
// groups, capabilities, no_new_privs, the seccomp and AppArmor profiles (RuntimeDefault seccomp unless the agent runs
// with --no-seccomp-default), masked /proc paths; and kubelet's checks that refuse what cannot be honoured.
import type { Container, Pod } from '../api/index.js';
import type { DeepPartial, LinuxContainerSecurityContext, SecurityProfile } from './cri/index.js';
import { ContainerConfigError } from './pod-config.js';

export interface SecurityOptions {
  /** Containers without a seccompProfile run under RuntimeDefault (kubelet's --seccomp-default; on in ketch). */
  seccompDefault: boolean;
  /** Where Localhost seccomp profiles live on the node (kubelet: <root-dir>/seccomp). */
  seccompProfileRoot: string;
}

/** kubelet's defaultMaskedPaths and defaultReadonlyPaths, sent explicitly unless the container is privileged. */
export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

const podName = (pod: Pod): string => `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;

function noDotDot(path: string, what: string): string {
  if (!path || path.startsWith('/') || path.split('/').includes('..')) throw new ContainerConfigError(`${what} "${path}" must be a relative path without ".."`);
  return path;
}

function seccomp(pod: Pod, c: Container, o: SecurityOptions): DeepPartial<SecurityProfile> {
  const p = c.securityContext?.seccompProfile ?? pod.spec.securityContext?.seccompProfile;
  if (!p) return { profileType: o.seccompDefault ? 'RuntimeDefault' : 'Unconfined' };
  if (p.type === 'Localhost') {
    return { profileType: 'Localhost', localhostRef: `${o.seccompProfileRoot}/${noDotDot(p.localhostProfile ?? '', 'seccompProfile.localhostProfile')}` };
  }
  return { profileType: p.type };
}

/** The AppArmor profile the pod asks for (fields first, then the beta annotation); undefined: the runtime's choice. */
function apparmor(pod: Pod, c: Container): DeepPartial<SecurityProfile> | undefined {
  const p = c.securityContext?.appArmorProfile ?? pod.spec.securityContext?.appArmorProfile;
  if (p) return p.type === 'Localhost' ? { profileType: 'Localhost', localhostRef: p.localhostProfile ?? '' } : { profileType: p.type };
  const a = pod.metadata.annotations?.[`${APPARMOR_ANNOTATION}${c.name}`];
  if (!a) return undefined;
  if (a === 'runtime/default') return { profileType: 'RuntimeDefault' };
  if (a === 'unconfined') return { profileType: 'Unconfined' };
  if (a.startsWith('localhost/')) return { profileType: 'Localhost', localhostRef: a.slice('localhost/'.length) };
  throw new ContainerConfigError(`invalid AppArmor profile "${a}" (want runtime/default, unconfined or localhost/NAME)`);
}

/** The container's CRI security context; throws what must be refused (procMount Unmasked needs a user namespace). */
export function containerSecurity(pod: Pod, c: Container, o: SecurityOptions): DeepPartial<LinuxContainerSecurityContext> {
  const sc = c.securityContext;
  const psc = pod.spec.securityContext;
  const runAsUser = sc?.runAsUser ?? psc?.runAsUser;
  const runAsGroup = sc?.runAsGroup ?? psc?.runAsGroup;
  const privileged = sc?.privileged ?? false;
  if (sc?.procMount === 'Unmasked') throw new ContainerConfigError(`container ${c.name}: procMount Unmasked needs a user namespace (hostUsers: false), which this node does not provide`);
  // kubelet adds fsGroup to the supplemental groups, so that the process can use the volumes made its group's.
  const groups = [...(psc?.supplementalGroups ?? []), ...(psc?.fsGroup !== undefined ? [psc.fsGroup] : [])];
  const armor = apparmor(pod, c);
  return {
    privileged,
    readonlyRootfs: sc?.readOnlyRootFilesystem ?? false,
    ...(runAsUser !== undefined ? { runAsUser: { value: runAsUser } } : {}),
    ...(runAsGroup !== undefined ? { runAsGroup: { value: runAsGroup } } : {}),
    supplementalGroups: [...new Set(groups)],
    ...(sc?.capabilities ? { capabilities: { addCapabilities: sc.capabilities.add ?? [], dropCapabilities: sc.capabilities.drop ?? [] } } : {}),
    noNewPrivs: sc?.allowPrivilegeEscalation === false,
    maskedPaths: privileged ? [] : MASKED_PATHS,
    readonlyPaths: privileged ? [] : READONLY_PATHS,
    seccomp: seccomp(pod, c, o),
    ...(armor ? { apparmor: armor } : {}),
    namespaceOptions: {
      network: pod.spec.hostNetwork ? 'NODE' : 'POD',
      pid: pod.spec.hostPID ? 'NODE' : pod.spec.shareProcessNamespace ? 'POD' : 'CONTAINER',
      ipc: pod.spec.hostIPC ? 'NODE' : 'POD',
    },
  };
}

/** What the image says about its user (CRI ImageStatus: uid, or a user name). */
export interface ImageUser {
  uid?: number;
  username: string;
}

/** kubelet's verifyRunAsNonRoot: with runAsNonRoot, the user the container will run as must be provably non-root. */
export function verifyRunAsNonRoot(pod: Pod, c: Container, image: ImageUser): void {
  const nonRoot = c.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot;
  if (!nonRoot) return;
  const who = `(pod: "${podName(pod)}", container: ${c.name})`;
  const runAsUser = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  if (runAsUser !== undefined) {
    if (runAsUser === 0) throw new ContainerConfigError(`container's runAsUser breaks non-root policy ${who}`);
    return;
  }
  if (image.uid === 0) throw new ContainerConfigError(`container has runAsNonRoot and image will run as root ${who}`);
  if (image.uid === undefined && image.username) {
    throw new ContainerConfigError(`container has runAsNonRoot and image has non-numeric user (${image.username}), cannot verify user is non-root ${who}`);
  }
}

/** Pods the node cannot run as asked, refused before a sandbox is made. */
export function refusePod(pod: Pod): string | undefined {
  if (pod.spec.hostUsers === false) {
    return 'user namespaces (hostUsers: false) are not supported on this node: runc 1.1 cannot id-map the rootfs and volume mounts';
  }
  return undefined;
}
