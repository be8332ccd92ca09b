// Certificates on the node as the kubelet keeps them (pki/kubelet-client-<time>.pem and kubelet-server-<time>.pem,
// certificate and key in one file, with a -current.pem symlink to the one in use), swapped atomically.
import { mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validity } from '../../lib/x509.js';

export interface CertKey {
  cert: string;
  key: string;
}

/** One kind of certificate in a directory: `<prefix>-current.pem` and the files it has pointed at. */
export class CertificateStore {
  constructor(
    readonly dir: string,
    readonly prefix: 'kubelet-client' | 'kubelet-server',
  ) {}

  get currentPath(): string {
    return join(this.dir, `${this.prefix}-current.pem`);
  }

  /** The certificate in use, or undefined when there is none (never written, or unreadable). */
  async current(): Promise<CertKey | undefined> {
    let text: string;
    try {
      text = await readFile(this.currentPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const cert = pemBlocks(text, /CERTIFICATE/).join('');
    const key = pemBlocks(text, /PRIVATE KEY/).join('');
    return cert && key ? { cert, key } : undefined;
  }

  /** Writes a new pair to its own file (0600) and points -current.pem at it; the previous file is removed. */
  async update(pair: CertKey, nowMs: number): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, '');
    const file = `${this.prefix}-${stamp}.pem`;
    await writeFile(join(this.dir, file), `${pair.cert.trimEnd()}\n${pair.key.trimEnd()}\n`, { mode: 0o600 });
    const previous = await readlink(this.currentPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    const tmp = `${this.currentPath}.tmp`;
    await rm(tmp, { force: true });
    await symlink(file, tmp);
    await rename(tmp, this.currentPath);
    if (previous && previous !== file) await rm(join(this.dir, previous), { force: true });
  }
}

/** The PEM blocks of text whose type matches. */
function pemBlocks(text: string, type: RegExp): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----\r?\n?/g)].filter((m) => type.test(m[1]!)).map((m) => (m[0].endsWith('\n') ? m[0] : `${m[0]}\n`));
}

/** Whether a pair is usable at nowMs (inside its validity). */
export function usable(pair: CertKey | undefined, nowMs: number): pair is CertKey {
  if (!pair) return false;
  const v = validity(pair.cert);
  return v.notBefore.getTime() <= nowMs && nowMs < v.notAfter.getTime();
}
