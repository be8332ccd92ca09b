// Bench support: a V8 heap snapshot summed by kind and constructor (self sizes: what each kind of object takes
// itself; strings, arrays and code by their type). `tsx test/bench/heap-summary.ts FILE [N]` prints the top N.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Lines "MB count type:name", largest first, then the total. */
export function summarizeHeapSnapshot(path: string, top: number): string[] {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [fType, fName, fSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const by = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + fType]!]!;
    const size = snap.nodes[i + fSize]!;
    // Objects by constructor; strings, arrays, code and the like by their type alone.
    const key = type === 'object' || type === 'closure' ? `${type}:${snap.strings[snap.nodes[i + fName]!]}` : type === 'native' ? `native:${snap.strings[snap.nodes[i + fName]!]!.slice(0, 40)}` : type;
    const e = by.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += size;
    e.count++;
    by.set(key, e);
    total += size;
  }
  const rows = [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
  return [...rows.map(([k, e]) => `${(e.bytes / 1e6).toFixed(1).padStart(7)} MB ${String(e.count).padStart(9)} ${k}`), `${(total / 1e6).toFixed(1).padStart(7)} MB total`];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of summarizeHeapSnapshot(process.argv[2]!, Number(process.argv[3] ?? 30))) process.stdout.write(line + '\n');
}
