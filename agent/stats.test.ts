import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../api/index.js';
import { LABELS } from './pod-config.js';
import type { RuntimeClient } from './cri/index.js';
import { hostCpuNanos, hostMemory, StatsProvider } from './stats.js';

const meminfo = 'MemTotal:        8000000 kB\nMemFree:         1000000 kB\nMemAvailable:    3000000 kB\n';
const procStat = (busy: number): string => `cpu  ${busy} 0 0 5000 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\n`;

describe('agent stats', () => {
  let proc: string;
  beforeEach(async () => {
    proc = await mkdtemp(join(tmpdir(), 'ketch-proc-'));
    await writeFile(join(proc, 'meminfo'), meminfo);
  });
  afterEach(() => rm(proc, { recursive: true, force: true }));

  it('reads host CPU ticks and memory from /proc', () => {
    assert.equal(hostCpuNanos('cpu  1 2 3 100 7 4 5 6 0 0\n'), (1 + 2 + 3 + 4 + 5 + 6) * 10_000_000);
    assert.deepEqual(hostMemory(meminfo), { total: 8000000 * 1024, available: 3000000 * 1024, free: 1000000 * 1024 });
    assert.throws(() => hostCpuNanos('intr 1\n'), /no cpu line/);
  });

  it('turns cumulative CPU into cores from two samples and sums containers per pod', async () => {
    // Per sample: the container's counter and the runtime timestamp (ns); the host's ticks; our monotonic clock.
    let t = 0n;
    let containerNs = 0;
    let hostTicks = 0;
    const runtime = {
      runtime: {
        listContainerStats: async () => ({
          stats: [
            {
              attributes: { id: 'c1', metadata: { name: 'app', attempt: 0 }, labels: { [LABELS.podUid]: 'u1', [LABELS.container]: 'app' }, annotations: {} },
              cpu: { timestamp: String(t), usageCoreNanoSeconds: { value: String(containerNs) }, usageNanoCores: null },
              memory: { timestamp: String(t), workingSetBytes: { value: '1048576' }, usageBytes: { value: '2097152' }, availableBytes: null, rssBytes: null, pageFaults: null, majorPageFaults: null },
              writableLayer: null,
            },
            {
              attributes: { id: 'other', metadata: null, labels: { [LABELS.podUid]: 'not-ours' }, annotations: {} },
              cpu: { timestamp: String(t), usageCoreNanoSeconds: { value: '0' }, usageNanoCores: null },
              memory: null,
              writableLayer: null,
            },
          ],
        }),
      },
    } as unknown as RuntimeClient;
    const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers: [] } } as unknown as Pod;
    const gaps: number[] = [];
    const stats = new StatsProvider({
      nodeName: 'n1',
      runtime,
      pods: () => [pod],
      procRoot: proc,
      nowNanos: () => t,
      // The wait between the first two samples: half a core for the container, two cores for the host.
      delay: async (ms) => {
        gaps.push(ms);
        t += 1_000_000_000n;
        containerNs += 500_000_000;
        hostTicks += 200;
        await writeFile(join(proc, 'stat'), procStat(hostTicks));
      },
    });
    await writeFile(join(proc, 'stat'), procStat(hostTicks));
    const first = await stats.summary();
    assert.equal(gaps.length, 1);
    assert.equal(first.node.cpu.usageNanoCores, 2_000_000_000);
    assert.equal(first.node.memory.workingSetBytes, 5000000 * 1024);
    assert.equal(first.pods.length, 1);
    const p = first.pods[0]!;
    assert.deepEqual(p.podRef, { name: 'p', namespace: 'ns', uid: 'u1' });
    assert.equal(p.containers[0]?.name, 'app');
    assert.equal(p.containers[0]?.cpu.usageNanoCores, 500_000_000);
    assert.equal(p.memory.workingSetBytes, 1048576);

    // Later requests measure from the previous one, without waiting.
    t += 4_000_000_000n;
    containerNs += 1_000_000_000;
    await writeFile(join(proc, 'stat'), procStat(hostTicks + 100));
    const second = await stats.summary();
    assert.equal(gaps.length, 1);
    assert.equal(second.pods[0]?.cpu.usageNanoCores, 250_000_000);
    assert.equal(second.node.cpu.usageNanoCores, 250_000_000);
  });
});
