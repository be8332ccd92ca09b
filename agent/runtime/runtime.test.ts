// The shim beyond the CRI contract (conformance.test.ts has the cases it shares with containerd): cgroup
// values, streaming, log rotation, restarts and cleanup, against a real docker-registry over gRPC.
// Needs root, runc, iproute2 and docker-registry (CI runs as root).
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { ContainerConfig, ContainerStatus, DeepPartial, PodSandboxConfig } from '../cri/types.js';
import { run } from './exec.js';
import { type RuntimeClient, connectRuntime, isNotFound } from '../cri/client.js';
import { type RuntimeServiceHandle, startRuntimeService } from './index.js';
import { FILES } from './monitor.js';
import { buildBusyboxImage, pushImage } from '../../test/support/runtime/oci-image.js';
import { removeTestBridge } from '../../test/support/runtime/bridge.js';
import { type TestRegistry, pollUntil, startRegistry } from '../../test/support/runtime/registry.js';

const POD_CIDR = '10.251.7.0/24';
const LOG_MAX_BYTES = 16 * 1024;

describe('runtime service (runc, registry, gRPC)', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let root: string;
  let listen: string;
  let service: RuntimeServiceHandle | undefined;
  let client: RuntimeClient;
  let image: string;
  let serial = 0;

  const start = async (): Promise<void> => {
    service = await startRuntimeService({ root, listen, bridge: 'ketchtest0', containerLogMaxBytes: LOG_MAX_BYTES, containerLogMaxFiles: 3 });
    client = connectRuntime(listen, { timeoutMs: 60_000 });
  };
  const stop = async (): Promise<void> => {
    client?.close();
    await service?.close();
    service = undefined;
  };

  before(async function () {
    // runc, network namespaces and cgroups need root: fail loudly rather than skip (CI runs as root).
    if (process.getuid?.() !== 0) throw new Error('the runtime tests must run as root (runc, netns, cgroups)');
    const [reg, built] = await Promise.all([startRegistry(), buildBusyboxImage()]);
    registry = reg;
    await pushImage(registry.url, 'test/busybox', 'v1', built);
    await built.dispose();
    image = `${registry.host}/test/busybox:v1`;
    root = await mkdtemp(join(tmpdir(), 'ketch-rt-'));
    listen = `unix://${join(root, 'cri.sock')}`;
    await start();
    await client.image.pullImage({ image: { image } });
  });

  after(async () => {
    if (service) {
      const { items } = await client.runtime.listPodSandbox({});
      for (const s of items) await client.runtime.removePodSandbox({ podSandboxId: s.id });
      await stop();
    }
    await removeTestBridge('ketchtest0');
    await registry?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const sandboxConfig = (name: string, cidr: string | undefined = POD_CIDR): DeepPartial<PodSandboxConfig> => ({
    metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    logDirectory: join(root, 'logs', name),
    annotations: cidr ? { 'ketch.io/pod-cidr': cidr } : {},
    linux: {},
  });

  const runPod = async (name: string, cidr?: string): Promise<string> => {
    const { podSandboxId } = await client.runtime.runPodSandbox({ config: sandboxConfig(name, cidr) });
    return podSandboxId;
  };

  /** Creates and starts a container running `sh -c script`. */
  const runContainer = async (podSandboxId: string, script: string, extra: DeepPartial<ContainerConfig> = {}): Promise<string> => {
    const name = `c${++serial}`;
    const sandbox = await client.runtime.podSandboxStatus({ podSandboxId });
    const pod = sandbox.status?.metadata?.name ?? '';
    const { containerId } = await client.runtime.createContainer({
      podSandboxId,
      config: { metadata: { name }, image: { image }, command: ['/bin/sh', '-c', script], logPath: `${name}.log`, ...extra },
      sandboxConfig: sandboxConfig(pod),
    });
    await client.runtime.startContainer({ containerId });
    return containerId;
  };

  const status = async (containerId: string): Promise<ContainerStatus> => {
    const { status: s } = await client.runtime.containerStatus({ containerId });
    assert.ok(s);
    return s;
  };

  const waitExited = (containerId: string, timeoutMs = 15_000): Promise<ContainerStatus> =>
    pollUntil(`container ${containerId} to exit`, async () => {
      const s = await status(containerId);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    }, timeoutMs);

  /** Connects to a streaming URL and collects channel data until the server closes. */
  const stream = (url: string, onOpen: (ws: WebSocket) => void, until?: (out: Map<number, string>) => boolean): Promise<Map<number, string>> =>
    new Promise((resolve, reject) => {
      const out = new Map<number, string>();
      const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
      ws.on('open', () => onOpen(ws));
      ws.on('message', (d: Buffer) => {
        const ch = d[0] ?? 255;
        out.set(ch, (out.get(ch) ?? '') + d.subarray(1).toString('latin1'));
        if (until?.(out)) ws.close();
      });
      ws.on('close', () => resolve(out));
      ws.on('error', reject);
    });

  it('reports the image filesystem usage', async () => {
    const fs = await client.image.imageFsInfo({});
    assert.ok(Number(fs.imageFilesystems[0]?.usedBytes?.value) > 1_000_000);
    assert.equal(fs.imageFilesystems[0]?.fsId?.mountpoint, root);
  });

  it('streams an Exec over the URL it returns', async () => {
    const pod = await runPod('stream', '');
    const id = await runContainer(pod, 'exec sleep 1000');
    const { url } = await client.runtime.exec({ containerId: id, cmd: ['/bin/sh', '-c', 'read x; echo got $x; exit 5'], stdin: true, stdout: true, stderr: true });
    const out = await stream(url, (ws) => ws.send(Buffer.from('\u0000ping\n', 'latin1')));
    assert.equal(out.get(1), 'got ping\n');
    const statusMsg = out.get(3) ?? '';
    assert.match(statusMsg, /non-zero exit code: 5/);
  });

  it('puts the memory limit in the cgroup and reports stats', async () => {
    const pod = await runPod('limits', '');
    const id = await runContainer(pod, 'exec sleep 1000', { linux: { resources: { memoryLimitInBytes: 64 * 1024 * 1024, cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000 } } });
    const info = (await client.runtime.podSandboxStatus({ podSandboxId: pod, verbose: true })).info;
    const parent = JSON.parse(info.cgroupParent ?? '""') as string;
    const mem = await readFile(`/sys/fs/cgroup/memory${parent}/${id}/memory.limit_in_bytes`, 'utf8');
    assert.equal(mem.trim(), String(64 * 1024 * 1024));
    assert.equal((await readFile(`/sys/fs/cgroup/cpu${parent}/${id}/cpu.cfs_quota_us`, 'utf8')).trim(), '50000');
    assert.equal((await readFile(`/sys/fs/cgroup/cpu${parent}/${id}/cpu.shares`, 'utf8')).trim(), '512');
    const { stats } = await client.runtime.containerStats({ containerId: id });
    assert.ok(Number(stats?.memory?.usageBytes?.value) > 0);
    assert.ok(Number(stats?.cpu?.usageCoreNanoSeconds?.value) > 0);
    await client.runtime.updateContainerResources({ containerId: id, linux: { memoryLimitInBytes: 96 * 1024 * 1024 } });
    const mem2 = await readFile(`/sys/fs/cgroup/memory${parent}/${id}/memory.limit_in_bytes`, 'utf8');
    assert.equal(mem2.trim(), String(96 * 1024 * 1024));
    const list = await client.runtime.listContainerStats({ filter: { podSandboxId: pod } });
    assert.deepEqual(list.stats.map((s) => s.attributes?.id), [id]);
  });

  it('attaches to a container’s stdin and stdout', async () => {
    const pod = await runPod('attach', '');
    const id = await runContainer(pod, 'read line; echo got $line; exec sleep 1000', { stdin: true });
    const { url } = await client.runtime.attach({ containerId: id, stdin: true, stdout: true, stderr: true });
    const out = await stream(url, (ws) => ws.send(Buffer.from('\u0000hello\n', 'latin1')), (o) => (o.get(1) ?? '').includes('\n'));
    assert.equal(out.get(1), 'got hello\n');
  });

  /** A channel-protocol session driven step by step: frames out, output collected until the server closes. */
  const session = async (url: string) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    const out = new Map<number, string>();
    ws.on('message', (d: Buffer) => out.set(d[0] ?? 255, (out.get(d[0] ?? 255) ?? '') + d.subarray(1).toString('latin1')));
    const closed = new Promise<Map<number, string>>((resolve) => ws.on('close', () => resolve(out)));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const send = (channel: number, data: string): void => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data, 'latin1')]));
    return {
      send,
      resize: (width: number, height: number) => send(4, JSON.stringify({ Width: width, Height: height })),
      stdout: () => out.get(1) ?? '',
      close: () => ws.close(),
      closed,
    };
  };
  type Session = Awaited<ReturnType<typeof session>>;

  /** Sends numbered input lines until one comes back with the terminal size: runc applies a resize on its own time. */
  const untilSize = (s: Session, prefix: string, size: string): Promise<true> => {
    let n = 0;
    return pollUntil(`"${size}" on the terminal`, async () => {
      if (new RegExp(`got ${prefix}\\d+ ${size}\r\n`).test(s.stdout())) return true;
      s.send(0, `${prefix}${++n}\r`);
      return undefined;
    }, 15_000, 200);
  };

  it('execs on a TTY sized by the first resize: output on stdout only, the exit code on the error channel', async () => {
    const pod = await runPod('ttyexec', '');
    const id = await runContainer(pod, 'exec sleep 1000');
    const { url } = await client.runtime.exec({ containerId: id, cmd: ['sh', '-c', 'tty; stty size; echo to-stderr >&2; exit 3'], tty: true, stdout: true });
    const s = await session(url);
    s.resize(100, 40);
    const out = await s.closed;
    // The first lines may get a second \r while runc sets up its terminals (README-streaming.md); terminals show both alike.
    assert.match(out.get(1) ?? '', /^\/dev\/pts\/\d+\r\r?\n40 100\r\r?\nto-stderr\r\r?\n$/);
    assert.equal(out.get(2), undefined);
    const st = JSON.parse(out.get(3) ?? '{}') as { reason?: string; details?: { causes?: { message?: string }[] } };
    assert.equal(st.reason, 'NonZeroExitCode');
    assert.equal(st.details?.causes?.[0]?.message, '3');
  });

  it('passes stdin and resizes to a TTY exec; the end of stdin is ^D', async () => {
    const pod = await runPod('ttystdin', '');
    const id = await runContainer(pod, 'exec sleep 1000');
    const { url } = await client.runtime.exec({ containerId: id, cmd: ['sh', '-c', 'while read x; do echo "got $x $(stty size)"; done; echo bye'], tty: true, stdin: true, stdout: true });
    const s = await session(url);
    s.resize(80, 24);
    s.send(0, 'one\r');
    await pollUntil('the first line', async () => (s.stdout().includes('got one 24 80\r\n') ? true : undefined));
    s.send(4, '{"Width":-1}');
    s.resize(100, 40);
    await untilSize(s, 'try', '40 100');
    s.send(0, '');
    const out = await s.closed;
    assert.match(out.get(1) ?? '', /bye\r\n$/);
    assert.deepEqual(JSON.parse(out.get(3) ?? '{}'), { metadata: {}, status: 'Success' });
  });

  it('runs a tty: true container: terminal output in the log, attach with a TTY and resize, ExecSync without a TTY', async () => {
    const pod = await runPod('ttyctr', '');
    const id = await runContainer(pod, 'tty; while read x; do echo "got $x $(stty size)"; done', { tty: true, stdin: true });
    const logPath = (await status(id)).logPath;
    await pollUntil('the tty line in the log', async () => (/ stdout F \/dev\/pts\/\d+\r\n/.test(await readFile(logPath, 'utf8').catch(() => '')) ? true : undefined));
    const sync = await client.runtime.execSync({ containerId: id, cmd: ['tty'], timeout: 10 });
    assert.deepEqual([sync.exitCode, sync.stdout.toString()], [1, 'not a tty\n']);
    const { url } = await client.runtime.attach({ containerId: id, stdin: true, stdout: true, tty: true });
    const s = await session(url);
    s.resize(100, 40);
    await untilSize(s, 'a', '40 100');
    s.close();
    await s.closed;
    assert.equal((await status(id)).state, 'CONTAINER_RUNNING');
    assert.match(await readFile(logPath, 'utf8'), / stdout F got a\d+ 40 100\r\n/);
  });

  it('forwards a port of a loopback-only pod', async () => {
    const pod = await runPod('pf', '');
    const id = await runContainer(pod, 'mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www');
    await pollUntil('httpd to listen', async () => {
      const r = await client.runtime.execSync({ containerId: id, cmd: ['wget', '-qO-', 'http://127.0.0.1:8080/'], timeout: 5 });
      return r.exitCode === 0 ? true : undefined;
    });
    const { url } = await client.runtime.portForward({ podSandboxId: pod, port: [8080] });
    const out = await stream(url, (ws) => ws.send(Buffer.from('\u0000GET / HTTP/1.0\r\n\r\n', 'latin1')));
    // Each channel opens with the port number (2 bytes, little-endian), then the data.
    assert.match(out.get(0) ?? '', /^\x90\x1fHTTP\/1\.[01] 200 OK[\s\S]*pong\n$/);
  });

  it('reopens the container log after rotation', async () => {
    const pod = await runPod('rotate', '');
    const id = await runContainer(pod, 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done');
    const logPath = (await status(id)).logPath;
    await pollUntil('first log line', async () => ((await readFile(logPath, 'utf8')).includes('line1') ? true : undefined));
    await rename(logPath, `${logPath}.1`);
    await client.runtime.reopenContainerLog({ containerId: id });
    await pollUntil('a line in the new log file', async () => (/stdout F line\d+\n/.test(await readFile(logPath, 'utf8').catch(() => '')) ? true : undefined));
    await assert.rejects(client.runtime.reopenContainerLog({ containerId: 'nope' }), (err: Error) => isNotFound(err));
  });

  it('rediscovers containers after a restart, with the exit code of one that ended meanwhile', async () => {
    const shared = join(root, 'shared');
    await mkdir(shared, { recursive: true });
    const pod = await runPod('restart', '');
    const mount = { mounts: [{ containerPath: '/shared', hostPath: shared }] };
    const runner = await runContainer(pod, 'exec sleep 1000');
    const ender = await runContainer(pod, 'while [ ! -f /shared/go ]; do sleep 0.05; done; exit 7', mount);
    assert.equal((await status(ender)).state, 'CONTAINER_RUNNING');
    await stop();
    await writeFile(join(shared, 'go'), '');
    // The monitor, not the service, records the exit: wait for it while the service is down.
    await pollUntil('exit.json of the ended container', async () => (existsSync(join(root, 'containers', ender, FILES.exit)) ? true : undefined));
    await start();
    const e = await status(ender);
    assert.equal(e.state, 'CONTAINER_EXITED');
    assert.equal(e.exitCode, 7);
    assert.equal((await status(runner)).state, 'CONTAINER_RUNNING');
    const r = await client.runtime.execSync({ containerId: runner, cmd: ['echo', 'still here'] });
    assert.equal(r.stdout.toString(), 'still here\n');
  });

  it('cleans up netns, veth, cgroups and mounts on StopPodSandbox and RemovePodSandbox', async () => {
    const pod = await runPod('cleanup');
    const id = await runContainer(pod, 'exec sleep 1000');
    const netns = `ketch-${pod.slice(0, 12)}`;
    const veth = `kv${pod.slice(0, 12)}`;
    const info = (await client.runtime.podSandboxStatus({ podSandboxId: pod, verbose: true })).info;
    const parent = JSON.parse(info.cgroupParent ?? '""') as string;
    assert.ok((await run('ip', ['netns', 'list'])).stdout.includes(netns));
    assert.equal((await run('ip', ['link', 'show', veth], { allowFailure: true })).code, 0);
    await client.runtime.stopPodSandbox({ podSandboxId: pod });
    assert.equal((await status(id)).state, 'CONTAINER_EXITED');
    assert.equal((await client.runtime.podSandboxStatus({ podSandboxId: pod })).status?.state, 'SANDBOX_NOTREADY');
    assert.ok(!(await run('ip', ['netns', 'list'])).stdout.includes(netns));
    assert.notEqual((await run('ip', ['link', 'show', veth], { allowFailure: true })).code, 0);
    await client.runtime.stopPodSandbox({ podSandboxId: pod });
    await client.runtime.removePodSandbox({ podSandboxId: pod });
    assert.ok(!existsSync(`/sys/fs/cgroup/memory${parent}`));
    assert.ok(!existsSync(join(root, 'containers', id)));
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(id));
    await assert.rejects(client.runtime.containerStatus({ containerId: id }), (err: Error) => isNotFound(err));
    await client.runtime.removePodSandbox({ podSandboxId: pod });
  });

  it('rotates a container log by size, keeping maxFiles files', async () => {
    const pod = await runPod('logsize', '');
    // 400 lines of ~120 bytes: about 48 KiB, three times the 16 KiB limit.
    const id = await runContainer(pod, 'i=0; while [ $i -lt 400 ]; do echo "line $i $(printf %080d 0)"; i=$((i+1)); done');
    const s = await waitExited(id);
    assert.equal(s.exitCode, 0);
    const files = [`${s.logPath}.2`, `${s.logPath}.1`, s.logPath];
    assert.ok(!existsSync(`${s.logPath}.3`), 'more than 3 files kept');
    const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    for (const t of texts.slice(0, 2)) {
      assert.ok(t.length >= LOG_MAX_BYTES && t.length < LOG_MAX_BYTES + 200, `rotated file of ${t.length} bytes`);
    }
    // Whole CRI lines, in order, ending with the last one; the oldest were dropped.
    const numbers = texts.join('').trim().split('\n').map((l) => Number(/^\S+ stdout F line (\d+) 0+$/.exec(l)?.[1]));
    assert.ok(numbers.every((n, i) => n === (numbers[0] ?? 0) + i), 'lines missing or out of order');
    assert.equal(numbers[numbers.length - 1], 399);
    assert.ok((numbers[0] ?? 0) > 0);
  });

  it('leaves no netns, veth, cgroup, mount, file or process behind after 100 pod create/remove cycles', async function () {
    this.timeout(120_000);
    // netns and cgroup names are shared by every runtime on the host: only those of this test's sandboxes count.
    const created: string[] = [];
    const ours = (name: string): boolean => created.some((id) => name.includes(id.slice(0, 12)));
    const netnsList = async (): Promise<string[]> => (await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith('ketch-') && ours(l));
    const veths = async (): Promise<string[]> => (await run('ip', ['-o', 'link', 'show', 'master', 'ketchtest0'])).stdout.split('\n').filter((l) => l && ours(l));
    const cgroups = async (): Promise<string[]> => (await readdir('/sys/fs/cgroup/memory/ketch').catch(() => [])).filter(ours);
    const mounts = async (): Promise<string[]> => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(root));
    const files = async (): Promise<number> => (await Promise.all(['containers', 'sandboxes', 'ns'].map((d) => readdir(join(root, d))))).flat().length;
    const processes = async (): Promise<number> => {
      let n = 0;
      for (const pid of await readdir('/proc')) {
        if (/^\d+$/.test(pid) && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(root)) n++;
      }
      return n;
    };
    const snapshot = async (): Promise<unknown> => ({ netns: await netnsList(), veths: await veths(), cgroups: await cgroups(), mounts: await mounts(), files: await files(), processes: await processes() });
    const before = await snapshot();
    const cycle = async (i: number): Promise<void> => {
      const pod = await runPod(`cycle-${i}`);
      created.push(pod);
      await runContainer(pod, 'exec sleep 1000');
      await client.runtime.stopPodSandbox({ podSandboxId: pod });
      await client.runtime.removePodSandbox({ podSandboxId: pod });
    };
    let next = 0;
    // Three at a time: the lifecycles overlap as a node's pods do.
    await Promise.all([0, 1, 2].map(async () => {
      while (next < 100) await cycle(next++);
    }));
    assert.equal(created.length, 100);
    assert.deepEqual(await snapshot(), before);
  });
});
