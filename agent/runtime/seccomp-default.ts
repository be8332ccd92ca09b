// The RuntimeDefault seccomp profile: containerd's default (contrib/seccomp/seccomp_default.go at v1.6.20, the
// containerd Debian 12 ships), as data in the OCI runtime spec's LinuxSeccomp form, for amd64. Everything not allowed
// fails with EPERM; the syscalls a capability unlocks are allowed only when the container's bounding set has it, and
// without CAP_SYS_ADMIN clone may not make namespaces and unshare, mount and setns are refused.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { isNotExist } from '../../lib/errno.js';

/** Allowed for every container (the first list of DefaultProfile). */
const ALLOWED = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'capget', 'capset', 'chdir', 'chmod', 'chown',
  'chown32', 'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64', 'clock_gettime',
  'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64', 'close', 'close_range', 'connect',
  'copy_file_range', 'creat', 'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old',
  'epoll_pwait', 'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit',
  'exit_group', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fanotify_mark', 'fchdir',
  'fchmod', 'fchmodat', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr',
  'flock', 'fork', 'fremovexattr', 'fsetxattr', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync',
  'ftruncate', 'ftruncate64', 'futex', 'futex_time64', 'futex_waitv', 'futimesat', 'getcpu', 'getcwd', 'getdents',
  'getdents64', 'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32',
  'getitimer', 'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom', 'getresgid',
  'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'get_robust_list', 'getrusage', 'getsid', 'getsockname',
  'getsockopt', 'get_thread_area', 'gettid', 'gettimeofday', 'getuid', 'getuid32', 'getxattr', 'inotify_add_watch',
  'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy', 'io_getevents',
  'io_pgetevents', 'io_pgetevents_time64', 'ioprio_get', 'ioprio_set', 'io_setup', 'io_submit', 'io_uring_enter',
  'io_uring_register', 'io_uring_setup', 'ipc', 'kill', 'landlock_add_rule', 'landlock_create_ruleset',
  'landlock_restrict_self', 'lchown', 'lchown32', 'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr',
  '_llseek', 'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'lstat64', 'madvise', 'membarrier', 'memfd_create',
  'memfd_secret', 'mincore', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2',
  'mprotect', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend',
  'mq_timedsend_time64', 'mq_unlink', 'mremap', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock',
  'munlockall', 'munmap', 'nanosleep', 'newfstatat', '_newselect', 'open', 'openat', 'openat2', 'pause',
  'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'poll', 'ppoll',
  'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64', 'process_mrelease', 'pselect6',
  'pselect6_time64', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv',
  'recv', 'recvfrom', 'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'remap_file_pages', 'removexattr', 'rename',
  'renameat', 'renameat2', 'restart_syscall', 'rmdir', 'rseq', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask',
  'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64',
  'rt_tgsigqueueinfo', 'sched_getaffinity', 'sched_getattr', 'sched_getparam', 'sched_get_priority_max',
  'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
  'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp', 'select',
  'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'send', 'sendfile', 'sendfile64', 'sendmmsg',
  'sendmsg', 'sendto', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32', 'setgroups',
  'setgroups32', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32', 'setresgid', 'setresgid32',
  'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'set_robust_list', 'setsid', 'setsockopt',
  'set_thread_area', 'set_tid_address', 'setuid', 'setuid32', 'setxattr', 'shmat', 'shmctl', 'shmdt', 'shmget',
  'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'sigprocmask', 'sigreturn', 'socket', 'socketcall',
  'socketpair', 'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statx', 'symlink', 'symlinkat', 'sync',
  'sync_file_range', 'syncfs', 'sysinfo', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
  'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill', 'truncate',
  'truncate64', 'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimensat_time64',
  'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid', 'write', 'writev',
];

interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_EQ' | 'SCMP_CMP_MASKED_EQ';
}

interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  args?: SeccompArg[];
  errnoRet?: number;
}

export interface LinuxSeccomp {
  defaultAction: string;
  architectures?: string[];
  syscalls?: SeccompRule[];
}

const allow = (names: string[], args?: SeccompArg[]): SeccompRule => ({ names, action: 'SCMP_ACT_ALLOW', ...(args ? { args } : {}) });

