// `npm run bench:storage`: throughput and watch latency of both storage backends, each beside its raw baseline
// measured in the same run with the same bytes (raw etcd3 puts on the same etcd; raw better-sqlite3 inserts with the
// same durability: WAL, synchronous=FULL, one transaction per insert).
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import type { Storage } from '../../apiserver/storage/interface.js';
import { startEtcd } from '../support/etcd-server.js';

const OPS = Number(process.env.BENCH_OPS ?? 2000);
const LIST_N = 10_000;
const ROUNDS = 3;
const WATCH_N = Number(process.env.BENCH_WATCH_EVENTS ?? 500);
// A typical small pod object as JSON: the bytes every measurement writes.
const VALUE = Buffer.from(
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bench-pod', namespace: 'default', uid: '2f0c5a3e-0000-4000-8000-000000000000', labels: { app: 'bench' } },
    spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], resources: { requests: { cpu: '100m', memory: '64Mi' } } }] },
    status: { phase: 'Pending' },
  }),
);

/** Runs `total` calls of op with `concurrency` in flight; returns ops per second. */
async function rate(total: number, concurrency: number, op: (i: number) => Promise<unknown> | unknown): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await op(next++);
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return total / secs;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

interface Row {
  backend: string;
  metric: string;
  c: number;
  value: number;
  unit: string;
  baseline?: number;
}
const rows: Row[] = [];
const record = (r: Row): void => {
  rows.push(r);
  const ratio = r.baseline ? ` (baseline ${r.baseline.toFixed(0)} ${r.unit}, ratio ${(r.value / r.baseline).toFixed(2)})` : '';
  process.stderr.write(`  ${r.backend} ${r.metric} c=${r.c}: ${r.value.toFixed(r.unit === 'ms' ? 2 : 0)} ${r.unit}${ratio}\n`);
};

const median = (xs: number[]): number => percentile(xs, 50);

/**
 * Create throughput beside its baseline, in alternating rounds (baseline, ours, baseline, ...) so that noise from the
 * shared machine hits both alike; each figure is the median of its rounds.
 */
async function pairedCreates(c: number, baseline: (round: number) => Promise<number>, ours: (round: number) => Promise<number>): Promise<[number, number]> {
  const b: number[] = [];
  const o: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    b.push(await baseline(round));
    o.push(await ours(round));
  }
  return [median(b), median(o)];
}

type Baseline = (c: number, round: number) => Promise<number>;

async function benchStore(backend: string, baselineName: string, store: Storage, baseline: Baseline, run: string): Promise<void> {
  for (const c of [1, 64]) {
    const p = `/bench/${run}/c${c}/`;
    const [base, ours] = await pairedCreates(
      c,
      (round) => baseline(c, round),
      (round) => rate(OPS, c, (i) => store.create(`${p}${round}/${i}`, VALUE)),
    );
    record({ backend: baselineName, metric: 'raw writes/s', c, unit: 'ops/s', value: base });
    record({ backend, metric: 'creates/s', c, unit: 'ops/s', value: ours, baseline: base });
    const revs = new Map<number, number>();
    const list = await store.list(p);
    list.items.forEach((kv, i) => revs.set(i, kv.modRevision));
    const keys = list.items.map((kv) => kv.key);
    record({
      backend,
      metric: 'updates/s',
      c,
      unit: 'ops/s',
      // Each update is a compare-and-swap on a distinct key, so none of them conflicts.
      value: await rate(keys.length, c, async (i) => revs.set(i, (await store.update(keys[i]!, VALUE, revs.get(i)!)).modRevision)),
    });
    record({ backend, metric: 'gets/s', c, unit: 'ops/s', value: await rate(OPS, c, (i) => store.get(keys[i % keys.length]!)) });
  }
  // Listing 10,000 objects.
  const lp = `/bench/${run}/list/`;
  await rate(LIST_N, 64, (i) => store.create(`${lp}${String(i).padStart(6, '0')}`, VALUE));
  const lists: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await store.list(lp);
    if (r.items.length !== LIST_N) throw new Error(`listed ${r.items.length} of ${LIST_N}`);
    lists.push(performance.now() - t0);
  }
  record({ backend, metric: `list ${LIST_N} (median of 5)`, c: 1, unit: 'ms', value: percentile(lists, 50) });
  // Watch delivery latency: time from a write's acknowledgement request to the event at a watcher.
  for (const c of [1, 64]) {
    const wp = `/bench/${run}/watch${c}/`;
    const from = await store.currentRevision();
    const w = store.watch(wp, { fromRevision: from });
    const sent = new Map<string, number>();
    const lat: number[] = [];
    const got = (async () => {
      for await (const ev of w) {
        if (ev.type === 'PROGRESS' || !ev.kv) continue;
        const t = sent.get(ev.kv.key);
        if (t !== undefined) lat.push(performance.now() - t);
        if (lat.length >= WATCH_N) break;
      }
    })();
    await rate(WATCH_N, c, (i) => {
      const key = `${wp}${i}`;
      sent.set(key, performance.now());
      return store.create(key, VALUE);
    });
    await got;
    w.close();
    record({ backend, metric: 'watch latency p50', c, unit: 'ms', value: percentile(lat, 50) });
    record({ backend, metric: 'watch latency p99', c, unit: 'ms', value: percentile(lat, 99) });
  }
}

