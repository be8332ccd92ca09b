// `npm run bench:controllers`: a 1,000-replica Deployment brought up and rolled out by the controller manager that
// `ketch server` hosts (API server, embedded store on disk and controllers in one child process, as k3s runs them; no
// scheduler). This process plays the nodes: hollow nodes (agent/hollow.ts) mark pods bound to them Running and Ready,
// and a simulated binder puts each new pod on a hollow node round-robin, so that the times measure the controllers and
// not scheduling decisions. Beside the controllers' pod creates/s it measures, in the same run against the same server,
// raw POSTs of the same pod bodies at the same concurrency: alone, and with the simulated agent binding and readying
// them as it does the controllers' pods (half of each before and half after, so that drift hits all alike). The agent's
// two writes per pod share the API server with the creates; in the second baseline they also share this process with
// the raw client, which the controllers' run does not, so the truth lies between the two ratios.
//   BENCH_REPLICAS (1000), BENCH_NODES (50), BENCH_CONCURRENCY (raw creates in flight; default the ReplicaSet
//   controller's CREATE_CONCURRENCY),
//   BENCH_PROFILE=DIR (CPU profile of the server process into DIR).
import { limiter } from '../../lib/limit.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pool, startServer, until } from './server-process.js';
import { startHollowNodes } from '../../agent/hollow.js';
import { Informer, loadClientConfig, RestClient, type ResourceClient } from '../../client/index.js';
import { podFromTemplate, isPodReady } from '../../controllers/framework/pods.js';
import { CREATE_CONCURRENCY } from '../../controllers/replicaset/replicaset-controller.js';
import { DEPLOYMENTS, NAMESPACES, PODS, REPLICASETS, refFor, type Deployment, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';

const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1000);
const NODES = Number(process.env.BENCH_NODES ?? 50);
const PROFILE = process.env.BENCH_PROFILE;
/** Raw creates in flight: as many as the ReplicaSet controller keeps in flight. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? CREATE_CONCURRENCY);
const NS = 'bench';
/** Raw creates alone, and raw creates that the simulated agent binds and readies as it does the controllers' pods. */
const BASE_NS = 'baseline';
const AGENT_NS = 'baseline-agent';
const CONFIGMAPS = refFor('v1', 'ConfigMap');

const say = (s: string): boolean => process.stderr.write(s + '\n');
const secs = (ms: number): string => (ms / 1000).toFixed(1);

/** Watches a namespace: binds new pods to hollow nodes round-robin and records when each was seen and ready. */
class PodTracker {
  readonly informer: Informer<Pod>;
  readonly added = new Map<string, number>();
  readonly ready = new Map<string, number>();
  private next = 0;
  private readonly bind = limiter(32);

  constructor(rest: RestClient, pods: ResourceClient<Pod>, nodes: string[], namespace: string) {
    this.informer = new Informer<Pod>(pods, { namespace });
    const seen = (p: Pod): void => {
      const uid = p.metadata.uid ?? '';
      if (!this.added.has(uid)) this.added.set(uid, performance.now());
      if (isPodReady(p) && !this.ready.has(uid)) this.ready.set(uid, performance.now());
      if (p.spec.nodeName || p.metadata.deletionTimestamp) return;
      const node = nodes[this.next++ % nodes.length]!;
      const name = p.metadata.name ?? '';
      void this.bind(() =>
        rest.request('POST', pods.path(namespace, name, 'binding'), { body: { apiVersion: 'v1', kind: 'Binding', metadata: { name, uid }, target: { kind: 'Node', name: node } } }),
      ).catch((err: unknown) => say(`  bind ${name} failed: ${String(err)}`));
    };
    this.informer.addEventHandler({ onAdd: seen, onUpdate: (_o, p) => seen(p) });
  }

  /** Live pods with the given image, and how many of them are ready. */
  count(image?: string): { live: number; ready: number } {
    const live = this.informer.indexer.list().filter((p) => !p.metadata.deletionTimestamp && (!image || p.spec.containers[0]?.image === image));
    return { live: live.length, ready: live.filter(isPodReady).length };
  }
}

