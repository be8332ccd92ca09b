// Test support: a full listing of a directory tree (type, mode, owner, size, times, content digest or link target),
// taken before and after a hostile input to show that nothing outside the place it may write changed.
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Every path under `dir` but `skip` (and what is under it), one line each, in a stable order. */
export async function listing(dir: string, skip?: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    if (p === skip) return;
    const st = await lstat(p);
    let what = '';
    if (st.isSymbolicLink()) what = `-> ${await readlink(p)}`;
    else if (st.isFile()) what = createHash('sha256').update(await readFile(p)).digest('hex');
    out.push(`${p} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${st.rdev} ${what}`);
    if (st.isDirectory()) for (const n of (await readdir(p)).sort()) await walk(join(p, n));
  };
  await walk(dir);
  return out;
}
