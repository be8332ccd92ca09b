// The runtime's records (one JSON file per sandbox or container), read from disk once and then kept in memory: every
// pod sync lists them, and reading every file on each list made a node's pod syncs cost O(pods²) file reads.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJson } from './files.js';

export class RecordFiles<T extends { id: string }> {
  private readonly cache = new Map<string, T>();

  /** Records live in dir/<id>/<fileName>. */
  constructor(
    private readonly dir: string,
    private readonly fileName: string,
  ) {}

  file(id: string): string {
    return join(this.dir, id, this.fileName);
  }

  /** Reads what is on disk (at start-up; this process is the only writer afterwards). */
  async load(): Promise<void> {
    this.cache.clear();
    for (const id of await readdir(this.dir)) {
      const rec = await readJson<T | undefined>(this.file(id), undefined);
      if (rec) this.cache.set(id, rec);
    }
  }

  /**
   * The records that match, not copies: for callers that only read them (a pod sync lists the containers, and a
   * node's hundred records cloned per list were most of the runtime's CPU in a list). Changing one changes the cache.
   */
  peek(match?: (rec: Readonly<T>) => boolean): Readonly<T>[] {
    const out: Readonly<T>[] = [];
    for (const rec of this.cache.values()) if (!match || match(rec)) out.push(rec);
    return out;
  }

  /** Copies of the records that match: callers may change them and save(). */
  list(match?: (rec: T) => boolean): T[] {
    const out: T[] = [];
    for (const rec of this.cache.values()) if (!match || match(rec)) out.push(structuredClone(rec));
    return out;
  }

  /** By full id or unique prefix; a copy. */
  get(id: string): T | undefined {
    const exact = this.cache.get(id);
    if (exact) return structuredClone(exact);
    const matches = [...this.cache.keys()].filter((k) => k.startsWith(id));
    const only = matches.length === 1 ? this.cache.get(matches[0]!) : undefined;
    return only ? structuredClone(only) : undefined;
  }

  /** Writes the record (atomically), then serves it. */
  async save(rec: T): Promise<void> {
    await writeJson(this.file(rec.id), rec);
    this.cache.set(rec.id, structuredClone(rec));
  }

  /** After the record's directory is removed. */
  forget(id: string): void {
    this.cache.delete(id);
  }
}
