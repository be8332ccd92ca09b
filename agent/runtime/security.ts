// A container's confinement in the OCI spec: capabilities as containerd computes them, the seccomp profile (the
// RuntimeDefault one is containerd's, seccomp-default.ts), AppArmor where the kernel has it, and the paths of /proc
// and /sys that are masked or read-only. What cannot be applied is refused with the reason, never ignored.
import { readFileSync } from 'node:fs';
import type { LinuxContainerSecurityContext, SecurityProfile } from '../cri/types.js';
import { invalid } from '../cri/errors.js';
import { isNotExist } from '../../lib/errno.js';
import { type LinuxSeccomp, defaultSeccompProfile } from './seccomp-default.js';

/** The capabilities a container gets by default (Docker's and containerd's default set). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
// CAP_SYS_RESOURCE is left out of ALL_CAPS on purpose: runc cannot grant a capability it lacks itself.
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
];

/** containerd's default masked and read-only paths (oci/spec.go), with /sys/devices/virtual/powercap as kubelet adds it. */
export const DEFAULT_MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/sys/firmware', '/sys/devices/virtual/powercap', '/proc/scsi',
];
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const capName = (c: string): string => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);

/** containerd's order: add ALL, drop ALL, then the single adds, then the single drops. */
export function capabilities(sc: LinuxContainerSecurityContext | null | undefined): string[] {
  if (sc?.privileged) return [...ALL_CAPS];
  const add = sc?.capabilities?.addCapabilities ?? [];
  const drop = sc?.capabilities?.dropCapabilities ?? [];
  const isAll = (c: string): boolean => c.toUpperCase() === 'ALL';
  let caps = new Set(DEFAULT_CAPS);
  if (add.some(isAll)) caps = new Set(ALL_CAPS);
  if (drop.some(isAll)) caps = new Set();
  for (const c of add) if (!isAll(c)) caps.add(capName(c));
  for (const c of drop) if (!isAll(c)) caps.delete(capName(c));
  return [...caps];
}

/** Reads a Localhost seccomp profile (an OCI LinuxSeccomp document) from the node. */
function localhostSeccomp(path: string): LinuxSeccomp {
  if (!path.startsWith('/')) throw invalid(`seccomp profile "${path}" must be an absolute path on the node`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (isNotExist(err)) throw invalid(`seccomp profile "${path}" not found on the node`);
    throw invalid(`seccomp profile "${path}" unreadable: ${String(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalid(`seccomp profile "${path}" is not JSON: ${String(err)}`);
  }
  const p = doc as Partial<LinuxSeccomp>;
  if (typeof p !== 'object' || p === null || typeof p.defaultAction !== 'string') throw invalid(`seccomp profile "${path}" has no defaultAction`);
  return p as LinuxSeccomp;
}

/** The seccomp filter: none for privileged containers and Unconfined (or no profile given), as containerd does. */
export function seccompFor(sc: LinuxContainerSecurityContext | null | undefined, caps: readonly string[]): LinuxSeccomp | undefined {
  const profile = sc?.seccomp;
  if (sc?.privileged || !profile || profile.profileType === 'Unconfined') return undefined;
  if (profile.profileType === 'Localhost') return localhostSeccomp(profile.localhostRef);
  return defaultSeccompProfile(caps);
}

let apparmorEnabled: boolean | undefined;

/** Whether the kernel enforces AppArmor (read once). */
export function hostHasAppArmor(): boolean {
  if (apparmorEnabled === undefined) {
    try {
      apparmorEnabled = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
    } catch (err) {
      // No such module: this kernel has no AppArmor.
      if (!isNotExist(err)) throw err;
      apparmorEnabled = false;
    }
  }
  return apparmorEnabled;
}

/**
 * The AppArmor profile to run under: none when not asked for (or Unconfined). A Localhost profile must be loaded; the
 * RuntimeDefault profile would have to be generated and loaded with apparmor_parser, which this runtime does not do:
 * both are refused where they cannot be applied, as on a kernel without AppArmor.
 */
export function apparmorFor(profile: SecurityProfile | null | undefined, hasAppArmor = hostHasAppArmor()): string | undefined {
  if (!profile || profile.profileType === 'Unconfined') return undefined;
  const what = profile.profileType === 'Localhost' ? `AppArmor profile "${profile.localhostRef}"` : 'the RuntimeDefault AppArmor profile';
  if (!hasAppArmor) throw invalid(`${what} cannot be applied: AppArmor is not enabled on this node`);
  if (profile.profileType !== 'Localhost') throw invalid(`${what} cannot be applied: this runtime loads no default AppArmor profile; use Localhost with a loaded profile`);
  let loaded = '';
  try {
    loaded = readFileSync('/sys/kernel/security/apparmor/profiles', 'utf8');
  } catch (err) {
    throw invalid(`${what} cannot be applied: the loaded profiles are unreadable (${String(err)})`);
  }
  if (!loaded.split('\n').some((l) => l.split(' ')[0] === profile.localhostRef)) throw invalid(`${what} is not loaded on this node`);
  return profile.localhostRef;
}
