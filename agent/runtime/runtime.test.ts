// End to end: a real docker-registry, a real runtime service on a unix socket, driven by its gRPC client.
// Needs root, runc, iproute2 and docker-registry (CI runs as root).
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { ContainerConfig, ContainerStatus, DeepPartial, PodSandboxConfig } from './cri-types.js';
import { run } from './exec.js';
import { type RuntimeClient, type RuntimeServiceHandle, connectRuntime, isNotFound, startRuntimeService } from './index.js';
import { FILES } from './monitor.js';
import { buildBusyboxImage, pushImage } from './testing/oci-image.js';
import { type TestRegistry, pollUntil, startRegistry } from './testing/registry.js';

const POD_CIDR = '10.251.7.0/24';

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
    service = await startRuntimeService({ root, listen, bridge: 'ketchtest0' });
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
    await run('ip', ['link', 'del', 'ketchtest0'], { allowFailure: true });
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

  it('answers Version and Status', async () => {
    const v = await client.runtime.version({ version: 'v1' });
    assert.equal(v.runtimeName, 'ketch-runtime');
    assert.equal(v.runtimeApiVersion, 'v1');
    const s = await client.runtime.status({});
    const ready = s.status?.conditions.find((c) => c.type === 'RuntimeReady');
    assert.equal(ready?.status, true);
  });

  it('pulls an image from the registry and reports it', async () => {
    const { imageRef } = await client.image.pullImage({ image: { image } });
    assert.match(imageRef, /^sha256:[a-f0-9]{64}$/);
    const st = await client.image.imageStatus({ image: { image } });
    assert.equal(st.image?.id, imageRef);
    assert.deepEqual(st.image?.repoTags, [image]);
    assert.ok(Number(st.image?.size) > 1_000_000);
    const { images } = await client.image.listImages({});
    assert.ok(images.some((i) => i.id === imageRef));
    const fs = await client.image.imageFsInfo({});
    assert.ok(Number(fs.imageFilesystems[0]?.usedBytes?.value) > 0);
    const missing = await client.image.imageStatus({ image: { image: `${registry.host}/test/other:v9` } });
    assert.equal(missing.image, null);
  });

  it('fails clearly when the image does not exist', async () => {
    await assert.rejects(client.image.pullImage({ image: { image: `${registry.host}/test/does-not-exist:v1` } }), (err: Error) => {
      assert.ok(isNotFound(err), String(err));
      assert.match(err.message, /test\/does-not-exist:v1" not found/);
      return true;
    });
  });

  it('rejects a layer whose digest does not match', async () => {
    const bad = await buildBusyboxImage({ files: { '/etc/variant': 'corrupt' } });
    await pushImage(registry.url, 'test/corrupt', 'v1', bad);
    const hex = bad.layers[0]?.digest.slice(7) ?? '';
    const data = join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(data);
    bytes.writeUInt8(bytes.readUInt8(100) ^ 0xff, 100);
    await writeFile(data, bytes);
    await bad.dispose();
    await assert.rejects(client.image.pullImage({ image: { image: `${registry.host}/test/corrupt:v1` } }), /digest mismatch/);
  });

  it('runs a sandbox and a container that echoes, with the output in the CRI log', async () => {
    const pod = await runPod('echo');
    const sb = await client.runtime.podSandboxStatus({ podSandboxId: pod, verbose: true });
    assert.equal(sb.status?.state, 'SANDBOX_READY');
    assert.match(sb.status?.network?.ip ?? '', /^10\.251\.7\.\d+$/);
    const id = await runContainer(pod, 'echo hello from $(hostname); echo to-stderr >&2');
    const s = await waitExited(id);
    assert.equal(s.exitCode, 0);
    assert.equal(s.reason, 'Completed');
    assert.ok(Number(s.finishedAt) >= Number(s.startedAt) && Number(s.startedAt) > 0);
    const log = await readFile(s.logPath, 'utf8');
    const lines = log.trim().split('\n');
    assert.equal(lines.length, 2, log);
    assert.match(lines.find((l) => l.includes(' stdout ')) ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F hello from echo$/);
    assert.match(lines.find((l) => l.includes(' stderr ')) ?? '', /^\S+Z stderr F to-stderr$/);
  });

  it('fails StartContainer clearly when the command does not exist', async () => {
    const pod = await runPod('badcmd', '');
    const { containerId } = await client.runtime.createContainer({
      podSandboxId: pod,
      config: { metadata: { name: 'bad' }, image: { image }, command: ['/no/such/binary'], logPath: 'bad.log' },
    });
    await assert.rejects(client.runtime.startContainer({ containerId }), /failed to start: .*no\/such\/binary/);
    const s = await status(containerId);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.reason, 'StartError');
    assert.match(s.message, /no such file or directory/);
  });

  it('reports the exit code of sh -c "exit 3"', async () => {
    const pod = await runPod('exit3', '');
    const id = await runContainer(pod, 'exit 3');
    const s = await waitExited(id);
    assert.equal(s.exitCode, 3);
    assert.equal(s.reason, 'Error');
    const { containers } = await client.runtime.listContainers({ filter: { podSandboxId: pod, state: { state: 'CONTAINER_EXITED' } } });
    assert.deepEqual(containers.map((c) => c.id), [id]);
  });

  it('runs ExecSync in a running container, in the pod network', async () => {
    const pod = await runPod('exec');
    const id = await runContainer(pod, 'exec sleep 1000');
    assert.equal((await status(id)).state, 'CONTAINER_RUNNING');
    const r = await client.runtime.execSync({ containerId: id, cmd: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 4'], timeout: 10 });
    assert.equal(r.stdout.toString(), 'out\n');
    assert.equal(r.stderr.toString(), 'err\n');
    assert.equal(r.exitCode, 4);
    const ip = (await client.runtime.podSandboxStatus({ podSandboxId: pod })).status?.network?.ip ?? '';
    const addr = await client.runtime.execSync({ containerId: id, cmd: ['ip', '-4', 'addr', 'show', 'eth0'] });
    assert.match(addr.stdout.toString(), new RegExp(`inet ${ip.replace(/\./g, '\\.')}/24`));
    const host = await client.runtime.execSync({ containerId: id, cmd: ['hostname'] });
    assert.equal(host.stdout.toString(), 'exec\n');
    await assert.rejects(client.runtime.execSync({ containerId: id, cmd: ['sleep', '30'], timeout: 1 }), /timed out/);
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

  it('stops with a timeout: SIGTERM first, SIGKILL when ignored', async () => {
    const pod = await runPod('stop', '');
    const polite = await runContainer(pod, 'trap "echo got TERM; exit 0" TERM; while true; do sleep 0.1; done');
    const stubborn = await runContainer(pod, 'trap "" TERM; while true; do sleep 0.1; done');
    let t0 = Date.now();
    await client.runtime.stopContainer({ containerId: polite, timeout: 10 });
    assert.ok(Date.now() - t0 < 5000);
    const p = await status(polite);
    assert.equal(p.state, 'CONTAINER_EXITED');
    assert.equal(p.exitCode, 0);
    assert.match(await readFile(p.logPath, 'utf8'), /stdout F got TERM/);
    t0 = Date.now();
    await client.runtime.stopContainer({ containerId: stubborn, timeout: 1 });
    assert.ok(Date.now() - t0 >= 1000);
    const s = await status(stubborn);
    assert.equal(s.exitCode, 137);
    // Idempotent.
    await client.runtime.stopContainer({ containerId: stubborn, timeout: 1 });
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

  it('reports OOMKilled when the memory limit is hit', async () => {
    const pod = await runPod('oom', '');
    const id = await runContainer(pod, 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived', { linux: { resources: { memoryLimitInBytes: 32 * 1024 * 1024 } } });
    const s = await waitExited(id, 30_000);
    assert.equal(s.reason, 'OOMKilled', JSON.stringify(s));
    assert.equal(s.exitCode, 137);
  });

  it('attaches to a container’s stdin and stdout', async () => {
    const pod = await runPod('attach', '');
    const id = await runContainer(pod, 'read line; echo got $line; exec sleep 1000', { stdin: true });
    const { url } = await client.runtime.attach({ containerId: id, stdin: true, stdout: true, stderr: true });
    const out = await stream(url, (ws) => ws.send(Buffer.from('\u0000hello\n', 'latin1')), (o) => (o.get(1) ?? '').includes('\n'));
    assert.equal(out.get(1), 'got hello\n');
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
});
