// The client machinery against a real API server: REST verbs, watch iterator, informers, leader election, events.
import assert from 'node:assert/strict';
import { ApiError, isConflict, isGone, isNotFound } from '../../api/errors.js';
import type { ObjectReference } from '../../api/index.js';
import { COMBINED_PREFIX, EventBroadcaster, MAX_SIMILAR, type KubeEvent } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import { FakeClock, realClock } from '../../lib/clock.js';
import { Informer, keyOf } from '../../client/informer.js';
import { LeaderElector, type Lease } from '../../client/leader-election.js';
import { EVENTS, LEASES } from '../../client/resources.js';
import type { ObjectLike, ResourceRef } from '../../client/rest.js';
import { startTestApiServer, type TestApiServer } from '../support/cluster.js';
import { waitFor } from '../support/util.js';

const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', resource: 'configmaps', namespaced: true };
interface ConfigMap extends ObjectLike {
  data?: Record<string, string>;
}
const cm = (name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default', labels },
  data,
});

describe('client against a real API server', function () {
  this.timeout(30_000);
  let srv: TestApiServer;
  before(async () => (srv = await startTestApiServer()));
  after(async () => srv.stop());

  describe('REST verbs', () => {
    it('creates, gets, updates with a resourceVersion precondition, patches and deletes', async () => {
      const cms = srv.rest.resource<ConfigMap>(CONFIGMAPS);
      const created = await cms.create('default', cm('rest-a', { k: 'v1' }));
      assert.ok(created.metadata?.uid);
      const got = await cms.get('default', 'rest-a');
      assert.equal(got.data?.k, 'v1');
      const updated = await cms.update({ ...got, data: { k: 'v2' } });
      assert.equal(updated.data?.k, 'v2');
      await assert.rejects(cms.update({ ...got, data: { k: 'stale' } }), (e: unknown) => isConflict(e));
      const patched = await cms.patch('default', 'rest-a', { data: { extra: 'x' } }, 'merge');
      assert.deepEqual(patched.data, { k: 'v2', extra: 'x' });
      await cms.delete('default', 'rest-a');
      await assert.rejects(cms.get('default', 'rest-a'), (e: unknown) => isNotFound(e) && e instanceof ApiError && /not found/.test(e.message));
    });

    it('lists every page at one resourceVersion with listAll', async () => {
      const cms = srv.rest.resource<ConfigMap>(CONFIGMAPS);
      for (let i = 0; i < 12; i++) await cms.create('default', cm(`page-${String(i).padStart(2, '0')}`, {}, { set: 'paging' }));
      const all = await cms.listAll('default', { labelSelector: 'set=paging' }, 5);
      assert.equal(all.items.length, 12);
      assert.deepEqual(all.items.map((i) => i.metadata?.name), Array.from({ length: 12 }, (_, i) => `page-${String(i).padStart(2, '0')}`));
    });
  });

  describe('watch', () => {
    it('yields events in order from a resourceVersion', async () => {
      const cms = srv.rest.resource<ConfigMap>(CONFIGMAPS);
      const list = await cms.list('default');
      const ac = new AbortController();
      const seen: string[] = [];
      const done = (async () => {
        for await (const ev of cms.watch('default', { resourceVersion: list.metadata.resourceVersion!, signal: ac.signal, labelSelector: 'w=1' })) {
          seen.push(`${ev.type} ${ev.object.metadata?.name}`);
          if (seen.length === 3) ac.abort();
        }
      })();
      await cms.create('default', cm('w-a', {}, { w: '1' }));
      await cms.patch('default', 'w-a', { data: { x: 'y' } });
      await cms.delete('default', 'w-a');
      await done;
      assert.deepEqual(seen, ['ADDED w-a', 'MODIFIED w-a', 'DELETED w-a']);
    });

    it('throws 410 Gone for a compacted resourceVersion', async () => {
      const cms = srv.rest.resource<ConfigMap>(CONFIGMAPS);
      const a = await cms.create('default', cm('gone-a'));
      await cms.patch('default', 'gone-a', { data: { v: '2' } });
      await srv.storage.compact(await srv.storage.currentRevision());
      const it = cms.watch('default', { resourceVersion: a.metadata!.resourceVersion! });
      await assert.rejects(it.next(), (e: unknown) => isGone(e));
    });
  });

  describe('informer', () => {
    it('syncs a cache, indexes it and calls handlers for adds, updates and deletes', async () => {
      const cms = srv.rest.resource<ConfigMap>(CONFIGMAPS);
      await cms.create('default', cm('inf-pre', {}, { inf: 'yes' }));
      const inf = new Informer<ConfigMap>(cms, { namespace: 'default', labelSelector: 'inf=yes' });
      const log: string[] = [];
      inf.addEventHandler({
        onAdd: (o) => log.push(`add ${o.metadata?.name}`),
        onUpdate: (_, n) => log.push(`update ${n.metadata?.name} ${n.data?.v ?? ''}`),
        onDelete: (o) => log.push(`delete ${o.metadata?.name}`),
      });
      inf.start();
      try {
        await inf.waitForSync();
        assert.ok(inf.hasSynced);
        assert.deepEqual(log, ['add inf-pre']);
        await cms.create('default', cm('inf-new', {}, { inf: 'yes' }));
        await cms.patch('default', 'inf-new', { data: { v: '2' } });
        await cms.delete('default', 'inf-pre');
        await waitFor(() => log.length >= 4, { what: 'informer events' });
        assert.deepEqual(log, ['add inf-pre', 'add inf-new', 'update inf-new 2', 'delete inf-pre']);
        assert.deepEqual(inf.indexer.keys(), ['default/inf-new']);
        assert.equal(inf.indexer.byIndex('namespace', 'default').length, 1);
        assert.equal(keyOf(inf.indexer.list()[0]!), 'default/inf-new');
      } finally {
        await inf.stop();
      }
    });
  });

  describe('leader election', () => {
    it('lets exactly one of two candidates lead, and the other take over when the leader stops', async () => {
      const leases = srv.rest.resource<Lease>(LEASES);
      const leading = new Set<string>();
      const observed: string[] = [];
      const mk = (id: string): { ac: AbortController; run: Promise<void> } => {
        const ac = new AbortController();
        const el = new LeaderElector({ leases, namespace: 'kube-system', name: 'test-lock', identity: id, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 });
        const run = el.run(
          {
            onStartedLeading: (signal) =>
              new Promise<void>((resolve) => {
                leading.add(id);
                signal.addEventListener('abort', () => (leading.delete(id), resolve()));
              }),
            onNewLeader: (holder) => observed.push(`${id} saw ${holder}`),
          },
          ac.signal,
        );
        return { ac, run };
      };
      const a = mk('a');
      await waitFor(() => leading.size === 1, { what: 'a leader' });
      const b = mk('b');
      await waitFor(() => observed.includes('b saw a'), { what: 'b to find a holding the lease' });
      // While b campaigns, a renews the lease several times; b never leads meanwhile.
      const renewals = new Set<string>();
      await waitFor(
        async () => {
          assert.deepEqual([...leading], ['a']);
          renewals.add((await leases.get('kube-system', 'test-lock')).spec?.renewTime ?? '');
          return renewals.size >= 3;
        },
        { what: 'three renewals by a', timeoutMs: 10_000 },
      );
      a.ac.abort();
      await a.run;
      await waitFor(() => leading.has('b'), { what: 'b to take over', timeoutMs: 10_000 });
      assert.deepEqual([...leading], ['b']);
      const lease = await leases.get('kube-system', 'test-lock');
      assert.equal(lease.spec?.holderIdentity, 'b');
      assert.ok((lease.spec?.leaseTransitions ?? 0) >= 1);
      b.ac.abort();
      await b.run;
    });
  });

  describe('event recorder', () => {
    it('joins repeats recorded while their event waits into one write with their count', async () => {
      const rec = new EventBroadcaster(srv.rest).recorder({ component: 'bursty' });
      const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'burst-target', namespace: 'default', uid: 'u-burst' } };
      const occurrences: Array<Promise<void>> = [];
      for (let i = 0; i < 20; i++) occurrences.push(rec.event(obj, 'Warning', 'Flapping', 'it flaps'));
      await Promise.all(occurrences);
      const evs = (await srv.rest.resource<KubeEvent>(EVENTS).list('default')).items.filter((e) => e.involvedObject.name === 'burst-target');
      assert.deepEqual(evs.map((e) => [e.reason, e.count]), [['Flapping', 20]]);
    });

    it('keeps every Warning of a burst larger than the backlog of Normal events, over many objects', async () => {
      const rec = new EventBroadcaster(srv.rest, realClock, { maxPending: 100 }).recorder({ component: 'busy-controller' });
      const n = 150;
      const about = (kind: string, i: number): ObjectReference => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: `busy-${kind}-${i}`, uid: `u-busy-${kind}-${i}` });
      for (let i = 0; i < n; i++) void rec.event(about('normal', i), 'Normal', 'SuccessfulCreate', 'created');
      let last: Promise<void> = Promise.resolve();
      for (let i = 0; i < n; i++) last = rec.event(about('warning', i), 'Warning', 'FailedCreate', 'quota exceeded');
      await last;
      const evs = (await srv.rest.resource<KubeEvent>(EVENTS).list('default')).items.filter((e) => e.involvedObject.name?.startsWith('busy-'));
      assert.equal(new Set(evs.filter((e) => e.type === 'Warning').map((e) => e.involvedObject.name)).size, n);
      const normal = evs.filter((e) => e.type === 'Normal').length;
      assert.ok(normal >= 100 && normal < n, `Normal events past the backlog are dropped (written: ${normal})`);
    });

    it('writes an Event and aggregates repeats into count and lastTimestamp', async () => {
      const rec = new EventBroadcaster(srv.rest).recorder({ component: 'test-controller' });
      const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ev-target', namespace: 'default', uid: 'u-1' } };
      await rec.event(obj, 'Warning', 'Broken', 'it broke');
      await rec.event(obj, 'Warning', 'Broken', 'it broke');
      await rec.event(obj, 'Normal', 'Fixed', 'it works');
      const evs = (await srv.rest.resource<KubeEvent>(EVENTS).list('default')).items.filter((e) => e.involvedObject.name === 'ev-target');
      const broken = evs.find((e) => e.reason === 'Broken');
      assert.equal(evs.length, 2);
      assert.equal(broken?.count, 2);
      assert.equal(broken?.type, 'Warning');
      assert.equal(broken?.source.component, 'test-controller');
    });

    it('lets a burst of 25 events per object through, then one per 5 minutes', async () => {
      const clock = new FakeClock();
      const rec = new EventBroadcaster(srv.rest, clock).recorder({ component: 'spammy' });
      const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'spam-target', namespace: 'default', uid: 'u-spam' } };
      for (let i = 0; i < 30; i++) await rec.event(obj, 'Normal', 'Tick', `tick ${i}`);
      const list = async (): Promise<KubeEvent[]> => (await srv.rest.resource<KubeEvent>(EVENTS).list('default')).items.filter((e) => e.involvedObject.name === 'spam-target');
      const occurrences = async (): Promise<number> => (await list()).reduce((n, e) => n + e.count, 0);
      assert.equal(await occurrences(), 25);
      await clock.advance(5 * 60_000);
      await rec.event(obj, 'Normal', 'Tick', 'after the pause');
      await rec.event(obj, 'Normal', 'Tick', 'too soon');
      assert.equal(await occurrences(), 26);
      // Past 9 messages of one object and reason, the rest were combined into one event (client-go's aggregator).
      const evs = await list();
      assert.equal(evs.length, MAX_SIMILAR);
      const combined = evs.find((e) => e.message.startsWith(COMBINED_PREFIX));
      assert.equal(combined?.message, `${COMBINED_PREFIX}after the pause`);
      assert.equal(combined?.count, 26 - (MAX_SIMILAR - 1));
    });

    it('gives one recorder per source from one broadcaster, each with its own aggregation and spam filter', async () => {
      const clock = new FakeClock();
      const broadcaster = new EventBroadcaster(srv.rest, clock);
      const a = broadcaster.recorder({ component: 'comp-a' });
      assert.equal(broadcaster.recorder({ component: 'comp-a' }), a, 'the same recorder for the same source');
      const b = broadcaster.recorder({ component: 'comp-b', host: 'node-1' });
      const obj = { metadata: { name: 'shared-target', namespace: 'default', uid: 'u-shared', resourceVersion: '7' } };
      const ref = objectReference(obj, { apiVersion: 'v1', kind: 'ConfigMap' });
      for (let i = 0; i < 30; i++) void a.event(ref, 'Normal', 'Tick', `a ${i}`);
      await b.event(ref, 'Warning', 'Same', 'same words');
      await b.event(ref, 'Warning', 'Same', 'same words');
      await a.event(ref, 'Warning', 'Same', 'same words');
      const evs = (await srv.rest.resource<KubeEvent>(EVENTS).list('default')).items.filter((e) => e.involvedObject.name === 'shared-target');
      assert.equal(evs.filter((e) => e.source.component === 'comp-a').reduce((n, e) => n + e.count, 0), 25, "b's events did not use a's tokens");
      const same = evs.filter((e) => e.reason === 'Same');
      assert.deepEqual(same.map((e) => [e.source.component, e.source.host, e.count]), [['comp-b', 'node-1', 2]], "a's burst was spent: its repeat was filtered");
      assert.deepEqual(same[0]?.involvedObject, { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'shared-target', uid: 'u-shared', resourceVersion: '7' });
      assert.equal(same[0]?.reportingInstance, 'node-1');
    });
  });
});
