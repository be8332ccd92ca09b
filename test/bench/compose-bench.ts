// `npm run bench:compose` (issue 21's compose figure, beside bench:registry): seconds from running
// `ketch compose -f FILE up --wait` of a five-service file to every service's pod Ready (images present on the node),
// on a real single-node `ketch up` cluster (runc); `up --wait` itself returns once each service runs (Compose's
// meaning), so Ready is polled (50 ms, through the API) after it, and its own exit time is shown too. Same-run
// baseline: the same Kubernetes objects (what `ketch compose config --objects` prints) with the real kubectl
// (`kubectl apply -f`), polled to Ready the same way. Each round brings the project up, times it, takes it down and
// waits for its namespace to go; the two ways alternate. BENCH_ROUNDS (default 5) timed rounds after one warm-up
// each; target: median under 3 s.
// Both CLIs run as processes (ketch from dist/: `npm run bench:compose` builds first).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { BIN, UpCluster, kubectlEnv } from '../e2e/cluster.js';
import { waitFor } from '../support/util.js';
import { percentile, table } from './raw-runc.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TARGET_S = 3;

const COMPOSE = `
name: bench
services:
  web:
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    expose: ["8080"]
  api:
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo api > /www/index.html && exec httpd -f -p 9000 -h /www"]
    expose: ["9000"]
    depends_on: [cache]
  worker:
    image: busybox:1.36
    command: ["sleep", "3600"]
    environment: { QUEUE: jobs }
  cache:
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && exec httpd -f -p 6379 -h /www"]
    expose: ["6379"]
  db:
    image: busybox:1.36
    command: ["sleep", "3600"]
    deploy: { replicas: 1 }
`;

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

/** Runs a command to its end; rejects with its output when it fails. */
function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

async function main(): Promise<void> {
  const cluster = await UpCluster.create({ clusterCidr: '10.68.0.0/16', fromDist: true });
  const env = { ...kubectlEnv(cluster.kubeconfig, cluster.dir), KETCH_LOG_LEVEL: 'warn', NO_COLOR: '1' };
  const ketch = (...args: string[]): Promise<string> => exec(process.execPath, [BIN, '--kubeconfig', cluster.kubeconfig, ...args], env);
  const kubectl = (...args: string[]): Promise<string> => exec('kubectl', args, env);
  try {
    await cluster.start();
    const file = join(cluster.dir, 'compose.yaml');
    await writeFile(file, COMPOSE);
    const objects = join(cluster.dir, 'objects.yaml');
    await writeFile(objects, await ketch('compose', '-f', file, 'config', '--objects'));
    const gone = (): Promise<unknown> =>
      waitFor(async () => (await kubectl('get', 'namespaces', '-o', 'name')).split('\n').every((n) => n !== 'namespace/bench'), { timeoutMs: 120_000, what: 'the bench namespace to go' });

    const ways: Record<string, { up(): Promise<void>; down(): Promise<void> }> = {
      'ketch compose up --wait': {
        up: async () => void (await ketch('compose', '-f', file, 'up', '--wait', '--wait-timeout', '120s')),
        down: async () => void (await ketch('compose', '-f', file, 'down')),
      },
      'kubectl apply (same objects)': {
        up: async () => void (await kubectl('apply', '-f', objects)),
        down: async () => void (await kubectl('delete', '-f', objects, '--wait=false')),
      },
    };
    const rest = new RestClient(loadClientConfig({ kubeconfig: cluster.kubeconfig }));
    type PodList = { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
    const readyPods = async (): Promise<number> =>
      (await rest.request<PodList>('GET', '/api/v1/namespaces/bench/pods', { query: { labelSelector: 'com.docker.compose.project=bench' } })).items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    const times: Record<string, { exit: number[]; ready: number[] }> = Object.fromEntries(Object.keys(ways).map((k) => [k, { exit: [], ready: [] }]));
    for (let r = -1; r < ROUNDS; r++) {
      for (const [name, way] of Object.entries(ways)) {
        const t0 = process.hrtime.bigint();
        await way.up();
        const exit = seconds(t0);
        await waitFor(async () => (await readyPods()) === 5, { timeoutMs: 120_000, intervalMs: 50, what: `${name}: 5 pods Ready` });
        const ready = seconds(t0);
        if (r >= 0) {
          times[name]!.exit.push(exit);
          times[name]!.ready.push(ready);
        }
        await way.down();
        await gone();
      }
    }
    const rows = [['way', 'to all Ready, median s', 'p90 s', 'min s', 'command exit, median s', 'rounds']];
    for (const [name, t] of Object.entries(times)) {
      rows.push([name, percentile(t.ready, 50).toFixed(2), percentile(t.ready, 90).toFixed(2), Math.min(...t.ready).toFixed(2), percentile(t.exit, 50).toFixed(2), String(t.ready.length)]);
    }
    const ours = percentile(times['ketch compose up --wait']!.ready, 50);
    const base = percentile(times['kubectl apply (same objects)']!.ready, 50);
    console.log(`compose benchmark: five services to every pod Ready (images present), ${ROUNDS} rounds after a warm-up, single-node ketch up`);
    console.log(table(rows));
    console.log(`ketch compose up to all Ready: median ${ours.toFixed(2)} s (target < ${TARGET_S} s: ${ours < TARGET_S ? 'met' : 'NOT met'}); ratio to the kubectl baseline ${(ours / base).toFixed(2)}`);
  } finally {
    try {
      await cluster.stop();
    } finally {
      await cluster.dispose();
    }
  }
}

await main();
