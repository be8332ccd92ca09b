// Snapshots, on the embedded store and on a real etcd: `ketch snapshot save` from a running `ketch server`, a namespace
// deleted afterwards, `ketch snapshot restore` into a new data directory (a new etcd member for etcd), a server started
// on it, and every object of the namespace back with its uid. Also: ls, prune, a tampered file refused, and scheduled
// snapshots with retention.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EmbeddedStorage } from '../../apiserver/storage/index.js';
import { listSnapshots, startSnapshotSchedule } from '../../apiserver/storage/snapshots.js';
import type { ResourceRef, RestClient } from '../../client/rest.js';
import { runServer, type RunningServer } from '../../cli/commands/server.js';
import { run } from '../../cli/main.js';
import { FakeClock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';
import { Sink } from '../cli/harness.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';
import { freePort, isGoneAfter, waitFor } from '../support/util.js';

const NS = 'snap';
const KINDS: ResourceRef[] = [
  { group: '', version: 'v1', resource: 'configmaps', namespaced: true },
  { group: '', version: 'v1', resource: 'secrets', namespaced: true },
  { group: '', version: 'v1', resource: 'serviceaccounts', namespaced: true },
  { group: 'apps', version: 'v1', resource: 'deployments', namespaced: true },
  { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true },
];
const NAMESPACES: ResourceRef = { group: '', version: 'v1', resource: 'namespaces', namespaced: false };

async function ketch(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new Sink();
  const err = new Sink();
  const stdin = new PassThrough();
  stdin.end();
  const code = await run(args, { stdout: out, stderr: err, stdin, env: process.env });
  return { code, stdout: out.text, stderr: err.text };
}

function startServer(dataDir: string, etcd?: string): Promise<RunningServer> {
  return runServer({
    '--data-dir': dataDir,
    '--secure-port': '0',
    '--bind-address': '127.0.0.1',
    '--etcd-compaction-interval': '0',
    '--snapshot-schedule': '0',
    '--controllers': 'namespace',
    '--leader-elect': 'false',
    '--disable-scheduler': 'true',
    ...(etcd ? { '--etcd-servers': etcd } : {}),
  });
}

/** Fills the namespace; returns `resource/name -> uid` of everything in it, and the namespace's own. */
async function populate(rest: RestClient): Promise<Map<string, string>> {
  await rest.resource(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  const cms = rest.resource(KINDS[0]!);
  for (let i = 0; i < 5; i++) await cms.create(NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}` }, data: { i: String(i) } } as never);
  await rest.resource(KINDS[1]!).create(NS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'token' }, stringData: { t: 'x' } } as never);
  await rest.resource(KINDS[3]!).create(NS, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } },
  } as never);
  await rest.resource(KINDS[4]!).create(NS, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'lock' }, spec: { holderIdentity: 'a' } } as never);
  // The service account publisher adds the default ServiceAccount and kube-root-ca.crt.
  await waitFor(async () => (await rest.resource(KINDS[2]!).list(NS)).items.length > 0, { what: 'the default service account' });
  return inventory(rest);
}

async function inventory(rest: RestClient): Promise<Map<string, string>> {
  const uids = new Map<string, string>();
  const ns = await rest.resource(NAMESPACES).get(undefined, NS);
  uids.set(`namespaces/${NS}`, ns.metadata!.uid!);
  for (const ref of KINDS) for (const o of (await rest.resource(ref).list(NS)).items) uids.set(`${ref.resource}/${o.metadata!.name}`, o.metadata!.uid!);
  return uids;
}

async function deleteNamespace(rest: RestClient): Promise<void> {
  const namespaces = rest.resource(NAMESPACES);
  await namespaces.delete(undefined, NS);
  await waitFor(() => isGoneAfter(() => namespaces.get(undefined, NS)), { timeoutMs: 30_000, what: 'the namespace to be deleted' });
}

describe('snapshots', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-snap-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('embedded: save from a running server, delete a namespace, restore into a new data dir, every object is back with its uid', async () => {
    const first = join(dir, 'first');
    let srv = await startServer(first);
    let want: Map<string, string>;
    let file: string;
    try {
      want = await populate(srv.rest);
      assert.ok(want.size >= 10, `only ${want.size} objects`);
      const saved = await ketch(['snapshot', 'save', '--data-dir', first]);
      assert.equal(saved.code, 0, saved.stderr);
      const [snap] = await listSnapshots(join(first, 'snapshots'));
      assert.ok(snap && snap.backend === 'embedded' && saved.stdout.includes(snap.name), saved.stdout);
      file = snap.path;
      await deleteNamespace(srv.rest);
    } finally {
      await srv.stop();
    }
    // A store in the way is refused; a tampered copy is refused.
    const refused = await ketch(['snapshot', 'restore', file, '--data-dir', first]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /exists: restore into a new data directory/);
    const tampered = join(dir, 'tampered.db');
    copyFileSync(file, tampered);
    writeFileSync(tampered.replace(/\.db$/, '.json'), readFileSync(file.replace(/\.db$/, '.json')));
    const bytes = readFileSync(tampered);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0xff, bytes.length - 100);
    writeFileSync(tampered, bytes);
    const bad = await ketch(['snapshot', 'restore', tampered, '--data-dir', join(dir, 'bad')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /does not match its record/);
    assert.ok(!existsSync(join(dir, 'bad', 'db', 'state.db')));

    const second = join(dir, 'second');
    const restored = await ketch(['snapshot', 'restore', file, '--data-dir', second]);
    assert.equal(restored.code, 0, restored.stderr);
    srv = await startServer(second);
    try {
      assert.deepEqual(await inventory(srv.rest), want);
    } finally {
      await srv.stop();
    }
  });

  it('etcd: save through etcd\'s snapshot stream, delete a namespace, restore into a new member, every object is back with its uid', async () => {
    const etcd = await startEtcd();
    let restoredEtcd: EtcdServer | undefined;
    try {
      const first = join(dir, 'first');
      let srv = await startServer(first, etcd.endpoint);
      let want: Map<string, string>;
      let file: string;
      try {
        want = await populate(srv.rest);
        const saved = await ketch(['snapshot', 'save', '--data-dir', first, '--etcd-servers', etcd.endpoint, '--name', 'before-delete']);
        assert.equal(saved.code, 0, saved.stderr);
        const [snap] = await listSnapshots(join(first, 'snapshots'));
        assert.ok(snap && snap.backend === 'etcd' && snap.name.startsWith('before-delete-'), JSON.stringify(snap));
        file = snap.path;
        await deleteNamespace(srv.rest);
      } finally {
        await srv.stop();
      }
      const peerPort = await freePort();
      const memberDir = join(dir, 'etcd-restored');
      const peer = `http://127.0.0.1:${peerPort}`;
      const restored = await ketch(['snapshot', 'restore', file, '--etcd-data-dir', memberDir, '--etcd-name', 'test', '--initial-cluster', `test=${peer}`, '--initial-advertise-peer-urls', peer]);
      assert.equal(restored.code, 0, restored.stderr);
      restoredEtcd = await startEtcd({ dataDir: memberDir, peerPort });
      srv = await startServer(join(dir, 'second'), restoredEtcd.endpoint);
      try {
        assert.deepEqual(await inventory(srv.rest), want);
      } finally {
        await srv.stop();
      }
    } finally {
      await restoredEtcd?.stop();
      await etcd.stop();
    }
  });

  it('ls lists and prune keeps the newest of a prefix; scheduled snapshots keep the retention', async () => {
    const store = new EmbeddedStorage({ path: join(dir, 'state.db') });
    const snapshots = join(dir, 'snaps');
    try {
      await store.create('/a', Buffer.from('a'));
      const clock = new FakeClock();
      const schedule = startSnapshotSchedule({ backend: store, dir: snapshots, intervalMs: 60_000, retention: 2, ketchVersion: 'test', log: logger('snapshot-test'), clock });
      for (let i = 1; i <= 3; i++) {
        await store.create(`/b${i}`, Buffer.from('b'));
        const want = Math.min(i, 2);
        const newest = await store.currentRevision();
        await clock.advance(60_000);
        await waitFor(async () => (await listSnapshots(snapshots))[0]?.revision === newest && (await listSnapshots(snapshots)).length === want, { what: `scheduled snapshot ${i}` });
      }
      await schedule.stop();
      const kept = await listSnapshots(snapshots);
      assert.deepEqual(kept.map((s) => s.name.split('-')[0]), ['scheduled', 'scheduled']);
      assert.ok(kept[0]!.revision > kept[1]!.revision);

      const none = await ketch(['snapshot', 'save', '--data-dir', join(dir, 'empty')]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no store at/);
      assert.ok(!existsSync(join(dir, 'empty', 'db', 'state.db')), 'no empty store was made');
      const ls = await ketch(['snapshot', 'ls', '--snapshot-dir', snapshots]);
      assert.equal(ls.code, 0, ls.stderr);
      for (const s of kept) assert.ok(ls.stdout.includes(s.name), ls.stdout);
      const pruned = await ketch(['snapshot', 'prune', '--snapshot-dir', snapshots, '--name', 'scheduled', '--snapshot-retention', '1']);
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.deepEqual((await listSnapshots(snapshots)).map((s) => s.name), [kept[0]!.name]);
      assert.ok(!existsSync(kept[1]!.path));
    } finally {
      await store.close();
    }
  });
});
