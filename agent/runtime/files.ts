// The runtime's file helpers: JSON state files written atomically and read with a fallback, and the file-system
// errors the runtime expects (a file not there, yet or any more) told apart from those it reports.
import { lstat, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { errnoOf, isNotExist } from '../../lib/errno.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

/** Whether the stat succeeds; ENOENT (or ENOTDIR: a file on the way) says no, other errors (EACCES, EIO) are thrown. */
async function found(check: Promise<unknown>): Promise<boolean> {
  try {
    await check;
    return true;
  } catch (err) {
    if (isNotExist(err) || errnoOf(err) === 'ENOTDIR') return false;
    throw err;
  }
}

/** Whether a path exists. */
export const exists = (p: string): Promise<boolean> => found(stat(p));

/** Whether a path exists, not following a final symbolic link. */
export const lexists = (p: string): Promise<boolean> => found(lstat(p));

/** The JSON in `file`, or `fallback` when there is none; a file that cannot be read or parsed is reported, then read as the fallback. */
export async function readJson<T>(file: string, fallback: T): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (!isNotExist(err)) log.warn('state file unreadable, taken as absent', { file, error: String(err) });
    return fallback;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    log.warn('state file is not JSON, taken as absent', { file, error: String(err) });
    return fallback;
  }
}

/** Atomic JSON write: a crash leaves the old file or the new one, never half of one. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(value, null, 1));
  await rename(`${file}.tmp`, file);
}
