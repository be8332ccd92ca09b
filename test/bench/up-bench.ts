// `npm run bench:up`: seconds from starting `ketch up` to a Ready node and to its first pod Running, over rounds on one
// data dir (the first round pulls busybox from a local mirror; the later ones find it in the store), median of the
// warm rounds, beside a raw `runc run --detach` of a busybox bundle in the same run. Needs root, runc, iproute2 and
// docker-registry. BENCH_ROUNDS (default 5) warm rounds; BENCH_FROM=source runs `ketch up` through tsx instead of
// dist/ (what `npm start` runs: build it first).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../../api/index.js';
import { PODS } from '../../agent/resources.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { run } from '../../agent/runtime/exec.js';
import { bridgeOf, mountsUnder } from '../e2e/cluster.js';
import { startBusyboxMirror } from '../support/local-registry.js';
import { freePort, waitFor } from '../support/util.js';
import { percentile, rawRunc, table } from './raw-runc.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FROM = process.env.BENCH_FROM === 'source' ? 'source' : 'dist';
const repo = fileURLToPath(new URL('../../', import.meta.url));

interface Round {
  ready: number;
  firstPod: number;
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

function spawnUp(args: string[]): ChildProcess {
  const cmd = FROM === 'dist' ? [join(repo, 'bin', 'ketch.js')] : ['--import', 'tsx', join(repo, 'cli', 'entry.ts')];
  return spawn(process.execPath, [...cmd, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } });
}

/**
 * `bash scripts/quickstart.sh ARGS` as a second run: with npm and apt-get on PATH replaced by stubs that fail, so the
 * figure is that of a run that installs nothing (and the benchmark never touches node_modules or the packages).
 */
