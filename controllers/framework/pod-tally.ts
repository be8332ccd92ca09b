// Per-owner counts of pods, kept from the pod informer's events. Kube's controllers count an owner's pods on each
// sync (calculateStatus walks every pod of a 10,000-replica set on each pod change); here each pod's standing with
// its owner (a bit mask: active, ready, available, ...) is worked out once per event and kept, so a pod change costs
// O(1), a pod that becomes available minReadySeconds after Ready gets one timer, and an owner's pods are recounted
// only when what the bits depend on changes (its selector, template or minReadySeconds) or it appears after its pods.
import { keyOf } from '../../client/informer.js';
import type { Clock, TimerHandle } from '../../lib/clock.js';
import type { Pod } from './types.js';

/** A pod's standing with its owner: which buckets it is in, and when that changes by itself (availability). */
export interface Standing {
  bits: number;
  /** When the bits change without an event (e.g. Ready for minReadySeconds); the pod is looked at again then. */
  changesAt?: number;
}

export interface PodTallyOptions<O> {
  clock: Clock;
  /** How many buckets (bits 0..n-1) are counted. */
  buckets: number;
  /** Buckets whose pod keys are kept per owner (for syncs that act on those pods only, e.g. to release them). */
  keyed?: number;
  /** The owner of a pod (its controller reference, resolved in the owners' cache), if known. */
  ownerOf(pod: Pod): O | undefined;
  uidOf(owner: O): string;
  standing(pod: Pod, owner: O, now: number): Standing;
  /** Pods whose controller reference has this uid (the informer's controller index), for recounts. */
  podsOf(uid: string): Pod[];
  /** An owner's counts changed on a timer (events are the caller's to act on). */
  onTimer?(owner: O): void;
}

interface Entry {
  pod: Pod;
  owner: string;
  bits: number;
  timer?: TimerHandle;
}

interface OwnerCounts {
  counts: Int32Array;
  keys: Map<number, Set<string>>;
}

export class PodTally<O> {
  private readonly pods = new Map<string, Entry>();
  private readonly owners = new Map<string, OwnerCounts>();
  /** Pods whose standing was worked out (an event, a timer or a recount): what tests count. */
  visits = 0;

  constructor(private readonly o: PodTallyOptions<O>) {}

  /** A pod was added or changed. */
  observe(pod: Pod): void {
    const key = keyOf(pod);
    const entry = this.pods.get(key);
    if (entry) this.unset(key, entry);
    const owner = this.o.ownerOf(pod);
    if (!owner) {
      this.pods.delete(key);
      return;
    }
    this.set(key, pod, owner);
  }

  /** A pod is gone. */
  forgetPod(pod: Pod): void {
    const key = keyOf(pod);
    const entry = this.pods.get(key);
    if (!entry) return;
    this.unset(key, entry);
    this.pods.delete(key);
  }

  /** An owner is gone: its counts go (its pods' entries go with their own deletions). */
  forgetOwner(uid: string): void {
    this.owners.delete(uid);
  }

  /** Works out the standing of every pod of owner again: O(its pods), for when what the bits depend on changed. */
  recount(owner: O): void {
    const uid = this.o.uidOf(owner);
    this.owners.delete(uid);
    for (const pod of this.o.podsOf(uid)) {
      const key = keyOf(pod);
      const entry = this.pods.get(key);
      if (entry) {
        entry.timer?.cancel();
        this.pods.delete(key);
      }
      if (this.o.ownerOf(pod) === undefined) continue;
      this.set(key, pod, owner);
    }
  }

  /** Pods of owner in a bucket. */
  count(uid: string, bucket: number): number {
    return this.owners.get(uid)?.counts[bucket] ?? 0;
  }

  /** Keys of owner's pods in a keyed bucket. */
  keys(uid: string, bucket: number): ReadonlySet<string> {
    return this.owners.get(uid)?.keys.get(bucket) ?? EMPTY;
  }

  private countsOf(uid: string): OwnerCounts {
    let c = this.owners.get(uid);
    if (!c) this.owners.set(uid, (c = { counts: new Int32Array(this.o.buckets), keys: new Map() }));
    return c;
  }

  private set(key: string, pod: Pod, owner: O): void {
    const uid = this.o.uidOf(owner);
    const now = this.o.clock.now();
    this.visits++;
    const s = this.o.standing(pod, owner, now);
    const entry: Entry = { pod, owner: uid, bits: s.bits };
    this.pods.set(key, entry);
    this.apply(uid, key, s.bits, 1);
    if (s.changesAt !== undefined && s.changesAt > now) {
      entry.timer = this.o.clock.setTimer(s.changesAt - now, () => {
        if (this.pods.get(key) !== entry) return;
        const cur = this.o.ownerOf(entry.pod);
        if (!cur) return;
        const before = entry.bits;
        this.unset(key, entry);
        this.set(key, entry.pod, cur);
        if (this.pods.get(key)?.bits !== before) this.o.onTimer?.(cur);
      });
    }
  }

  private unset(key: string, entry: Entry): void {
    entry.timer?.cancel();
    this.apply(entry.owner, key, entry.bits, -1);
  }

  private apply(uid: string, key: string, bits: number, d: 1 | -1): void {
    if (!bits) return;
    const c = d > 0 ? this.countsOf(uid) : this.owners.get(uid);
    if (!c) return;
    for (let b = 0; b < this.o.buckets; b++) {
      if (!(bits & (1 << b))) continue;
      c.counts[b]! += d;
      if (!((this.o.keyed ?? 0) & (1 << b))) continue;
      let set = c.keys.get(b);
      if (d > 0) {
        if (!set) c.keys.set(b, (set = new Set()));
        set.add(key);
      } else set?.delete(key);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();
