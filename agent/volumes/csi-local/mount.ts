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

/** A path as mountinfo writes it (space, tab, newline and backslash as \ooo). */
const escape = (s: string): string => s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);

/** Compares mountinfo's mount points with the path escaped once, not every line unescaped (a node has hundreds). */
export async function isMountPoint(path: string): Promise<boolean> {
  const field = ` ${escape(path)} `;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // Fields: id, parent, major:minor, root, mount point: the fifth is the one after the fourth space.
    let at = -1;
    for (let i = 0; i < 4 && (at = line.indexOf(' ', at + 1)) >= 0; i++);
    if (at >= 0 && line.startsWith(field, at)) return true;
  }
  return false;
}

/** Mount points strictly under dir, in mountinfo's order (a mount made on top of another comes after it). */
export async function mountsUnder(dir: string): Promise<string[]> {
  return mountPoints().filter((mp) => mp.startsWith(`${dir}/`));
}

/** Mount points under dir (and dir itself when withSelf), each once, deepest first: the order to unmount them in. */
export async function mountsToUnmount(dir: string, withSelf = false): Promise<string[]> {
  const points = mountPoints().filter((mp) => mp.startsWith(`${dir}/`) || (withSelf && mp === dir));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
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
