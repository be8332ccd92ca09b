// Memory of each thread of `ketch server` (the API server's and each hosted component's V8 isolate): heap used and
// total, external memory and array buffers, as /metrics' ketch_thread_memory_bytes{thread,kind}; and heap snapshots of
// every thread on SIGUSR2 (Node's --heapsnapshot-signal covers only the main thread). Diagnostics: where the process's
// RSS goes (the rest of the RSS is malloc, code and thread stacks).
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { getHeapSnapshot, getHeapSpaceStatistics } from 'node:v8';

/** One isolate's memory (process.memoryUsage() read on its thread: heap figures and buffers are the isolate's own). */
export interface ThreadMemory {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** The young generation's committed memory (its semi-spaces and new large objects): what heapTotal holds beyond the old generation. */
  newSpace: number;
  /** The old generation's committed memory and what of it is in use (the gap: freed space V8 keeps). */
  oldSpace: number;
  oldSpaceUsed: number;
}

const YOUNG = new Set(['new_space', 'new_large_object_space']);

/** The calling thread's isolate. */
export function threadMemory(): ThreadMemory {
  const m = process.memoryUsage();
  let newSpace = 0;
  let oldSpace = 0;
  let oldSpaceUsed = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (YOUNG.has(s.space_name)) newSpace += s.space_size;
    else if (s.space_name === 'old_space') {
      oldSpace += s.space_size;
      oldSpaceUsed += s.space_used_size;
    }
  }
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, newSpace, oldSpace, oldSpaceUsed };
}

const KINDS: ReadonlyArray<[keyof ThreadMemory, string]> = [
  ['heapUsed', 'heap_used'],
  ['heapTotal', 'heap_total'],
  ['external', 'external'],
  ['arrayBuffers', 'array_buffers'],
  ['newSpace', 'new_space'],
  ['oldSpace', 'old_space'],
  ['oldSpaceUsed', 'old_space_used'],
];

/** The Prometheus text of the threads' memory, one family. */
export function threadMemoryText(rows: ReadonlyArray<{ thread: string; memory: ThreadMemory }>): string {
  const lines = ['# HELP ketch_thread_memory_bytes Memory of each thread\'s V8 isolate by kind (heap_used, heap_total, external, array_buffers, new_space, old_space, old_space_used).', '# TYPE ketch_thread_memory_bytes gauge'];
  for (const r of rows) for (const [key, kind] of KINDS) lines.push(`ketch_thread_memory_bytes{thread="${r.thread}",kind="${kind}"} ${r.memory[key]}`);
  return lines.join('\n') + '\n';
}

/** A thread whose heap can be written out. */
export interface SnapshotSource {
  thread: string;
  snapshot(): Promise<Readable>;
}

/** Writes a heap snapshot of each thread, one after another (each takes seconds and memory of the heap's size), into dir. */
export async function writeHeapSnapshots(dir: string, sources: readonly SnapshotSource[]): Promise<string[]> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const written: string[] = [];
  for (const s of [{ thread: 'apiserver', snapshot: async () => getHeapSnapshot() }, ...sources]) {
    const path = join(dir, `heap-${s.thread}-${stamp}.heapsnapshot`);
    await pipeline(await s.snapshot(), createWriteStream(path, { mode: 0o600 }));
    written.push(path);
  }
  return written;
}
