// Runs the Python client scenarios (test/clients/python/*.py) with Debian's python3-kubernetes: /usr/bin/python3,
// not a python3 that PATH may put first (pyenv), which lacks the distribution's packages.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('./python/', import.meta.url));
export const PYTHON = '/usr/bin/python3';

/** Runs SCRIPT with the args and parses the one JSON document it prints; fails with its stderr when it fails. */
export function runPython<T = Record<string, unknown>>(script: string, args: string[], timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [`${DIR}${script}`, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${script} ${args.join(' ')}: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${script}: not one JSON document on stdout: ${stdout}\n${stderr}`));
      }
    });
  });
}
