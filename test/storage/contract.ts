// The storage contract suite: one set of cases that every backend must pass unchanged (as kine's tests do for k3s).
import assert from 'node:assert/strict';
import { MAX_VALUE_BYTES, isStorageError, type KeyValue, type Storage, type StorageWatch, type WatchEvent } from '../../apiserver/storage/interface.js';

export interface ContractTarget {
  /** A fresh, empty store (or one namespaced by a unique prefix: every case uses keys under `prefix`). */
  make(): Promise<Storage>;
  /** Whether progress events arrive within ~progressMs of idleness. */
  progressMs: number;
  /** Run only these sections ('create and get', 'list', 'watch', ...); all of them when absent. */
  sections?: readonly string[];
}

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const dec = (v: Uint8Array | undefined): string => Buffer.from(v ?? new Uint8Array()).toString('utf8');

/** Reads n events from a watch, failing if they do not arrive within timeoutMs. */
export async function take(w: StorageWatch, n: number, timeoutMs = 5000, skipProgress = true): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const it = w[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watch: got ${out.length} of ${n} events in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    while (out.length < n) {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) throw new Error(`watch ended after ${out.length} of ${n} events`);
      if (skipProgress && r.value.type === 'PROGRESS') continue;
      out.push(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: Parameters<typeof isStorageError>[1]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStorageError(err, code), `expected StorageError ${code}, got ${String(err)}`);
    return true;
  });
}

let seq = 0;

