// End to end: a real `ketch server` process, once on the embedded store and once on etcd, driven by the real kubectl
// through the shared scenarios (test/support/kubectl-scenarios.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';
import { kubectlScenarios, type KubectlTarget } from '../support/kubectl-scenarios.js';
import { freePort, waitFor } from '../support/util.js';

const entry = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));

/** Starts `ketch server` (API server only: no scheduler or controllers, so objects stay as kubectl left them). */
async function startServer(etcd?: EtcdServer): Promise<KubectlTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'ketch-server-e2e-'));
  const port = await freePort();
  const args = ['--import', 'tsx', entry, 'server', '--data-dir', dir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--disable-scheduler', '--disable-controller-manager'];
  if (etcd) args.push('--etcd-servers', etcd.endpoint);
  const proc: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } });
  let output = '';
  let exited = false;
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  proc.on('exit', () => (exited = true));
  const stop = async (): Promise<void> => {
    if (!exited) {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    }
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => {
        if (exited) throw new Error(`ketch server exited at start: ${output}`);
        return output.includes('ketch server is up') && existsSync(join(dir, 'admin.kubeconfig'));
      },
      { timeoutMs: 60_000, what: 'ketch server to come up' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { kubeconfig: join(dir, 'admin.kubeconfig'), stop };
}

describe('kubectl against a ketch server process', function () {
  this.timeout(90_000);

  describe('on the embedded store', () => {
    kubectlScenarios(() => startServer());
  });

  describe('on etcd', () => {
    kubectlScenarios(async () => startServer(await startEtcd()));
  });
});
