// The CRI conformance suite: one set of cases, run unchanged against the ketch shim and containerd 1.6,
// so that both agree on what each call means. Where a runtime legitimately differs, the target says so
// in `differences` and the case asserts that documented behaviour instead of skipping.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { WebSocket } from 'ws';
import type { ContainerConfig, ContainerStatus, DeepPartial, PodSandboxConfig } from '../../../agent/cri/types.js';
import { type RuntimeClient, isNotFound } from '../../../agent/cri/client.js';
import { type BuiltImage, buildBusyboxImage, buildImageFromTars, pushImage } from './oci-image.js';
import { listing } from './host-listing.js';
import { MASKED_PATHS, READONLY_PATHS } from '../../../agent/pod-security.js';
import { tarOf } from './tar-writer.js';
import { type TestRegistry, pollUntil, startRegistry } from './registry.js';

/** What the suite hands a runtime before it starts: the registry and images it will pull. */
export interface ConformanceEnv {
  registry: TestRegistry;
  /** A host name that the runtime must map to `registry.url` as a mirror (registry mirror config). */
  mirrorHost: string;
  /** A busybox image whose command runs forever: containerd's sandbox ("pause") image. */
  pauseImage: string;
}

/** Documented differences between runtimes; each is asserted, never skipped. */
export interface RuntimeDifferences {
  /** gRPC code of a failed StartContainer (containerd: UNKNOWN, with runc's message; ketch: INTERNAL). */
  startFailureCode: grpc.status;
  /**
   * A layer entry named with ".." or a hard link to outside the layer: ketch fails the pull (FAILED_PRECONDITION,
   * "layer refused"); containerd resolves ".." names inside the layer (fs.RootPath) and pulls, and fails a hard link
   * whose target, bounded to the layer, is not there (UNKNOWN, "link ... no such file or directory"). Either way the
   * host is unchanged. The error the pull fails with, or undefined where it succeeds.
   */
  hostileLayer(kind: HostileLayer): { code: grpc.status; message: RegExp } | undefined;
  /**
   * How a path through a chain of links in its own layer resolves (d/l2 -> l1/.., d/l1 -> ..): 'kernel' follows each
   * link before the ".." after it, as the container will see the path (ketch: d/l2 is the root); 'lexical' cleans
   * "l1/.." to nothing first, as Go's filepath.Join in continuity's RootPath does (containerd: d/l2 is d). Both stay
   * inside the layer.
   */
  linkChain: 'kernel' | 'lexical';
}

export type HostileLayer = 'dotdot' | 'hardlink';

export interface RuntimeUnderTest {
  client: RuntimeClient;
  /** The pod network's CIDR (IPv4 /24): every pod gets an address from it. */
  podCidr: string;
  differences: RuntimeDifferences;
  /** Called after every pod has been removed. */
  stop(): Promise<void>;
}

export type StartRuntime = (env: ConformanceEnv) => Promise<RuntimeUnderTest>;

const codeOf = (err: unknown): unknown => (typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined);

