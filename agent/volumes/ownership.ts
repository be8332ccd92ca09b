// fsGroup ownership of a pod volume (kubelet's SetVolumeOwnership, pkg/volume/volume_linux.go): every file and
// directory gets the group, group read (and write unless read-only) permission, directories also group search and the
// setgid bit so that new files inherit the group. Symlinks get the group but are not followed. With
// fsGroupChangePolicy OnRootMismatch the walk is skipped when the volume's root already has the group and permissions.
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const RW = 0o660;
const RO = 0o440;
const EXEC = 0o110;
const SETGID = 0o2000;

/** Whether the root lacks the group, setgid or the group permissions (requiresPermissionChange). */
async function needsChange(root: string, gid: number, readOnly: boolean): Promise<boolean> {
  const st = await lstat(root);
  const perms = readOnly ? RO : RW;
  return st.gid !== gid || (st.mode & SETGID) === 0 || (st.mode & perms) !== perms;
}

async function changeOne(path: string, gid: number, readOnly: boolean): Promise<{ dir: boolean }> {
  const st = await lstat(path);
  await lchown(path, -1, gid);
  if (st.isSymbolicLink()) return { dir: false };
  let mask = readOnly ? RO : RW;
  if (st.isDirectory()) mask |= SETGID | EXEC;
  await chmod(path, (st.mode & 0o7777) | mask);
  return { dir: st.isDirectory() };
}

/** Applies fsGroup to the volume at root; returns how many entries were changed (0 when OnRootMismatch skipped it). */
export async function setVolumeOwnership(root: string, fsGroup: number | undefined, policy: 'Always' | 'OnRootMismatch' = 'Always', readOnly = false): Promise<number> {
  if (fsGroup === undefined) return 0;
  if (policy === 'OnRootMismatch' && !(await needsChange(root, fsGroup, readOnly))) return 0;
  let changed = 0;
  const walk = async (path: string): Promise<void> => {
    const { dir } = await changeOne(path, fsGroup, readOnly);
    changed++;
    if (!dir) return;
    for (const e of await readdir(path, { withFileTypes: true })) await walk(join(path, e.name));
  };
  await walk(root);
  return changed;
}