/** personality(2) with the execution domains containerd allows: PER_LINUX, PER_LINUX32, UNAME26 and their mix, and the query. */
const PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** Syscalls a capability in the bounding set unlocks. */
const BY_CAPABILITY: Record<string, string[]> = {
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_ADMIN: [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount', 'mount_setattr',
    'move_mount', 'name_to_handle_at', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname',
    'setns', 'syslog', 'umount', 'umount2', 'unshare',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP. */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x02000000;
const ENOSYS = 38;

const cache = new Map<string, LinuxSeccomp>();

/** Reads a file of the host, undefined when it does not exist. */
export type HostFileReader = (path: string) => Buffer | undefined;

const readHostFile: HostFileReader = (path) => {
  try {
    return readFileSync(path);
  } catch (err) {
    if (isNotExist(err)) return undefined;
    throw err;
  }
};

/** A kernel boolean parameter's value as the kernel parses it (kstrtobool); undefined when not given or unparsable. */
function kernelBool(value: string | undefined): boolean | undefined {
  const v = value?.trim().toLowerCase();
  if (v === undefined) return undefined;
  if (['y', '1', 'on', 'yes', 'true'].includes(v)) return true;
  if (['n', '0', 'off', 'no', 'false'].includes(v)) return false;
  return undefined;
}

/**
 * Whether the running kernel executes x32 syscalls (__X32_SYSCALL_BIT set). Without CONFIG_X86_X32_ABI it does not
 * (the syscall fails with ENOSYS and no x32 binary can be loaded); Debian's kernels build it in but leave it off
 * unless booted with syscall.x32=y (their CONFIG_X86_X32_DISABLED), and show the setting in
 * /sys/module/syscall/parameters/x32. When the kernel's configuration cannot be read, the answer is yes: keeping x32
 * in the profile is never less safe.
 */
export function kernelRunsX32(read: HostFileReader = readHostFile, kernelRelease = release()): boolean {
  const param = kernelBool(read('/sys/module/syscall/parameters/x32')?.toString('utf8'));
  if (param !== undefined) return param;
  const gz = read('/proc/config.gz');
  const config = gz ? gunzipSync(gz).toString('utf8') : read(`/boot/config-${kernelRelease}`)?.toString('utf8');
  if (config === undefined) return true;
  const set = (option: string): boolean => new RegExp(`^${option}=y$`, 'm').test(config);
  if (!set('CONFIG_X86_X32_ABI')) return false;
  const flag = /(?:^|\s)syscall\.x32(?:=(\S*))?(?:\s|$)/.exec(read('/proc/cmdline')?.toString('utf8') ?? '');
  const asked = flag ? (kernelBool(flag[1] ?? 'y') ?? true) : undefined;
  return asked ?? !set('CONFIG_X86_X32_DISABLED');
}

let architectures: string[] | undefined;

/**
 * The architectures the profile lists: containerd's three for amd64, less x32 on a kernel that does not run it. libseccomp
 * compiles a filter section per architecture inside `runc init`, for every container, in time that grows faster than
 * the program (about 4 ms with x86_64 and x86, 9 ms with x32 too, on this project's machines): a section the kernel can
 * never reach buys nothing. What changes for the container: an x32 syscall, which such a kernel answers with ENOSYS
 * after the filter, now meets libseccomp's bad-architecture action (the thread is killed) in the filter instead; no
 * syscall reaches the kernel that did not before.
 */
function profileArchitectures(): string[] {
  architectures ??= ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', ...(kernelRunsX32() ? ['SCMP_ARCH_X32'] : [])];
  return architectures;
}

/** The profile for a container with this bounding set; built once per distinct set (the common ones are few). */
export function defaultSeccompProfile(bounding: readonly string[]): LinuxSeccomp {
  const key = [...bounding].sort().join(',');
  const hit = cache.get(key);
  if (hit) return hit;
  const syscalls: SeccompRule[] = [allow(ALLOWED)];
  for (const value of PERSONALITIES) syscalls.push(allow(['personality'], [{ index: 0, value, op: 'SCMP_CMP_EQ' }]));
  // Kernel 4.8 and later (containerd checks; every kernel Debian 12 runs is): ptrace cannot bypass seccomp there.
  syscalls.push(allow(['ptrace']));
  syscalls.push(allow(['arch_prctl', 'modify_ldt']));
  const caps = new Set(bounding);
  for (const [cap, names] of Object.entries(BY_CAPABILITY)) if (caps.has(cap)) syscalls.push(allow(names));
  if (!caps.has('CAP_SYS_ADMIN')) {
    syscalls.push(allow(['clone'], [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]));
    // ENOSYS, not EPERM, so that a libc falls back to clone (moby/moby#42681).
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  const profile: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: profileArchitectures(), syscalls };
  cache.set(key, profile);
  return profile;
}