async function main(): Promise<void> {
  const run = Date.now().toString(36);
  process.stderr.write(`storage benchmark: ${OPS} ops per measurement, value ${VALUE.length} bytes (BENCH_OPS, BENCH_BACKENDS=embedded, BENCH_ETCD=URL)\n`);

  // ---- embedded vs raw SQLite ------------------------------------------------------------------------------
  const dir = mkdtempSync(join(tmpdir(), 'ketch-bench-'));
  try {
    const raw = new Database(join(dir, 'raw.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL');
    raw.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)');
    const ins = raw.prepare('INSERT INTO kv(key, value) VALUES (?, ?)');
    // better-sqlite3 is synchronous, so the raw baseline has no concurrency: one insert per transaction either way.
    const rawSqlite: Baseline = (c, round) => rate(OPS, 1, (i) => ins.run(`/raw/c${c}/${round}/${i}`, VALUE));
    const emb = new EmbeddedStorage({ path: join(dir, 'ketch.db') });
    await benchStore('embedded', 'sqlite-raw inserts', emb, rawSqlite, run);
    await emb.close();
    raw.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // ---- etcd vs raw etcd3 puts ------------------------------------------------------------------------------
  if (process.env.BENCH_BACKENDS === 'embedded') return printTable();
  const etcd = process.env.BENCH_ETCD ? undefined : await startEtcd();
  const endpoint = process.env.BENCH_ETCD ?? etcd!.endpoint;
  try {
    const client = new Etcd3({ hosts: [endpoint] });
    const rawEtcd: Baseline = (c, round) => rate(OPS, c, (i) => client.put(`/raw/${run}/c${c}/${round}/${i}`).value(VALUE).exec());
    const store = new EtcdStorage({ endpoints: [endpoint] });
    await benchStore('etcd', 'etcd-raw puts', store, rawEtcd, run);
    // For reference: the same create-if-absent transaction our create sends, issued raw (blind puts skip the compare).
    for (const c of [1, 64]) {
      const txn = await rate(OPS, c, (i) => {
        const key = Buffer.from(`/rawtxn/${run}/c${c}/${i}`);
        return client.kv.txn({ compare: [{ key, target: 'Create', create_revision: '0', result: 'Equal' }], success: [{ request_put: { key, value: VALUE } }] });
      });
      record({ backend: 'etcd-raw txn', metric: 'create-if-absent txns/s', c, unit: 'ops/s', value: txn });
    }
    await store.close();
    client.close();
  } finally {
    await etcd?.stop();
  }
  printTable();
}

function printTable(): void {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  console.log(line(['backend', 'measurement', 'concurrency', 'value', 'baseline (same run)', 'ratio']));
  console.log(line(['---', '---', '---:', '---:', '---:', '---:']));
  for (const r of rows) {
    const v = `${r.value.toFixed(r.unit === 'ms' ? 2 : 0)} ${r.unit}`;
    const b = r.baseline ? `${r.baseline.toFixed(0)} ${r.unit}` : '';
    console.log(line([r.backend, r.metric, String(r.c), v, b, r.baseline ? (r.value / r.baseline).toFixed(2) : '']));
  }
}

await main();