export function storageContract(name: string, target: ContractTarget): void {
  describe(`storage contract: ${name}`, function () {
    this.timeout(30_000);
    let s: Storage;
    let p: string; // a unique prefix per case, so cases never see each other's keys
    const k = (x: string): string => `${p}${x}`;

    beforeEach(async () => {
      s = await target.make();
      p = `/t${++seq}-${Date.now().toString(36)}/`;
    });
    afterEach(async () => {
      await s.close();
    });
    /** A section of the suite, defined only when the target runs it. */
    const section = (title: string, cases: () => void): void => {
      if (!target.sections || target.sections.includes(title)) describe(title, cases);
    };

    section('create and get', () => {
      it('creates a key and reads it back with its revisions', async () => {
        const kv = await s.create(k('a'), enc('one'));
        assert.equal(kv.createRevision, kv.modRevision);
        assert.ok(kv.modRevision > 0);
        const got = await s.get(k('a'));
        assert.equal(dec(got?.value), 'one');
        assert.equal(got?.modRevision, kv.modRevision);
        assert.equal(got?.createRevision, kv.createRevision);
      });
      it('fails with KeyExists when the key exists, leaving it unchanged', async () => {
        await s.create(k('a'), enc('one'));
        await rejectsWith(s.create(k('a'), enc('two')), 'KeyExists');
        assert.equal(dec((await s.get(k('a')))?.value), 'one');
      });
      it('returns undefined for a missing key', async () => {
        assert.equal(await s.get(k('missing')), undefined);
      });
      it('gives every write a strictly greater revision', async () => {
        const a = await s.create(k('a'), enc('1'));
        const b = await s.create(k('b'), enc('2'));
        const c = await s.update(k('a'), enc('3'), a.modRevision);
        const d = await s.delete(k('b'));
        assert.ok(a.modRevision < b.modRevision && b.modRevision < c.modRevision && c.modRevision < d.modRevision);
      });
      it('round-trips binary values byte for byte', async () => {
        const bytes = new Uint8Array(256).map((_, i) => i);
        await s.create(k('bin'), bytes);
        assert.deepEqual(Buffer.from((await s.get(k('bin')))!.value), Buffer.from(bytes));
      });
      it('reports the newest revision as the current revision', async () => {
        const kv = await s.create(k('a'), enc('x'));
        assert.ok((await s.currentRevision()) >= kv.modRevision);
      });
    });

    section('update (compare-and-swap)', () => {
      it('updates when the revision matches, keeping the create revision', async () => {
        const a = await s.create(k('a'), enc('1'));
        const b = await s.update(k('a'), enc('2'), a.modRevision);
        assert.ok(b.modRevision > a.modRevision);
        assert.equal(b.createRevision, a.createRevision);
        const got = await s.get(k('a'));
        assert.equal(dec(got?.value), '2');
        assert.equal(got?.createRevision, a.createRevision);
      });
      it('detects a conflict on a stale revision and keeps the newer value', async () => {
        const a = await s.create(k('a'), enc('1'));
        await s.update(k('a'), enc('2'), a.modRevision);
        await rejectsWith(s.update(k('a'), enc('3'), a.modRevision), 'Conflict');
        assert.equal(dec((await s.get(k('a')))?.value), '2');
      });
      it('fails with NotFound for a missing key', async () => {
        await rejectsWith(s.update(k('nope'), enc('1'), 1), 'NotFound');
      });
      it('guaranteedUpdate applies the function to the current value', async () => {
        await s.create(k('n'), enc('41'));
        const kv = await s.guaranteedUpdate(k('n'), (cur) => enc(String(Number(dec(cur?.value)) + 1)));
        assert.equal(dec(kv.value), '42');
        assert.equal(dec((await s.get(k('n')))?.value), '42');
      });
      it('guaranteedUpdate fails with NotFound for a missing key', async () => {
        await rejectsWith(
          s.guaranteedUpdate(k('nope'), () => enc('x')),
          'NotFound',
        );
      });
      it('guaranteedUpdate with ignoreNotFound creates the key', async () => {
        const kv = await s.guaranteedUpdate(k('new'), (cur) => enc(cur ? 'was' : 'fresh'), { ignoreNotFound: true });
        assert.equal(dec(kv.value), 'fresh');
      });
      it('guaranteedUpdate retries with the fresh value after losing a race', async () => {
        const a = await s.create(k('n'), enc('0'));
        let calls = 0;
        const kv = await s.guaranteedUpdate(k('n'), async (cur) => {
          calls++;
          if (calls === 1) await s.update(k('n'), enc('10'), a.modRevision); // another writer wins meanwhile
          return enc(String(Number(dec(cur?.value)) + 1));
        });
        assert.equal(calls, 2);
        assert.equal(dec(kv.value), '11');
      });
      it('guaranteedUpdate writes nothing when the function throws', async () => {
        const a = await s.create(k('n'), enc('0'));
        await assert.rejects(
          s.guaranteedUpdate(k('n'), () => {
            throw new Error('refused');
          }),
          /refused/,
        );
        assert.equal((await s.get(k('n')))?.modRevision, a.modRevision);
      });
      it('loses no increment among 100 concurrent read-modify-writes on one key', async () => {
        await s.create(k('counter'), enc('0'));
        await Promise.all(
          Array.from({ length: 100 }, () => s.guaranteedUpdate(k('counter'), (cur) => enc(String(Number(dec(cur?.value)) + 1)), { maxAttempts: 1000 })),
        );
        assert.equal(dec((await s.get(k('counter')))?.value), '100');
      });
    });

    section('delete', () => {
      it('returns the last value with the revision of the delete', async () => {
        const a = await s.create(k('a'), enc('last'));
        const d = await s.delete(k('a'));
        assert.equal(dec(d.value), 'last');
        assert.ok(d.modRevision > a.modRevision);
        assert.equal(await s.get(k('a')), undefined);
      });
      it('fails with NotFound for a missing key', async () => {
        await rejectsWith(s.delete(k('nope')), 'NotFound');
      });
      it('fails with Conflict on a stale expected revision and keeps the key', async () => {
        const a = await s.create(k('a'), enc('1'));
        await s.update(k('a'), enc('2'), a.modRevision);
        await rejectsWith(s.delete(k('a'), { expectedRevision: a.modRevision }), 'Conflict');
        assert.equal(dec((await s.get(k('a')))?.value), '2');
      });
      it('passes the current value to the precondition and keeps the key when it throws', async () => {
        await s.create(k('a'), enc('uid-1'));
        await assert.rejects(
          s.delete(k('a'), {
            precondition: (cur: KeyValue) => {
              if (dec(cur.value) !== 'uid-2') throw new Error('uid precondition failed');
            },
          }),
          /uid precondition failed/,
        );
        assert.equal(dec((await s.get(k('a')))?.value), 'uid-1');
      });
      it('lets a deleted key be created again with a new create revision', async () => {
        const a = await s.create(k('a'), enc('1'));
        await s.delete(k('a'));
        const b = await s.create(k('a'), enc('2'));
        assert.ok(b.createRevision > a.createRevision);
      });
    });

    section('list', () => {
      it('lists only keys under the prefix, in key order', async () => {
        for (const x of ['c', 'a', 'b']) await s.create(k(`pods/${x}`), enc(x));
        await s.create(k('podsx/z'), enc('z'));
        await s.create(k('pod'), enc('z'));
        const r = await s.list(k('pods/'));
        assert.deepEqual(r.items.map((i) => dec(i.value)), ['a', 'b', 'c']);
        assert.ok(r.revision >= Math.max(...r.items.map((i) => i.modRevision)));
      });
      it('returns an empty list with a positive revision', async () => {
        const r = await s.list(k('empty/'));
        assert.equal(r.items.length, 0);
        assert.ok(r.revision > 0);
        assert.equal(r.continue, undefined);
      });
      it('paginates with limit and continue, each key exactly once', async () => {
        for (let i = 0; i < 25; i++) await s.create(k(`x/${String(i).padStart(2, '0')}`), enc(String(i)));
        const seen: string[] = [];
        let cont: string | undefined;
        let pages = 0;
        do {
          const r = await s.list(k('x/'), { limit: 10, ...(cont ? { continue: cont } : {}) });
          seen.push(...r.items.map((i) => dec(i.value)));
          cont = r.continue;
          pages++;
        } while (cont);
        assert.equal(pages, 3);
        assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => String(i)));
      });
      it('reports how many items remain after a page', async () => {
        for (let i = 0; i < 7; i++) await s.create(k(`r/${i}`), enc(String(i)));
        const r = await s.list(k('r/'), { limit: 3 });
        assert.equal(r.items.length, 3);
        assert.equal(r.remainingItemCount, 4);
      });
      it('keeps a paginated list one consistent snapshot while writes happen', async () => {
        for (let i = 0; i < 20; i++) await s.create(k(`s/${String(i).padStart(2, '0')}`), enc('v1'));
        const first = await s.list(k('s/'), { limit: 5 });
        // Writes between pages: updates, deletes and creates must not show in later pages.
        const all = await s.list(k('s/'));
        await Promise.all(all.items.slice(5, 15).map((kv) => s.update(kv.key, enc('v2'), kv.modRevision)));
        await s.delete(k('s/19'));
        await s.create(k('s/99'), enc('v2'));
        const items = [...first.items];
        let cont = first.continue;
        while (cont) {
          const r = await s.list(k('s/'), { limit: 5, continue: cont });
          assert.equal(r.revision, first.revision);
          items.push(...r.items);
          cont = r.continue;
        }
        assert.equal(items.length, 20);
        assert.ok(items.every((i) => dec(i.value) === 'v1'), 'every item as of the first page');
        assert.ok(items.every((i) => i.modRevision <= first.revision));
      });
      it('lists at an older revision', async () => {
        const a = await s.create(k('h/a'), enc('1'));
        const b = await s.update(k('h/a'), enc('2'), a.modRevision);
        await s.create(k('h/b'), enc('3'));
        const old = await s.list(k('h/'), { revision: a.modRevision });
        assert.deepEqual(old.items.map((i) => dec(i.value)), ['1']);
        const mid = await s.list(k('h/'), { revision: b.modRevision });
        assert.deepEqual(mid.items.map((i) => dec(i.value)), ['2']);
      });
      it('rejects a malformed continue token', async () => {
        await rejectsWith(s.list(k('x/'), { continue: 'not-a-token' }), 'InvalidContinue');
      });
      it('rejects a continue token from another prefix', async () => {
        for (let i = 0; i < 3; i++) await s.create(k(`a/${i}`), enc('x'));
        const r = await s.list(k('a/'), { limit: 1 });
        await rejectsWith(s.list(k('b/'), { continue: r.continue! }), 'InvalidContinue');
      });
      it('counts keys under a prefix', async () => {
        for (let i = 0; i < 4; i++) await s.create(k(`c/${i}`), enc('x'));
        await s.create(k('cc'), enc('x'));
        await s.delete(k('c/0'));
        assert.equal(await s.count(k('c/')), 3);
      });
    });

    section('watch', () => {
      it('delivers ADDED, MODIFIED and DELETED live, with previous values', async () => {
        const w = await watchNow(s, k('w/'));
        try {
          const a = await s.create(k('w/a'), enc('1'));
          await s.update(k('w/a'), enc('2'), a.modRevision);
          await s.delete(k('w/a'));
          const evs = await take(w, 3);
          assert.deepEqual(evs.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
          assert.equal(dec(evs[1]!.prevKv?.value), '1');
          assert.equal(dec(evs[2]!.kv?.value), '2', 'a DELETED event carries the last value');
          assert.equal(evs[2]!.kv?.modRevision, evs[2]!.revision);
        } finally {
          w.close();
        }
      });
      it('only sees keys under its prefix', async () => {
        const w = await watchNow(s, k('w/'));
        try {
          await s.create(k('other/a'), enc('x'));
          await s.create(k('wx'), enc('x'));
          await s.create(k('w/b'), enc('y'));
          const [ev] = await take(w, 1);
          assert.equal(ev!.kv?.key, k('w/b'));
        } finally {
          w.close();
        }
      });
      it('watches one exact key when prefix is false', async () => {
        const w = await watchNow(s, k('one'), { prefix: false });
        try {
          await s.create(k('one-more'), enc('x'));
          await s.create(k('one'), enc('y'));
          const [ev] = await take(w, 1);
          assert.equal(ev!.kv?.key, k('one'));
        } finally {
          w.close();
        }
      });
      it('replays every event after an old revision in order, without gap or duplicate, then goes live', async () => {
        const start = await s.create(k('r/seed'), enc('0'));
        let last = start;
        for (let i = 1; i <= 30; i++) last = await s.update(k('r/seed'), enc(String(i)), last.modRevision);
        await s.create(k('r/other'), enc('x'));
        await s.delete(k('r/other'));
        const w = s.watch(k('r/'), { fromRevision: start.modRevision });
        try {
          const replay = await take(w, 32);
          const revs = replay.map((e) => e.revision);
          for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, 'strictly increasing');
          assert.deepEqual(replay.slice(0, 30).map((e) => dec(e.kv?.value)), Array.from({ length: 30 }, (_, i) => String(i + 1)));
          assert.deepEqual(replay.slice(30).map((e) => e.type), ['ADDED', 'DELETED']);
          const liveKv = await s.update(k('r/seed'), enc('live'), last.modRevision);
          const [live] = await take(w, 1);
          assert.equal(live!.revision, liveKv.modRevision);
          assert.equal(dec(live!.kv?.value), 'live');
        } finally {
          w.close();
        }
      });
      it('from the current revision delivers only later events', async () => {
        await s.create(k('c/a'), enc('old'));
        const rev = await s.currentRevision();
        const w = s.watch(k('c/'), { fromRevision: rev });
        try {
          await s.create(k('c/b'), enc('new'));
          const [ev] = await take(w, 1);
          assert.equal(dec(ev!.kv?.value), 'new');
        } finally {
          w.close();
        }
      });
      it('fails with Compacted when the start revision was compacted', async () => {
        const a = await s.create(k('z/a'), enc('1'));
        const b = await s.update(k('z/a'), enc('2'), a.modRevision);
        await s.update(k('z/a'), enc('3'), b.modRevision);
        await s.compact(b.modRevision);
        const w = s.watch(k('z/'), { fromRevision: a.modRevision });
        await assert.rejects(take(w, 1), (err: unknown) => isStorageError(err, 'Compacted'));
        w.close();
      });
      it('ends iteration when closed', async () => {
        const w = s.watch(k('e/'));
        const it = w[Symbol.asyncIterator]();
        const next = it.next();
        w.close();
        const r = await next;
        assert.equal(r.done, true);
      });
      it('fans every event out to every watcher', async () => {
        const ws = await Promise.all(Array.from({ length: 5 }, () => watchNow(s, k('f/'))));
        try {
          for (let i = 0; i < 10; i++) await s.create(k(`f/${i}`), enc(String(i)));
          for (const w of ws) {
            const evs = await take(w, 10);
            assert.deepEqual(evs.map((e) => dec(e.kv?.value)), Array.from({ length: 10 }, (_, i) => String(i)));
          }
        } finally {
          for (const w of ws) w.close();
        }
      });
      it('sends progress notifications to an idle watcher', async () => {
        const before = await s.create(k('p/a'), enc('1'));
        const w = s.watch(k('p/'), { fromRevision: before.modRevision, progressIntervalMs: target.progressMs });
        try {
          const [ev] = await take(w, 1, target.progressMs * 10 + 5000, false);
          assert.equal(ev!.type, 'PROGRESS');
          assert.ok(ev!.revision >= before.modRevision);
        } finally {
          w.close();
        }
      });
    });

    section('limits', () => {
      it(`accepts a value of ${MAX_VALUE_BYTES} bytes`, async () => {
        const big = new Uint8Array(MAX_VALUE_BYTES).fill(7);
        await s.create(k('big'), big);
        assert.equal((await s.get(k('big')))?.value.byteLength, MAX_VALUE_BYTES);
      });
      it('rejects a larger value on create with TooLarge', async () => {
        await rejectsWith(s.create(k('big'), new Uint8Array(MAX_VALUE_BYTES + 1)), 'TooLarge');
        assert.equal(await s.get(k('big')), undefined);
      });
      it('rejects a larger value on update with TooLarge and keeps the old one', async () => {
        const a = await s.create(k('big'), enc('small'));
        await rejectsWith(s.update(k('big'), new Uint8Array(MAX_VALUE_BYTES + 1), a.modRevision), 'TooLarge');
        assert.equal(dec((await s.get(k('big')))?.value), 'small');
      });
    });

    section('compaction', () => {
      it('keeps current values readable and fails reads below the compacted revision', async () => {
        const a = await s.create(k('k/a'), enc('1'));
        const b = await s.update(k('k/a'), enc('2'), a.modRevision);
        await s.create(k('k/b'), enc('x'));
        await s.delete(k('k/b'));
        await s.compact(b.modRevision);
        assert.equal(dec((await s.get(k('k/a')))?.value), '2');
        assert.deepEqual((await s.list(k('k/'))).items.map((i) => dec(i.value)), ['2']);
        await rejectsWith(s.list(k('k/'), { revision: a.modRevision }), 'Compacted');
      });
      it('still serves a watch from the compacted revision itself', async () => {
        const a = await s.create(k('k/a'), enc('1'));
        const b = await s.update(k('k/a'), enc('2'), a.modRevision);
        const c = await s.update(k('k/a'), enc('3'), b.modRevision);
        await s.compact(b.modRevision);
        const w = s.watch(k('k/'), { fromRevision: b.modRevision });
        try {
          const [ev] = await take(w, 1);
          assert.equal(ev!.revision, c.modRevision);
          assert.equal(dec(ev!.prevKv?.value), '2');
        } finally {
          w.close();
        }
      });
      it('keeps history after the compacted revision listable', async () => {
        const a = await s.create(k('k/a'), enc('1'));
        const b = await s.update(k('k/a'), enc('2'), a.modRevision);
        const c = await s.update(k('k/a'), enc('3'), b.modRevision);
        await s.update(k('k/a'), enc('4'), c.modRevision);
        await s.compact(b.modRevision);
        assert.deepEqual((await s.list(k('k/'), { revision: c.modRevision })).items.map((i) => dec(i.value)), ['3']);
        assert.deepEqual((await s.list(k('k/'), { revision: b.modRevision })).items.map((i) => dec(i.value)), ['2']);
      });
    });
  });
}

/** A watch that sees every write made after this call returns: it starts at the current revision explicitly. */
async function watchNow(s: Storage, key: string, opts: { prefix?: boolean } = {}): Promise<StorageWatch> {
  return s.watch(key, { ...opts, fromRevision: await s.currentRevision() });
}
