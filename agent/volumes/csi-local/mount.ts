// Bind mounts for the node side: mount a directory on a target (read-only when asked), unmount it, and tell whether a
// path is a mount point (from /proc/self/mountinfo, whose paths escape space, tab, newline and backslash as \ooo).
import { readFileSync } from 'node:fs';
// Through the runtime's command helper, not a fork of the agent's own (large) process per mount.
import { run } from '../../runtime/command-runner.js';

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

// Read synchronously: a procfs read of microseconds, where an asynchronous one waits for a thread of a pool the API
// server's WAL syncs keep busy under `ketch up` (see agent/atomic-writer.ts).
function mountPoints(): string[] {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  return info.split('\n').map((l) => unescape(l.split(' ')[4] ?? ''));
}

export async function isMountPoint(path: string): Promise<boolean> {
  return mountPoints().includes(path);
}

/** Mount points strictly under dir, in mountinfo's order (a mount made on top of another comes after it). */
export async function mountsUnder(dir: string): Promise<string[]> {
  return mountPoints().filter((mp) => mp.startsWith(`${dir}/`));
}

/** `mount --bind source target`, then a read-only remount when readOnly (a bind mount takes no ro flag at once). */
export async function bindMount(source: string, target: string, readOnly: boolean): Promise<void> {
  await run('mount', ['--bind', source, target]);
  if (readOnly) {
    try {
      await run('mount', ['-o', 'remount,bind,ro', target]);
    } catch (err) {
      // A mount that should be read-only and is not must not stay. The remount's error is the one to report; if the
      // umount fails as well, the target stays a mount point and the caller's unpublish (which unmounts) retries it.
      await run('umount', [target]).catch(() => undefined);
      throw err;
    }
  }
}

export async function unmount(target: string): Promise<void> {
  await run('umount', [target]);
}