async function quickstartSpawner(work: string): Promise<(args: string[]) => ChildProcess> {
  const guard = join(work, 'guard');
  await mkdir(guard, { recursive: true });
  for (const cmd of ['npm', 'apt-get']) {
    await writeFile(join(guard, cmd), `#!/bin/sh\necho "bench:up: the quick start's second run called ${cmd} $*: run bash scripts/install-deps.sh once first" >&2\nexit 1\n`, { mode: 0o755 });
  }
  const env = { ...process.env, HOME: work, PATH: `${guard}:${process.env.PATH ?? ''}`, KETCH_LOG_LEVEL: 'warn' };
  return (args) => spawn('bash', [join(repo, 'scripts', 'quickstart.sh'), ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** One round: start `ketch up`, time the Ready node, create a pod, time it Running, delete it, Ctrl-C. */
async function round(dir: string, port: number, mirror: string, start: (args: string[]) => ChildProcess = (args) => spawnUp(['up', ...args])): Promise<Round> {
  const t0 = process.hrtime.bigint();
  const up = start(['--data-dir', dir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--agent-port', '0', '--registry-mirror', `docker.io=${mirror}`, '--cluster-cidr', '10.64.0.0/16']);
  let out = '';
  up.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => up.once('exit', r));
  try {
    await Promise.race([
      waitFor(() => out.includes('ketch is up'), { timeoutMs: 180_000, intervalMs: 20, what: 'ketch up to report a Ready node' }),
      exit.then((code) => Promise.reject(new Error(`ketch up exited (${code}): ${out}`))),
    ]);
    const ready = seconds(t0);
    const rest = new RestClient(loadClientConfig({ kubeconfig: join(dir, 'server', 'admin.kubeconfig') }), 'up-bench');
    const pods = rest.resource<Pod>(PODS);
    const created = await pods.create('default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'first' },
      spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
    } as Pod);
    const ac = new AbortController();
    let firstPod = NaN;
    try {
      for await (const ev of pods.watch('default', { fieldSelector: 'metadata.name=first', resourceVersion: created.metadata.resourceVersion ?? '0', signal: ac.signal })) {
        if (ev.type !== 'BOOKMARK' && (ev.object as Pod).status?.phase === 'Running') {
          firstPod = seconds(t0);
          break;
        }
      }
    } finally {
      ac.abort();
    }
    // The next round starts from an empty node, with only the image kept.
    await pods.delete('default', 'first', { gracePeriodSeconds: 0 });
    await waitFor(async () => pods.get('default', 'first').then(() => false, () => true), { timeoutMs: 60_000, what: 'the pod deleted' });
    return { ready, firstPod };
  } finally {
    up.kill('SIGINT');
    const code = await exit;
    if (code !== 0) process.stderr.write(`ketch up exited ${code} after SIGINT:\n${out}\n`);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the up benchmark must run as root');
  if (FROM === 'dist' && !existsSync(join(repo, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: npm run build (or BENCH_FROM=source)');
  const mirror = await startBusyboxMirror();
  const work = await mkdtemp(join(tmpdir(), 'ketch-up-bench-'));
  const raw = await rawRunc(work);
  try {
    const port = await freePort();
    const dir = join(work, 'data');
    const cold = await round(dir, port, mirror.url);
    const warm: Round[] = [];
    const runc: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      warm.push(await round(dir, port, mirror.url));
      runc.push(await raw.time(i));
      process.stderr.write(`round ${i + 1}/${ROUNDS}: Ready ${warm.at(-1)!.ready.toFixed(2)} s, first pod Running ${warm.at(-1)!.firstPod.toFixed(2)} s\n`);
    }
    // The quick start's second run (issue 23: under 10 s to a Ready node), beside `ketch up` alone on the same data dir.
    const quick: Round[] = [];
    const quickstart = await quickstartSpawner(work);
    for (let i = 0; i < Math.min(ROUNDS, 3); i++) quick.push(await round(dir, port, mirror.url, quickstart));
    const med = (xs: number[]): string => percentile(xs, 50).toFixed(2);
    const span = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    const rows = [
      ['measurement', `median s (${ROUNDS} warm rounds)`, 'range s', 'first round s (image pulled)'],
      ['---', '---:', '---:', '---:'],
      [`ketch up (${FROM}) start → node Ready`, med(warm.map((r) => r.ready)), span(warm.map((r) => r.ready)), cold.ready.toFixed(2)],
      [`ketch up (${FROM}) start → first pod Running`, med(warm.map((r) => r.firstPod)), span(warm.map((r) => r.firstPod)), cold.firstPod.toFixed(2)],
      ['node Ready → first pod Running', med(warm.map((r) => r.firstPod - r.ready)), span(warm.map((r) => r.firstPod - r.ready)), (cold.firstPod - cold.ready).toFixed(2)],
      ['bash scripts/quickstart.sh (second run) start → node Ready', med(quick.map((r) => r.ready)), span(quick.map((r) => r.ready)), ''],
      ['raw runc run --detach (busybox bundle)', (percentile(runc, 50) / 1000).toFixed(3), `${(Math.min(...runc) / 1000).toFixed(3)}–${(Math.max(...runc) / 1000).toFixed(3)}`, ''],
    ];
    process.stdout.write(`${table(rows)}\n`);
    const q = percentile(quick.map((r) => r.ready), 50);
    const w = percentile(warm.map((r) => r.ready), 50);
    process.stdout.write(`quick start, second run: node Ready in ${q.toFixed(2)} s (target < 10 s: ${q < 10 ? 'met' : 'NOT met'}); the script adds ${(q - w).toFixed(2)} s to \`ketch up\` alone (${w.toFixed(2)} s)\n`);
  } finally {
    await raw.cleanup();
    await mirror.stop();
    await run('ip', ['link', 'del', bridgeOf(join(work, 'data', 'runtime'))], { allowFailure: true });
    const left = mountsUnder(work);
    if (left.length) process.stderr.write(`mounts left under ${work}, not removed:\n${left.join('\n')}\n`);
    else await rm(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