export function runtimeConformance(name: string, startRuntime: StartRuntime): void {
  describe(`CRI conformance: ${name}`, function () {
    this.timeout(60_000);
    let registry: TestRegistry;
    let rt: RuntimeUnderTest;
    let client: RuntimeClient;
    let logs: string;
    let busybox: BuiltImage;
    let image: string;
    let serial = 0;

    before(async function () {
      this.timeout(180_000);
      if (process.getuid?.() !== 0) throw new Error('the runtime conformance suite must run as root (runc, netns, cgroups)');
      registry = await startRegistry();
      busybox = await buildBusyboxImage();
      const pause = await buildBusyboxImage({ cmd: ['sleep', '2147483647'] });
      await pushImage(registry.url, 'test/busybox', 'v1', busybox);
      await pushImage(registry.url, 'test/pause', '1.0', pause);
      await pause.dispose();
      image = `${registry.host}/test/busybox:v1`;
      logs = await mkdtemp(join(tmpdir(), 'ketch-conf-logs-'));
      rt = await startRuntime({ registry, mirrorHost: 'mirror.ketch.test', pauseImage: `${registry.host}/test/pause:1.0` });
      client = rt.client;
      await client.image.pullImage({ image: { image } });
    });

    after(async function () {
      this.timeout(120_000);
      if (client) {
        const { items } = await client.runtime.listPodSandbox({});
        for (const s of items) {
          await client.runtime.stopPodSandbox({ podSandboxId: s.id });
          await client.runtime.removePodSandbox({ podSandboxId: s.id });
        }
      }
      await rt?.stop();
      await busybox?.dispose();
      await registry?.stop();
      if (logs) await rm(logs, { recursive: true, force: true });
    });

    const sandboxConfig = (pod: string): DeepPartial<PodSandboxConfig> => ({
      metadata: { name: pod, namespace: 'conformance', uid: `uid-${pod}`, attempt: 0 },
      hostname: pod,
      logDirectory: join(logs, pod),
      linux: {},
    });

    const runPod = async (pod: string): Promise<string> => (await client.runtime.runPodSandbox({ config: sandboxConfig(pod) })).podSandboxId;

    const podIp = async (podSandboxId: string): Promise<string> => (await client.runtime.podSandboxStatus({ podSandboxId })).status?.network?.ip ?? '';

    const createContainer = async (podSandboxId: string, script: string, extra: DeepPartial<ContainerConfig> = {}): Promise<string> => {
      const sandbox = await client.runtime.podSandboxStatus({ podSandboxId });
      const pod = sandbox.status?.metadata?.name ?? '';
      const cname = `c${++serial}`;
      const { containerId } = await client.runtime.createContainer({
        podSandboxId,
        config: { metadata: { name: cname }, image: { image }, command: ['/bin/sh', '-c', script], logPath: `${cname}.log`, ...extra },
        sandboxConfig: sandboxConfig(pod),
      });
      return containerId;
    };

    const runContainer = async (podSandboxId: string, script: string, extra: DeepPartial<ContainerConfig> = {}): Promise<string> => {
      const id = await createContainer(podSandboxId, script, extra);
      await client.runtime.startContainer({ containerId: id });
      return id;
    };

    const status = async (containerId: string): Promise<ContainerStatus> => {
      const s = (await client.runtime.containerStatus({ containerId })).status;
      assert.ok(s);
      return s;
    };

    const waitExited = (containerId: string, timeoutMs = 20_000): Promise<ContainerStatus> =>
      pollUntil(`container ${containerId} to exit`, async () => {
        const s = await status(containerId);
        return s.state === 'CONTAINER_EXITED' ? s : undefined;
      }, timeoutMs);

    /** Polls an HTTP server in a container until it answers (busybox httpd starts asynchronously). */
    const waitHttp = (containerId: string, url: string): Promise<string> =>
      pollUntil(`${url} to answer`, async () => {
        const r = await client.runtime.execSync({ containerId, cmd: ['sh', '-c', `timeout 3 wget -qO- ${url}`], timeout: 10 });
        return r.exitCode === 0 ? r.stdout.toString() : undefined;
      }, 15_000, 100);

    const rejectsWithCode = (p: Promise<unknown>, code: grpc.status, message: RegExp): Promise<void> =>
      assert.rejects(p, (err: Error) => {
        assert.equal(codeOf(err), code, `expected gRPC code ${grpc.status[code]}, got ${String(codeOf(err))}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });

    describe('runtime', () => {
      it('reports API v1 and the RuntimeReady and NetworkReady conditions', async () => {
        const v = await client.runtime.version({});
        assert.equal(v.runtimeApiVersion, 'v1');
        assert.ok(v.runtimeName && v.runtimeVersion);
        const conditions = (await client.runtime.status({})).status?.conditions ?? [];
        assert.equal(conditions.find((c) => c.type === 'RuntimeReady')?.status, true);
        assert.equal(conditions.find((c) => c.type === 'NetworkReady')?.status, true);
      });
    });

    describe('images', () => {
      it('pulls by tag: the ref is the config digest, with tag and repo digest recorded', async () => {
        const { imageRef } = await client.image.pullImage({ image: { image } });
        assert.equal(imageRef, busybox.configDigest);
        const st = (await client.image.imageStatus({ image: { image } })).image;
        assert.equal(st?.id, imageRef);
        assert.deepEqual(st?.repoTags, [image]);
        assert.deepEqual(st?.repoDigests, [`${registry.host}/test/busybox@${busybox.manifestDigest}`]);
        assert.ok(Number(st?.size) > 1_000_000);
        const { images } = await client.image.listImages({});
        assert.ok(images.some((i) => i.id === imageRef));
        assert.equal((await client.image.imageStatus({ image: { image: imageRef } })).image?.id, imageRef);
        assert.equal((await client.image.imageStatus({ image: { image: `${registry.host}/test/other:v9` } })).image, null);
      });

      it('pulls by digest and finds the image under that digest', async () => {
        const byDigest = `${registry.host}/test/busybox@${busybox.manifestDigest}`;
        const { imageRef } = await client.image.pullImage({ image: { image: byDigest } });
        assert.equal(imageRef, busybox.configDigest);
        assert.equal((await client.image.imageStatus({ image: { image: byDigest } })).image?.id, imageRef);
      });

      it('pulls through a configured registry mirror', async () => {
        const viaMirror = 'mirror.ketch.test/test/busybox:v1';
        const { imageRef } = await client.image.pullImage({ image: { image: viaMirror } });
        assert.equal(imageRef, busybox.configDigest);
        assert.ok((await client.image.imageStatus({ image: { image: viaMirror } })).image?.repoTags.includes(viaMirror));
      });

      it('fails with NOT_FOUND naming the image for an unknown repository', async () => {
        const ref = `${registry.host}/test/no-such-repo:v1`;
        await rejectsWithCode(client.image.pullImage({ image: { image: ref } }), grpc.status.NOT_FOUND, /test\/no-such-repo:v1.*not found/);
      });

      it('fails with NOT_FOUND naming the image for an unknown tag', async () => {
        const ref = `${registry.host}/test/busybox:no-such-tag`;
        await rejectsWithCode(client.image.pullImage({ image: { image: ref } }), grpc.status.NOT_FOUND, /test\/busybox:no-such-tag.*not found/);
      });

      it('refuses a layer whose bytes do not match its digest', async () => {
        const bad = await buildBusyboxImage({ files: { '/etc/variant': `corrupt-${name}` } });
        await pushImage(registry.url, 'test/corrupt', 'v1', bad);
        const hex = bad.layers[0]?.digest.slice(7) ?? '';
        const data = join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
        const bytes = await readFile(data);
        bytes.writeUInt8(bytes.readUInt8(100) ^ 0xff, 100);
        await writeFile(data, bytes);
        await bad.dispose();
        const ref = `${registry.host}/test/corrupt:v1`;
        await rejectsWithCode(client.image.pullImage({ image: { image: ref } }), grpc.status.FAILED_PRECONDITION, new RegExp(`${hex}|digest`));
        assert.equal((await client.image.imageStatus({ image: { image: ref } })).image, null);
      });

      it('removes an image, and removing it again is not an error', async () => {
        const extra = await buildBusyboxImage({ files: { '/etc/variant': 'removable' } });
        await pushImage(registry.url, 'test/removable', 'v1', extra);
        await extra.dispose();
        const ref = `${registry.host}/test/removable:v1`;
        await client.image.pullImage({ image: { image: ref } });
        await client.image.removeImage({ image: { image: ref } });
        assert.equal((await client.image.imageStatus({ image: { image: ref } })).image, null);
        await client.image.removeImage({ image: { image: ref } });
      });
    });

    describe('lifecycle', () => {
      it('runs a sandbox and takes a container through CREATED, RUNNING, EXITED and removal', async () => {
        const pod = await runPod('life');
        const sb = await client.runtime.podSandboxStatus({ podSandboxId: pod });
        assert.equal(sb.status?.state, 'SANDBOX_READY');
        assert.equal(sb.status?.metadata?.name, 'life');
        const id = await createContainer(pod, 'exec sleep 1000');
        const created = await status(id);
        assert.equal(created.state, 'CONTAINER_CREATED');
        assert.equal(created.metadata?.name, `c${serial}`);
        assert.equal(created.imageRef, `${registry.host}/test/busybox@${busybox.manifestDigest}`);
        await client.runtime.startContainer({ containerId: id });
        const running = await status(id);
        assert.equal(running.state, 'CONTAINER_RUNNING');
        assert.ok(BigInt(running.startedAt) >= BigInt(running.createdAt));
        const { containers } = await client.runtime.listContainers({ filter: { podSandboxId: pod, state: { state: 'CONTAINER_RUNNING' } } });
        assert.deepEqual(containers.map((c) => c.id), [id]);
        await client.runtime.stopContainer({ containerId: id, timeout: 0 });
        const stopped = await status(id);
        assert.equal(stopped.state, 'CONTAINER_EXITED');
        assert.equal(stopped.exitCode, 137);
        await client.runtime.stopContainer({ containerId: id, timeout: 0 });
        await client.runtime.removeContainer({ containerId: id });
        await assert.rejects(client.runtime.containerStatus({ containerId: id }), (err: Error) => isNotFound(err));
        await client.runtime.removeContainer({ containerId: id });
        await client.runtime.stopPodSandbox({ podSandboxId: pod });
        assert.equal((await client.runtime.podSandboxStatus({ podSandboxId: pod })).status?.state, 'SANDBOX_NOTREADY');
        await client.runtime.stopPodSandbox({ podSandboxId: pod });
        await client.runtime.removePodSandbox({ podSandboxId: pod });
        await assert.rejects(client.runtime.podSandboxStatus({ podSandboxId: pod }), (err: Error) => isNotFound(err));
        await client.runtime.removePodSandbox({ podSandboxId: pod });
      });

      it('reports exit codes: 0 is Completed, 3 is Error', async () => {
        const pod = await runPod('exits');
        const ok = await runContainer(pod, 'exit 0');
        const three = await runContainer(pod, 'exit 3');
        const [a, b] = await Promise.all([waitExited(ok), waitExited(three)]);
        assert.equal(a.exitCode, 0);
        assert.equal(a.reason, 'Completed');
        assert.equal(b.exitCode, 3);
        assert.equal(b.reason, 'Error');
        // Not finishedAt >= startedAt: containerd stamps startedAt when StartContainer returns, which for a
        // process this quick can be after its exit (seen: 0.4 ms after finishedAt).
        assert.ok(BigInt(b.startedAt) > 0n && BigInt(b.finishedAt) > BigInt(b.createdAt), JSON.stringify(b));
        const { containers } = await client.runtime.listContainers({ filter: { podSandboxId: pod, state: { state: 'CONTAINER_EXITED' } } });
        assert.deepEqual(containers.map((c) => c.id).sort(), [ok, three].sort());
      });

      it('fails StartContainer for a missing binary, leaving the container EXITED with StartError and 128', async () => {
        const pod = await runPod('badcmd');
        const sandbox = sandboxConfig('badcmd');
        const { containerId } = await client.runtime.createContainer({
          podSandboxId: pod,
          config: { metadata: { name: 'bad' }, image: { image }, command: ['/no/such/binary'], logPath: 'bad.log' },
          sandboxConfig: sandbox,
        });
        await rejectsWithCode(client.runtime.startContainer({ containerId }), rt.differences.startFailureCode, /\/no\/such\/binary.*no such file or directory/);
        const s = await status(containerId);
        assert.equal(s.state, 'CONTAINER_EXITED');
        assert.equal(s.reason, 'StartError');
        assert.equal(s.exitCode, 128);
        assert.match(s.message, /no such file or directory/);
      });

      it('stops with SIGTERM first and SIGKILL once the timeout passes', async () => {
        const pod = await runPod('stop');
        const polite = await runContainer(pod, 'trap "echo got TERM; exit 0" TERM; while true; do sleep 0.1; done');
        const stubborn = await runContainer(pod, 'trap "" TERM; while true; do sleep 0.1; done');
        // The trap is only in place once the shell runs: wait for that before signalling.
        await new Promise((r) => setTimeout(r, 300));
        await client.runtime.stopContainer({ containerId: polite, timeout: 10 });
        const p = await status(polite);
        assert.equal(p.exitCode, 0);
        assert.match(await readFile(p.logPath, 'utf8'), /stdout F got TERM/);
        const t0 = Date.now();
        await client.runtime.stopContainer({ containerId: stubborn, timeout: 1 });
        assert.ok(Date.now() - t0 >= 900, 'SIGKILL came before the timeout');
        assert.equal((await status(stubborn)).exitCode, 137);
      });

      it('reports OOMKilled with exit code 137 when the memory limit is hit', async () => {
        const pod = await runPod('oom');
        const id = await runContainer(pod, 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived', { linux: { resources: { memoryLimitInBytes: 32 * 1024 * 1024 } } });
        const s = await waitExited(id, 40_000);
        assert.equal(s.reason, 'OOMKilled', JSON.stringify(s));
        assert.equal(s.exitCode, 137);
      });

      it('refuses a second container with the same name and attempt in one sandbox', async () => {
        const pod = await runPod('dup');
        const config = { metadata: { name: 'same', attempt: 1 }, image: { image }, command: ['true'], logPath: 'same.log' };
        await client.runtime.createContainer({ podSandboxId: pod, config, sandboxConfig: sandboxConfig('dup') });
        await assert.rejects(client.runtime.createContainer({ podSandboxId: pod, config, sandboxConfig: sandboxConfig('dup') }));
      });
    });

    describe('logs', () => {
      it('writes stdout and stderr to logDirectory/logPath in the CRI format', async () => {
        const pod = await runPod('logs');
        const id = await runContainer(pod, 'echo hello from $(hostname); echo to-stderr >&2; printf partial');
        const s = await waitExited(id);
        assert.equal(s.logPath, join(logs, 'logs', `c${serial}.log`));
        // containerd flushes the log after the exit is reported.
        const log = await pollUntil('all three log lines', async () => {
          const text = await readFile(s.logPath, 'utf8');
          return text.trim().split('\n').length >= 3 ? text : undefined;
        });
        const lines = log.trim().split('\n');
        assert.equal(lines.length, 3, log);
        assert.match(lines.find((l) => l.includes(' stdout F hello')) ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F hello from logs$/);
        assert.match(lines.find((l) => l.includes(' stderr ')) ?? '', /^\S+ stderr F to-stderr$/);
        assert.match(lines.find((l) => l.endsWith('partial')) ?? '', /^\S+ stdout [PF] partial$/);
      });
    });

    describe('exec', () => {
      it('streams an Exec on a TTY: terminal output on stdout, stdin and resizes reach the process, the exit code on the error channel', async () => {
        const pod = await runPod('ttyexec');
        const id = await runContainer(pod, 'exec sleep 1000');
        const script = 'tty; while read x; do [ "$x" = end ] && exit 3; echo "got $x $(stty size)"; done';
        const { url } = await client.runtime.exec({ containerId: id, cmd: ['sh', '-c', script], tty: true, stdin: true, stdout: true });
        const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
        const out = new Map<number, string>();
        ws.on('message', (d: Buffer) => out.set(d[0] ?? 255, (out.get(d[0] ?? 255) ?? '') + d.subarray(1).toString('latin1')));
        const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        const send = (channel: number, data: string): void => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data, 'latin1')]));
        send(4, JSON.stringify({ Width: 100, Height: 40 }));
        // A resize reaches the process a moment after it arrives: a numbered line per try until the size shows.
        let n = 0;
        await pollUntil('the terminal size in the output', async () => {
          if (/got l\d+ 40 100\r\n/.test(out.get(1) ?? '')) return true;
          if ((out.get(1) ?? '').includes('/dev/pts/')) send(0, `l${++n}\r`);
          return undefined;
        }, 15_000, 200);
        send(0, 'end\r');
        await closed;
        // ketch's runc-in-the-foreground may add a second \r to what the process writes before runc has set up its
        // terminals (agent/README-streaming.md); a terminal shows both alike.
        assert.match(out.get(1) ?? '', /^\/dev\/pts\/\d+\r\r?\n/);
        assert.equal(out.get(2), undefined);
        const status = JSON.parse(out.get(3) ?? '{}') as { reason?: string; details?: { causes?: { message?: string }[] } };
        assert.deepEqual([status.reason, status.details?.causes?.[0]?.message], ['NonZeroExitCode', '3']);
      });

      it('returns ExecSync exit codes and separate stdout and stderr', async () => {
        const pod = await runPod('exec');
        const id = await runContainer(pod, 'exec sleep 1000');
        const r = await client.runtime.execSync({ containerId: id, cmd: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 4'], timeout: 10 });
        assert.equal(r.stdout.toString(), 'out\n');
        assert.equal(r.stderr.toString(), 'err\n');
        assert.equal(r.exitCode, 4);
        const ok = await client.runtime.execSync({ containerId: id, cmd: ['true'], timeout: 10 });
        assert.equal(ok.exitCode, 0);
        assert.equal((await client.runtime.execSync({ containerId: id, cmd: ['hostname'] })).stdout.toString(), 'exec\n');
      });

      it('fails ExecSync with DEADLINE_EXCEEDED when the timeout passes', async () => {
        const pod = await runPod('exectimeout');
        const id = await runContainer(pod, 'exec sleep 1000');
        await rejectsWithCode(client.runtime.execSync({ containerId: id, cmd: ['sleep', '30'], timeout: 1 }), grpc.status.DEADLINE_EXCEEDED, /time(d )?out/);
      });

      it('fails ExecSync (not an exit code) when the command does not exist', async () => {
        const pod = await runPod('execmissing');
        const id = await runContainer(pod, 'exec sleep 1000');
        await assert.rejects(client.runtime.execSync({ containerId: id, cmd: ['/no/such/tool'], timeout: 10 }), /\/no\/such\/tool.*no such file or directory/);
      });
    });

    isolationCases(() => ({ client, registry, rt, image, runPod, runContainer, waitExited, sandboxConfig }));

    describe('network', () => {
      let a: string;
      let b: string;
      let ipA: string;
      let ipB: string;
      let webA: string;
      let clientB: string;

      before(async function () {
        this.timeout(60_000);
        a = await runPod('net-a');
        b = await runPod('net-b');
        [ipA, ipB] = await Promise.all([podIp(a), podIp(b)]);
        webA = await runContainer(a, 'mkdir -p /www && echo pod-a > /www/index.html && exec httpd -f -p 8080 -h /www');
        clientB = await runContainer(b, 'exec sleep 1000');
      });

      it('gives each pod its own address from the pod CIDR', () => {
        const prefix = rt.podCidr.split('.').slice(0, 3).join('.');
        assert.ok(ipA.startsWith(`${prefix}.`), ipA);
        assert.ok(ipB.startsWith(`${prefix}.`), ipB);
        assert.notEqual(ipA, ipB);
      });

      it('reaches a pod from the host by its IP', async () => {
        await waitHttp(webA, 'http://127.0.0.1:8080/');
        const res = await fetch(`http://${ipA}:8080/`, { signal: AbortSignal.timeout(5000) });
        assert.equal(await res.text(), 'pod-a\n');
      });

      it('reaches a pod from another pod by its IP', async () => {
        assert.equal(await waitHttp(clientB, `http://${ipA}:8080/`), 'pod-a\n');
      });

      it('lets containers of one pod talk over localhost, and sets eth0 to the pod IP', async () => {
        const side = await runContainer(a, 'exec sleep 1000');
        assert.equal(await waitHttp(side, 'http://127.0.0.1:8080/'), 'pod-a\n');
        const addr = await client.runtime.execSync({ containerId: side, cmd: ['ip', '-4', 'addr', 'show', 'eth0'] });
        assert.match(addr.stdout.toString(), new RegExp(`inet ${ipA.replace(/\./g, '\\.')}/24`));
        // Another pod's localhost is its own.
        const other = await client.runtime.execSync({ containerId: clientB, cmd: ['sh', '-c', 'timeout 3 wget -qO- http://127.0.0.1:8080/'], timeout: 10 });
        assert.notEqual(other.exitCode, 0);
      });
    });
  });
}

