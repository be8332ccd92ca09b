import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../test/support/util.js';
import { connectRuntime } from '../cri/client.js';
import { spawnRuntimeService } from './index.js';

/** Pids of this process's children running the runtime child entry. */
const runtimeChildren = (): string[] =>
  execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('child-main'));

describe('spawnRuntimeService (the runtime in a child process)', function () {
  this.timeout(60_000);
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ketch-rtchild-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('answers Version over its socket once started; removeAllPods removes the bridge; close() ends the child', async () => {
    const listen = `unix://${join(root, 'rt.sock')}`;
    const handle = await spawnRuntimeService({ root: join(root, 'runtime'), listen, bridge: 'ketchrtchild0' });
    try {
      assert.equal(runtimeChildren().length, 1);
      const client = connectRuntime(listen);
      const v = await client.runtime.version({ version: 'v1' });
      client.close();
      assert.ok(v.runtimeName);
      await handle.removeAllPods();
      assert.equal(existsSync('/sys/class/net/ketchrtchild0'), false);
    } finally {
      await handle.close();
    }
    assert.deepEqual(runtimeChildren(), []);
    assert.equal(existsSync(join(root, 'rt.sock')), false, 'the child removed its socket on SIGTERM');
  });

  it('fails, leaving no child, when the runtime cannot start', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, '');
    await assert.rejects(spawnRuntimeService({ root: join(file, 'runtime'), listen: `unix://${join(root, 'bad.sock')}` }), /runtime child exited \(code 1\)/);
    assert.deepEqual(runtimeChildren(), []);
  });

  it('starts a child that was killed again, on the same socket', async () => {
    const listen = `unix://${join(root, 'again.sock')}`;
    const handle = await spawnRuntimeService({ root: join(root, 'again'), listen, bridge: 'ketchrtagain0' }, { restartDelayMs: 50 });
    try {
      const [first] = runtimeChildren();
      assert.ok(first);
      const pid = Number(first.trim().split(/\s+/)[0]);
      process.kill(pid, 'SIGKILL');
      const version = async (): Promise<string | false> => {
        const client = connectRuntime(listen, { timeoutMs: 2_000 });
        try {
          return (await client.runtime.version({ version: 'v1' })).runtimeName || false;
        } finally {
          client.close();
        }
      };
      await waitFor(async () => runtimeChildren().length === 1 && !runtimeChildren()[0]!.trim().startsWith(`${pid} `) && (await version()), {
        timeoutMs: 30_000,
        what: 'a new runtime child answering Version',
      });
      await handle.removeAllPods();
    } finally {
      await handle.close();
    }
    assert.deepEqual(runtimeChildren(), []);
  });

  it('gives up, leaving no child, when the child is not ready in time', async () => {
    const listen = `unix://${join(root, 'slow.sock')}`;
    await assert.rejects(spawnRuntimeService({ root: join(root, 'slow'), listen }, { startTimeoutMs: 1 }), /not ready within 0.001s/);
    assert.deepEqual(runtimeChildren(), []);
  });
});
