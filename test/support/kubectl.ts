// The real kubectl (v1.32) run against a test server's kubeconfig: exit code and output, never a throw.
import { execFile } from 'node:child_process';

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with `args` (and `stdin` as its input, for `-f -`) against `kubeconfig`. */
export function kubectl(kubeconfig: string, args: string[], stdin?: string): Promise<KubectlResult> {
  const env = { ...process.env, KUBECONFIG: kubeconfig, HOME: process.env.HOME ?? '/root' };
  return new Promise((resolve) => {
    const child = execFile(KUBECTL, args, { env, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}
