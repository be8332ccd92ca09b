// `npm run bench:runtime`: pod start latency (RunPodSandbox + CreateContainer + StartContainer, until the
// container's process runs) of the ketch shim and of containerd 1.6's CRI plugin, measured in the same run,
// pod by pod in turn, beside a raw `runc run --detach` of the same bundle. Needs root, runc, docker-registry,
// containerd and containernetworking-plugins. BENCH_PODS (default 50) sets the number of pods per runtime.
// Also the CPU that each start costs the whole process tree (this process with the ketch shim in it, its monitors,
// runc and ip; containerd and its shims), read from a cpuacct cgroup over the start and a settling pause after it.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../agent/runtime/exec.js';
import { type RuntimeClient, connectRuntime } from '../../agent/cri/client.js';
import { startRuntimeService } from '../../agent/runtime/index.js';
import { startContainerd } from '../support/runtime/containerd.js';
import { removeTestBridge } from '../support/runtime/bridge.js';
import { buildBusyboxImage, pushImage } from '../support/runtime/oci-image.js';
import { rootLogger } from '../../lib/logger.js';
import { startRegistry } from '../support/runtime/registry.js';
import { type CpuMeter, cpuMeter } from './cpu.js';
import { removeBenchCgroups } from './raw-runc.js';

const PODS = Number(process.env.BENCH_PODS ?? 50);
/** After each timed start, before the next: work that a start leaves running (a monitor booting) is charged to it. */
const SETTLE_MS = 200;