const web = (image: string): Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: {
    replicas: REPLICAS,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image, resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
  },
});

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-ctrl-bench-'));
  say(`controllers benchmark: Deployment of ${REPLICAS} replicas on ${NODES} hollow nodes; ketch server (embedded store, hosted controller manager)`);
  const server = await startServer(dataDir, PROFILE);
  const rest = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }), 'controllers-bench');
  // Baseline writes go through a client of their own, as the controller manager's do.
  const baseRest = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }), 'controllers-bench-baseline');
  const pods = rest.resource<Pod>(PODS);
  const deps = rest.resource<Deployment>(DEPLOYMENTS);
  let hollow: Awaited<ReturnType<typeof startHollowNodes>> | undefined;
  const trackers: PodTracker[] = [];
  try {
    for (const name of [NS, BASE_NS, AGENT_NS]) await rest.resource(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    const capacity = { cpu: '64', memory: '256Gi', pods: String(Math.ceil((3.5 * REPLICAS) / NODES) + 10), 'ephemeral-storage': '100Gi' };
    hollow = await startHollowNodes({ rest, count: NODES, capacity, concurrency: 32 });
    const tracker = new PodTracker(rest, pods, hollow.nodes, NS);
    trackers.push(tracker, new PodTracker(rest, pods, hollow.nodes, AGENT_NS));
    for (const t of trackers) t.informer.start();
    await Promise.all(trackers.map((t) => t.informer.waitForSync()));

    // Baseline bodies: what the ReplicaSet controller posts (generateName, labels, a controller reference), owned by
    // a ConfigMap so that neither the ReplicaSet controller nor the collector touches them.
    const bodyIn = async (namespace: string): Promise<Pod> => {
      const owner = await rest.resource(CONFIGMAPS).create(namespace, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' } });
      const body = podFromTemplate(web('nginx:1').spec.template!, { metadata: { name: 'owner', namespace, uid: owner.metadata?.uid ?? '' } }, { apiVersion: 'v1', kind: 'ConfigMap' });
      body.metadata.labels = { ...body.metadata.labels, 'pod-template-hash': '5d4f8c7b9' };
      body.metadata.generateName = 'web-5d4f8c7b9-';
      return body;
    };
    const bodies = { [BASE_NS]: await bodyIn(BASE_NS), [AGENT_NS]: await bodyIn(AGENT_NS) };
    const baseClient = baseRest.resource<Pod>(PODS);
    const spent = { raw: { ms: 0, n: 0 }, agentCreated: { ms: 0, n: 0 } };
    const add = (x: { ms: number; n: number }, ms: number, n: number): void => void ((x.ms += ms), (x.n += n));
    const raw = async (n: number): Promise<void> => {
      const t = performance.now();
      await pool(n, CONCURRENCY, () => baseClient.create(BASE_NS, bodies[BASE_NS]));
      add(spent.raw, performance.now() - t, n);
    };
    // Raw creates that the agent binds and readies while they are posted, as it does the controllers' pods.
    const withAgent = async (n: number): Promise<void> => {
      const ready = trackers[1]!.ready;
      const before = ready.size;
      const t = performance.now();
      await pool(n, CONCURRENCY, () => baseClient.create(AGENT_NS, bodies[AGENT_NS]));
      add(spent.agentCreated, performance.now() - t, n);
      await until(() => ready.size >= before + n, 'the agent to ready the raw pods');
    };
    // Warm up (connections, JIT); then half of each baseline before the controllers' run and half after it, in reverse
    // order, so that drift in the machine's load hits all alike.
    await pool(100, CONCURRENCY, () => baseClient.create(BASE_NS, bodies[BASE_NS]));
    const half = Math.floor(REPLICAS / 2);
    await raw(half);
    await withAgent(half);

    // 1. Scale from nothing: the Deployment, then its ReplicaSet's pods.
    const t0 = performance.now();
    await deps.create(NS, web('nginx:1'));
    const allExist = await until(() => tracker.count().live >= REPLICAS, 'all pods to exist');
    const allReady = await until(() => tracker.count().ready >= REPLICAS, 'all pods to be ready');
    const createMs = allExist - t0;
    say(`  all ${REPLICAS} pods exist after ${secs(createMs)} s (first after ${secs(Math.min(...tracker.added.values()) - t0)} s), all Ready after ${secs(allReady - t0)} s`);

    // 2. Rolling update (default 25% surge, 25% unavailable): done as `kubectl rollout status` sees it.
    const t1 = performance.now();
    await deps.patch(NS, 'web', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
    const rolled = await until(async () => {
      const d = await deps.get(NS, 'web');
      const st = d.status ?? {};
      return (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && st.updatedReplicas === REPLICAS && st.replicas === REPLICAS && st.availableReplicas === REPLICAS;
    }, 'the rollout');
    const rolloutMs = rolled - t1;
    const rsCount = (await rest.resource<ReplicaSet>(REPLICASETS).list(NS)).items.length;
    say(`  rolling update (image change) complete after ${secs(rolloutMs)} s (${rsCount} ReplicaSets)`);

    await withAgent(REPLICAS - half);
    await raw(REPLICAS - half);
    const rate = (x: { ms: number; n: number }): number => x.n / (x.ms / 1000);
    const created = REPLICAS / (createMs / 1000);
    const rows: Array<[string, number, number]> = [
      ['pods created/s vs raw POSTs alone', created, rate(spent.raw)],
      ['pods created/s vs raw POSTs with the agent binding and readying them', created, rate(spent.agentCreated)],
    ];
    say('');
    say(`| ${REPLICAS} replicas, ${NODES} hollow nodes | seconds |`);
    say('|---|---|');
    say(`| all pods exist | ${secs(createMs)} |`);
    say(`| all pods Ready | ${secs(allReady - t0)} |`);
    say(`| rolling update (image change) complete | ${secs(rolloutMs)} |`);
    say('');
    say(`| rate (raw: same bodies, ${CONCURRENCY} in flight) | controllers | raw | ratio |`);
    say('|---|---|---|---|');
    for (const [k, c, r] of rows) say(`| ${k} | ${c.toFixed(0)} | ${r.toFixed(0)} | ${(c / r).toFixed(2)} |`);
    process.stdout.write(
      JSON.stringify({
        replicas: REPLICAS,
        nodes: NODES,
        concurrency: CONCURRENCY,
        allExistSec: +(createMs / 1000).toFixed(2),
        allReadySec: +((allReady - t0) / 1000).toFixed(2),
        rolloutSec: +(rolloutMs / 1000).toFixed(2),
        createdPerSec: Math.round(created),
        rawCreatedPerSec: Math.round(rate(spent.raw)),
        ratio: +(created / rate(spent.raw)).toFixed(2),
        rawWithAgentCreatedPerSec: Math.round(rate(spent.agentCreated)),
      }) + '\n',
    );
  } finally {
    for (const t of trackers) await t.informer.stop();
    await hollow?.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${String(err instanceof Error ? err.stack : err)}\n`);
  process.exit(1);
});
