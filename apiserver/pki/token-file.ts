// The static token file (kube-apiserver's --token-auth-file): the one given, or DIR/token-file, created on first start
// with a random admin token in system:masters.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { fileExists } from './files.js';

/** The path of the token file to load. */
export async function ensureTokenFile(dataDir: string, tokenFile: string | undefined, log: Logger): Promise<string> {
  if (tokenFile) return tokenFile;
  const path = join(dataDir, 'token-file');
  if (!(await fileExists(path))) {
    const token = randomBytes(24).toString('hex');
    await writeFile(path, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
    log.info('token file created', { path });
  }
  return path;
}