interface Sample {
  sandbox: number;
  start: number;
  total: number;
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

/** One pod: a sandbox and one `sleep` container, timed until StartContainer returns (the process runs). */
async function startPod(client: RuntimeClient, image: string, logs: string, name: string): Promise<Sample> {
  const config = { metadata: { name, namespace: 'bench', uid: `uid-${name}`, attempt: 0 }, hostname: name, logDirectory: join(logs, name), linux: {} };
  const t0 = process.hrtime.bigint();
  const { podSandboxId } = await client.runtime.runPodSandbox({ config });
  const sandbox = ms(t0);
  const t1 = process.hrtime.bigint();
  const { containerId } = await client.runtime.createContainer({
    podSandboxId,
    config: { metadata: { name: 'c' }, image: { image }, command: ['sleep', '3600'], logPath: 'c.log' },
    sandboxConfig: config,
  });
  await client.runtime.startContainer({ containerId });
  return { sandbox, start: ms(t1), total: ms(t0) };
}

async function removeAll(client: RuntimeClient): Promise<void> {
  const { items } = await client.runtime.listPodSandbox({});
  for (const s of items) {
    await client.runtime.stopPodSandbox({ podSandboxId: s.id });
    await client.runtime.removePodSandbox({ podSandboxId: s.id });
  }
}

/** `runc run --detach` of a bundle whose config.json is the one the shim wrote, under a fresh id and cgroup. */
async function rawRunc(runcRoot: string, bundleSource: string, work: string, i: number): Promise<number> {
  const spec = JSON.parse(await readFile(join(bundleSource, 'config.json'), 'utf8')) as { root: { path: string }; linux: { cgroupsPath: string } };
  const bundle = join(work, `b${i}`);
  await mkdir(bundle, { recursive: true });
  spec.root.path = join(bundleSource, 'rootfs');
  spec.linux.cgroupsPath = `/ketch-bench/raw-${i}`;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  const t0 = process.hrtime.bigint();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('runc', ['--root', runcRoot, 'run', '--detach', '--bundle', bundle, `raw-${i}`], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
  const took = ms(t0);
  if (code !== 0) throw new Error(`runc run --detach exited ${code}`);
  return took;
}

/** Runs fn, then waits SETTLE_MS; the CPU ms the process tree used meanwhile (NaN without a meter). */
async function charged<T>(meter: CpuMeter | undefined, fn: () => Promise<T>): Promise<{ value: T; cpu: number }> {
  const before = meter ? await meter.ms() : NaN;
  const value = await fn();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return { value, cpu: meter ? (await meter.ms()) - before : NaN };
}

async function main(): Promise<void> {
  // Only warnings, so that the table is readable.
  rootLogger.level = process.env.KETCH_LOG_LEVEL ?? 'warn';
  if (process.getuid?.() !== 0) throw new Error('the runtime benchmark must run as root');
  // First, so that every process started from here on is counted.
  const meter = await cpuMeter();
  const registry = await startRegistry();
  const cleanups: (() => Promise<unknown>)[] = [() => registry.stop()];
  if (meter) cleanups.push(() => meter.close());
  try {
    const busybox = await buildBusyboxImage();
    const pause = await buildBusyboxImage({ cmd: ['sleep', '2147483647'] });
    await pushImage(registry.url, 'bench/busybox', 'v1', busybox);
    await pushImage(registry.url, 'bench/pause', '1.0', pause);
    await Promise.all([busybox.dispose(), pause.dispose()]);
    const image = `${registry.host}/bench/busybox:v1`;
    const work = await mkdtemp(join(tmpdir(), 'ketch-bench-'));
    cleanups.unshift(() => rm(work, { recursive: true, force: true }));

    const root = join(work, 'shim');
    const listen = `unix://${join(root, 'cri.sock')}`;
    const shim = await startRuntimeService({ root, listen, bridge: 'ketchbench0' });
    const ours = connectRuntime(listen);
    cleanups.unshift(async () => {
      await removeAll(ours);
      ours.close();
      await shim.close();
      await removeTestBridge('ketchbench0');
    });
    await ours.runtime.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: '10.253.0.0/16' } } });

    const containerd = await startContainerd({ sandboxImage: `${registry.host}/bench/pause:1.0`, insecureRegistries: [registry.host], podCidr: '10.254.0.0/16', bridge: 'ketchbenchc0' });
    const theirs = connectRuntime(containerd.endpoint);
    cleanups.unshift(async () => {
      theirs.close();
      await containerd.stop();
    });

    // Warm-up (not timed): pulls, containerd's pause image, the shim's transpiled monitor.
    for (const c of [ours, theirs]) {
      await c.image.pullImage({ image: { image } });
      await startPod(c, image, join(work, 'logs'), 'warmup');
    }
    // The raw runc bundle: a created, never started shim container (overlay rootfs and config.json).
    const { podSandboxId } = await ours.runtime.runPodSandbox({ config: { metadata: { name: 'raw', namespace: 'bench', uid: 'raw', attempt: 0 }, linux: {} } });
    const { containerId } = await ours.runtime.createContainer({ podSandboxId, config: { metadata: { name: 'raw' }, image: { image }, command: ['sleep', '3600'] } });
    const bundle = join(root, 'containers', containerId);
    const runcRoot = join(work, 'runc-raw');
    cleanups.unshift(async () => {
      for (let i = 0; i < PODS; i++) await run('runc', ['--root', runcRoot, 'delete', '--force', `raw-${i}`], { allowFailure: true });
      await removeBenchCgroups('ketch-bench');
    });

    const samples: { ours: Sample[]; containerd: Sample[]; runc: number[] } = { ours: [], containerd: [], runc: [] };
    const cpu: { ours: number[]; containerd: number[]; runc: number[] } = { ours: [], containerd: [], runc: [] };
    // Interleaved, so that load from elsewhere on the machine hits all three alike.
    for (let i = 0; i < PODS; i++) {
      for (const [key, fn] of [
        ['ours', () => startPod(ours, image, join(work, 'logs'), `p${i}`)],
        ['containerd', () => startPod(theirs, image, join(work, 'logs'), `p${i}`)],
      ] as const) {
        const { value, cpu: used } = await charged(meter, fn);
        samples[key].push(value);
        cpu[key].push(used);
      }
      const { value, cpu: used } = await charged(meter, () => rawRunc(runcRoot, bundle, work, i));
      samples.runc.push(value);
      cpu.runc.push(used);
    }

    const row = (name: string, xs: number[]): string[] => [name, percentile(xs, 50).toFixed(1), percentile(xs, 99).toFixed(1)];
    const table: string[][] = [
      ['measurement', 'p50 ms', 'p99 ms'],
      ['---', '---:', '---:'],
      row('ketch shim: pod start (sandbox + create + start)', samples.ours.map((s) => s.total)),
      row('ketch shim: RunPodSandbox', samples.ours.map((s) => s.sandbox)),
      row('ketch shim: CreateContainer + StartContainer', samples.ours.map((s) => s.start)),
      row('containerd 1.6 CRI: pod start', samples.containerd.map((s) => s.total)),
      row('containerd 1.6 CRI: RunPodSandbox', samples.containerd.map((s) => s.sandbox)),
      row('containerd 1.6 CRI: CreateContainer + StartContainer', samples.containerd.map((s) => s.start)),
      row('raw runc run --detach (same bundle)', samples.runc),
    ];
    const p50 = (xs: number[]): number => percentile(xs, 50);
    const p99 = (xs: number[]): number => percentile(xs, 99);
    const oursTotal = samples.ours.map((s) => s.total);
    const theirTotal = samples.containerd.map((s) => s.total);
    table.push(
      ['ratio ours / raw runc', (p50(oursTotal) / p50(samples.runc)).toFixed(2), (p99(oursTotal) / p99(samples.runc)).toFixed(2)],
      ['ratio ours / containerd', (p50(oursTotal) / p50(theirTotal)).toFixed(2), (p99(oursTotal) / p99(theirTotal)).toFixed(2)],
    );
    const mean = (xs: number[]): string => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);
    const cpuTable = [
      ['CPU per pod start (whole process tree, cpuacct)', 'mean ms', 'p50 ms'],
      ['---', '---:', '---:'],
      ...(['ours', 'containerd', 'runc'] as const).map((k) => [{ ours: 'ketch shim', containerd: 'containerd 1.6 CRI', runc: 'raw runc run --detach' }[k], mean(cpu[k]), percentile(cpu[k], 50).toFixed(1)]),
    ];
    const md = (rows: string[][]): string => rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
    process.stdout.write(
      `${PODS} pods per runtime, started one at a time (no concurrency), interleaved ketch / containerd / raw runc, ${SETTLE_MS} ms apart\n\n${md(table)}\n\n` +
        (meter ? `${md(cpuTable)}\n(the CPU of a start includes whatever else the process tree did in it and the ${SETTLE_MS} ms after it, e.g. the other runtime idling)\n` : 'no cpuacct cgroup: CPU not measured\n'),
    );
  } finally {
    for (const c of cleanups) await c().catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
