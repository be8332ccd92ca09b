// Slow start (pkg/controller/replicaset.slowStartBatch): run calls in batches of 1, 2, 4, ... so that a call that
// fails for every item (quota, a bad template, a terminating namespace) fails once, not a thousand times.

/** Calls fn count times in doubling batches; stops after the first batch with a failure. Returns the successes. */
export async function slowStartBatch(count: number, initialBatchSize: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  let batch = Math.min(remaining, initialBatchSize);
  while (batch > 0) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { successes, error: failed.reason };
    remaining -= batch;
    batch = Math.min(2 * batch, remaining);
  }
  return { successes };
}

/** The batch sizes slowStartBatch uses for count items (for tests and docs). */
export function slowStartBatchSizes(count: number, initialBatchSize: number): number[] {
  const sizes: number[] = [];
  let remaining = count;
  let batch = Math.min(remaining, initialBatchSize);
  while (batch > 0) {
    sizes.push(batch);
    remaining -= batch;
    batch = Math.min(2 * batch, remaining);
  }
  return sizes;
}
