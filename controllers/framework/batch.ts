// Slow start (pkg/controller/replicaset.slowStartBatch): calls that may all fail (quota, a bad template, a terminating
// namespace) start with one in flight and grow only as they succeed, so a doomed batch fails once, not a thousand times.
//
// Kubernetes runs batches of 1, 2, 4, ... and waits for each batch to finish before the next. Here the same doubling is
// a window, as in TCP slow start: at most initialBatchSize + successes calls are in flight, so every success lets two
// more start, and a slow call no longer holds up the rest of its batch. The window is capped at maxInFlight.

/** Calls fn count times through a growing window; after the first failure it starts no more. Returns the successes. */
export function slowStartBatch(
  count: number,
  initialBatchSize: number,
  fn: () => Promise<void>,
  maxInFlight = Infinity,
): Promise<{ successes: number; error?: unknown }> {
  let launched = 0;
  let inFlight = 0;
  let successes = 0;
  let failed = false;
  let error: unknown;
  const window = (): number => Math.max(1, Math.min(maxInFlight, initialBatchSize + successes));
  return new Promise((resolve) => {
    const settle = (): void => {
      inFlight--;
      if (inFlight === 0 && (failed || launched >= count)) resolve(failed ? { successes, error } : { successes });
      else pump();
    };
    const pump = (): void => {
      while (!failed && launched < count && inFlight < window()) {
        launched++;
        inFlight++;
        let call: Promise<void>;
        try {
          call = fn();
        } catch (err) {
          call = Promise.reject(err);
        }
        void call.then(
          () => void successes++,
          (err: unknown) => {
            if (!failed) error = err;
            failed = true;
          },
        ).finally(settle);
      }
    };
    if (count <= 0) resolve({ successes: 0 });
    else pump();
  });
}
