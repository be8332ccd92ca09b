// The entry of a hosted component's worker thread (see component-thread.ts): starts the component from the flags the
// server was given, reports its OS thread id, sends its metrics' text and stops it when the parent asks.
import { parentPort, workerData } from 'node:worker_threads';
import { shareCompactionFlag, startThreadCompaction } from '../../lib/heap-compaction.js';
import { readFlags } from '../../lib/flags.js';
import { logger } from '../../lib/logger.js';
import { HEAP_COMPACT_FLAG, osThreadId, type ComponentThreadData, type ComponentThreadMessage, type ComponentThreadRequest } from './component-thread.js';
import { LOADING_STARTERS, startHostedComponent } from './hosted-component.js';
import { threadMemory } from './thread-memory.js';

const data = workerData as ComponentThreadData;
const port = parentPort;
if (!port) throw new Error('component-thread-main runs only as a worker thread');
const running = await startHostedComponent(data.component, data.client, data.input, LOADING_STARTERS);
const send = (m: ComponentThreadMessage): void => port.postMessage(m);
if (data.compactionHolders) shareCompactionFlag(data.compactionHolders);
const compaction = startThreadCompaction({
  intervalMs: readFlags([HEAP_COMPACT_FLAG], data.input).durationMs('--heap-compact-interval'),
  onError: (err) => logger(data.component).warn('heap compaction failed', { error: String(err) }),
});
port.on('message', (m: ComponentThreadRequest) => {
  if (typeof m === 'object' && m.type === 'memory') {
    send({ type: 'memory', id: m.id, memory: threadMemory() });
    return;
  }
  if (typeof m === 'object' && m.type === 'metrics') {
    running.metrics().then(
      (text) => send({ type: 'metrics', id: m.id, text }),
      (err: unknown) => send({ type: 'metrics', id: m.id, error: String(err) }),
    );
    return;
  }
  if (m !== 'stop') return;
  compaction.cancel();
  running.stop().then(
    () => send({ type: 'stopped' }),
    (err: unknown) => send({ type: 'stopped', error: String(err instanceof Error ? err.stack : err) }),
  );
});
send({ type: 'started', ...(osThreadId() !== undefined ? { tid: osThreadId() } : {}) });