/** What the isolation cases need of the suite's state (set up in its before hook, so read lazily). */
interface SuiteState {
  client: RuntimeClient;
  registry: TestRegistry;
  rt: RuntimeUnderTest;
  image: string;
  runPod(pod: string): Promise<string>;
  runContainer(podSandboxId: string, script: string, extra?: DeepPartial<ContainerConfig>): Promise<string>;
  waitExited(containerId: string, timeoutMs?: number): Promise<ContainerStatus>;
  sandboxConfig(pod: string): DeepPartial<PodSandboxConfig>;
}

/** Hostile layers, absolute links, seccomp, capabilities, users, masked paths: the same answers from both runtimes. */
function isolationCases(get: () => SuiteState): void {
  describe('isolation', () => {
    let area: string;
    let hostBefore: string[];

    before(async () => {
      // Sentinels where a layer that escaped its root would write; listed before and after each hostile pull.
      area = await mkdtemp(join(tmpdir(), 'ketch-conf-host-'));
      await mkdir(join(area, 'host', 'etc'), { recursive: true });
      await writeFile(join(area, 'host', 'sentinel'), 'sentinel');
      await writeFile(join(area, 'host', 'etc', 'shadow'), 'sentinel shadow');
      hostBefore = await listing(area);
    });

    after(async () => {
      if (area) await rm(area, { recursive: true, force: true });
    });

    const push = async (repo: string, tars: Buffer[], busybox = true): Promise<string> => {
      const { registry } = get();
      const img = await buildImageFromTars(tars, { busybox });
      await pushImage(registry.url, repo, 'v1', img);
      await img.dispose();
      return `${registry.host}/${repo}:v1`;
    };

    /** Runs `script` in a container of a new pod made from `ref`; its output and exit code. */
    const runIn = async (pod: string, ref: string, script: string, extra: DeepPartial<ContainerConfig> = {}): Promise<{ out: string; code: number }> => {
      const s = get();
      // The end marker tells when the whole log is there (containerd flushes it after it reports the exit).
      const id = await s.runContainer(await s.runPod(pod), `(${script}); rc=$?; echo __end__; exit $rc`, { image: { image: ref }, ...extra });
      const st = await s.waitExited(id);
      const out = await pollUntil('the whole container log', async () => {
        const text = await readFile(st.logPath, 'utf8');
        return text.includes('__end__') ? text : undefined;
      });
      const lines = out.split('\n').map((l) => l.replace(/^\S+ std(out|err) [FP] /, ''));
      return { out: lines.filter((l) => l !== '__end__').join('\n'), code: st.exitCode };
    };

    it('runs sh in an image whose links are absolute, as alpine has them (/bin/sh -> /bin/busybox)', async () => {
      const { registry, client } = get();
      const img = await buildBusyboxImage({ absoluteLinks: true });
      await pushImage(registry.url, 'test/alpine-like', 'v1', img);
      await img.dispose();
      const ref = `${registry.host}/test/alpine-like:v1`;
      await client.image.pullImage({ image: { image: ref } });
      const r = await runIn('abslinks', ref, 'readlink /bin/sh; echo running sh');
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /^\/bin\/busybox\nrunning sh/);
    });

    it('keeps a chain of relative links inside the rootfs: d/l2 -> l1/.., then d/l2/etc/.wh.passwd and d/l3/etc/motd', async () => {
      const { client } = get();
      const chain = [
        { name: 'd/', type: 'dir' as const },
        { name: 'd/l1', type: 'symlink' as const, linkname: '..' },
        { name: 'd/l2', type: 'symlink' as const, linkname: 'l1/..' },
        { name: 'd/l3', type: 'symlink' as const, linkname: 'l2/../../../../../../../../../..' },
      ];
      // In the same layer as the links, the names resolve through them (inside the root); in a layer above, the
      // links are not in that layer's directory and the names are made as plain directories, by both runtimes.
      const ref = await push('test/link-chain', [
        tarOf([...chain, { name: 'd/l2/etc/.wh.passwd' }, { name: 'd/l3/etc/motd', data: 'written through a link chain\n' }]),
        tarOf([{ name: 'd/l2/etc/.wh.group' }, { name: 'd/l3/etc/issue', data: 'a layer above\n' }]),
      ]);
      await client.image.pullImage({ image: { image: ref } });
      const r = await runIn('linkchain', ref, 'cat /etc/motd; test -e /etc/passwd || echo passwd hidden; test -e /etc/group && echo group kept; cat /d/l3/etc/issue');
      const hidden = get().rt.differences.linkChain === 'kernel' ? 'passwd hidden\n' : '';
      assert.equal(r.out.trim(), `written through a link chain\n${hidden}group kept\na layer above`);
      assert.deepEqual(await listing(area), hostBefore);
    });

    it('resolves an absolute link to a host path inside the rootfs, for files and whiteouts through it', async () => {
      const { client } = get();
      const ref = await push('test/abs-escape', [
        tarOf([
          { name: 'escape', type: 'symlink', linkname: join(area, 'host') },
          { name: 'escape/sentinel', data: 'pwned\n' },
          { name: 'escape/etc/.wh.shadow' },
        ]),
      ]);
      await client.image.pullImage({ image: { image: ref } });
      assert.deepEqual(await listing(area), hostBefore);
      const r = await runIn('absescape', ref, `cat ${join(area, 'host', 'sentinel')}`);
      assert.equal(r.out.trim(), 'pwned');
    });

    const up = '../'.repeat(24);
    const hostile: [string, HostileLayer, () => Buffer][] = [
      ['an entry named with ".." up to the host', 'dotdot', () => tarOf([{ name: `${up}${area.slice(1)}/host/sentinel`, data: 'pwned\n' }])],
      ['a whiteout named with ".." up to the host', 'dotdot', () => tarOf([{ name: `${up}${area.slice(1)}/host/etc/.wh.shadow` }])],
      ['a hard link to a host file', 'hardlink', () => tarOf([{ name: 'stolen', type: 'link', linkname: `${up}${area.slice(1)}/host/sentinel` }])],
    ];
    for (const [what, kind, tar] of hostile) {
      it(`pulls or refuses a layer with ${what}, and leaves the host unchanged`, async () => {
        const { client, rt } = get();
        const ref = await push(`test/hostile-${what.replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '')}`, [tar()], false);
        const pull = client.image.pullImage({ image: { image: ref } });
        const refusal = rt.differences.hostileLayer(kind);
        if (refusal) await rejectsWith(pull, refusal.code, refusal.message);
        else await pull;
        assert.deepEqual(await listing(area), hostBefore);
      });
    }

    it('RuntimeDefault seccomp refuses unshare of a user namespace with EPERM; Unconfined allows it', async () => {
      const { image } = get();
      const runtimeDefault = await runIn('seccomp-default', image, 'unshare -U true 2>&1; echo rc=$?', { linux: { securityContext: { seccomp: { profileType: 'RuntimeDefault' } } } });
      assert.match(runtimeDefault.out, /Operation not permitted[\s\S]*rc=1/);
      const unconfined = await runIn('seccomp-none', image, 'unshare -U true 2>&1; echo rc=$?', { linux: { securityContext: { seccomp: { profileType: 'Unconfined' } } } });
      assert.match(unconfined.out, /rc=0/);
    });

    it('applies no_new_privs, dropped and added capabilities, masked and read-only paths and a read-only rootfs', async () => {
      const { image } = get();
      const script = [
        'grep -E "^(NoNewPrivs|CapEff|CapBnd)" /proc/self/status',
        'echo keys=$(wc -c < /proc/keys)',
        'echo x > /proc/sys/kernel/domainname 2>/dev/null || echo procsys=ro',
        'touch /newfile 2>/dev/null || echo rootfs=ro',
      ].join('; ');
      const r = await runIn('confined', image, script, {
        linux: {
          securityContext: {
            noNewPrivs: true,
            readonlyRootfs: true,
            capabilities: { dropCapabilities: ['ALL'], addCapabilities: ['NET_BIND_SERVICE'] },
            seccomp: { profileType: 'RuntimeDefault' },
            // Sent explicitly, as kubelet sends them: containerd 1.6 masks nothing when the lists are empty.
            maskedPaths: MASKED_PATHS,
            readonlyPaths: READONLY_PATHS,
          },
        },
      });
      assert.match(r.out, /NoNewPrivs:\s+1/);
      // CAP_NET_BIND_SERVICE alone is bit 10.
      assert.match(r.out, /CapEff:\s+0000000000000400/);
      assert.match(r.out, /CapBnd:\s+0000000000000400/);
      assert.match(r.out, /keys=0/);
      assert.match(r.out, /procsys=ro/);
      assert.match(r.out, /rootfs=ro/);
    });

    it('runs as runAsUser and runAsGroup with the supplemental groups', async () => {
      const { image } = get();
      const r = await runIn('users', image, 'id', {
        linux: { securityContext: { runAsUser: { value: 1000 }, runAsGroup: { value: 3000 }, supplementalGroups: [4000, 5000] } },
      });
      assert.match(r.out, /uid=1000 gid=3000 groups=(3000,)?4000,5000/);
    });
  });
}

const rejectsWith = (p: Promise<unknown>, code: grpc.status, message: RegExp): Promise<void> =>
  assert.rejects(p, (err: Error) => {
    assert.equal(codeOf(err), code, `expected gRPC code ${grpc.status[code]}, got ${String(codeOf(err))}: ${err.message}`);
    assert.match(err.message, message);
    return true;
  });
