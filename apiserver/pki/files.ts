// Credentials on disk under the data dir (certificates, keys, the token file): whether one is there yet.
import { stat } from 'node:fs/promises';

/** Whether a file exists; an error other than "no such file" (a permission, an I/O error) is thrown, not taken for absence. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
