// A fixed piece of CPU work timed between benchmark runs, to tell this machine's speed at that moment apart from the
// build's: the machine (a VM sharing its host) runs the same work up to 20-30% slower in some minutes than in others,
// and a bench's own figures cannot tell which it was.
import { createHash } from 'node:crypto';

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-5d8f7c9b6-x2x4q', namespace: 'density', labels: { app: 'web', 'pod-template-hash': '5d8f7c9b6' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b6', uid: '9b0c8a52-5b1e-4c4f-9d8e-0d5d3c9f6a11', controller: true }] },
  spec: { containers: [{ name: 'app', image: 'registry.local/pause:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }], nodeName: 'hollow-0042' },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-06T10:00:00Z' }], podIP: '10.128.0.42' },
};

/** One round of the work: JSON out and back (as every request and watch event is handled) and hashing (as TLS). */
function work(): number {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += (JSON.parse(JSON.stringify({ ...POD, seq: i })) as { seq: number }).seq;
  const h = createHash('sha256');
  const block = Buffer.alloc(1 << 20, 7);
  for (let i = 0; i < 16; i++) h.update(block);
  return sink + h.digest()[0]!;
}

/** The median wall-clock milliseconds of `tries` rounds of the work on the calling thread (higher: a slower moment). */
export function speedProbeMs(tries = 3): number {
  work(); // compiled and warmed first: the first round of a fresh process is ~1.5x slower
  const times: number[] = [];
  for (let t = 0; t < tries; t++) {
    const t0 = performance.now();
    if (work() < 0) throw new Error('unreachable');
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]!);
}
