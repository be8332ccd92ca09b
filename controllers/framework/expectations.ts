// Expectations (pkg/controller/controller_utils.go): a controller records the creations and deletions it has asked for,
// and does not act on a key again until the watch has shown them, or until they expire (a lost event must not wedge it).
import type { Clock } from '../../lib/clock.js';

const EXPECTATIONS_TTL_MS = 5 * 60_000;

interface Expectation {
  add: number;
  del: number;
  at: number;
}

export class ControllerExpectations {
  private readonly items = new Map<string, Expectation>();

  constructor(
    protected readonly clock: Clock,
    private readonly ttlMs = EXPECTATIONS_TTL_MS,
  ) {}

  /** True when nothing is outstanding for key, or its expectations have expired. */
  satisfied(key: string): boolean {
    const e = this.items.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del <= 0) return true;
    return this.clock.now() - e.at > this.ttlMs;
  }

  /** Replaces key's expectations. */
  expect(key: string, add: number, del: number): void {
    this.items.set(key, { add, del, at: this.clock.now() });
  }

  expectCreations(key: string, n: number): void {
    this.expect(key, n, 0);
  }

  lower(key: string, add: number, del: number): void {
    const e = this.items.get(key);
    if (!e) return;
    e.add -= add;
    e.del -= del;
  }

  creationObserved(key: string): void {
    this.lower(key, 1, 0);
  }

  /** What is still outstanding (for tests and logs). */
  pending(key: string): { add: number; del: number } | undefined {
    const e = this.items.get(key);
    return e ? { add: e.add, del: e.del } : undefined;
  }

  delete(key: string): void {
    this.items.delete(key);
  }
}

/**
 * Deletions tracked by the deleted object's key, so that seeing one pod's deletion twice (deletionTimestamp set, then
 * the object gone) lowers the count once.
 */
export class UIDTrackingExpectations extends ControllerExpectations {
  private readonly deleting = new Map<string, Set<string>>();

  /** Expects the deletion of these objects (and, for controllers that do both in one pass, some creations). */
  expectDeletions(key: string, objectKeys: string[], creations = 0): void {
    this.deleting.set(key, new Set(objectKeys));
    this.expect(key, creations, objectKeys.length);
  }

  deletionObserved(key: string, objectKey: string): void {
    const set = this.deleting.get(key);
    if (set?.delete(objectKey)) this.lower(key, 0, 1);
  }

  override delete(key: string): void {
    super.delete(key);
    this.deleting.delete(key);
  }
}
