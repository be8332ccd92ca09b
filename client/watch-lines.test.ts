import assert from 'node:assert/strict';
import { readWatchEvents } from './rest.js';

async function events(chunks: (string | Buffer)[]): Promise<unknown[]> {
  async function* source(): AsyncGenerator<Buffer> {
    for (const c of chunks) yield typeof c === 'string' ? Buffer.from(c) : c;
  }
  const out: unknown[] = [];
  for await (const ev of readWatchEvents(source())) out.push(ev);
  return out;
}

describe('readWatchEvents', () => {
  const ev = (name: string): string => JSON.stringify({ type: 'ADDED', object: { metadata: { name } } });

  it('reads several events from one chunk and one event from many', async () => {
    const a = ev('a');
    const b = ev('b');
    const c = ev('c');
    const got = await events([`${a}\n${b}\n${c.slice(0, 5)}`, c.slice(5, 9), `${c.slice(9)}\n`]);
    assert.deepEqual(got, [JSON.parse(a), JSON.parse(b), JSON.parse(c)]);
  });

  it('reads a large event that many chunks carry, with events before and after it in their first and last', async () => {
    const big = JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'big' }, data: { blob: 'x'.repeat(200_000) } } });
    const text = `${ev('a')}\n${big}\n${ev('b')}\n`;
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 4096) chunks.push(text.slice(i, i + 4096));
    const got = await events(chunks);
    assert.deepEqual(got.map((e) => (e as { object: { metadata: { name: string } } }).object.metadata.name), ['a', 'big', 'b']);
    assert.equal(((got[1] as { object: { data: { blob: string } } }).object.data.blob).length, 200_000);
  });

  it('keeps a character whose bytes two chunks split whole', async () => {
    const line = Buffer.from(`${ev('żółw-😀')}\n`);
    const at = line.indexOf(Buffer.from('😀')) + 2; // inside the 4-byte character
    const got = await events([line.subarray(0, at), line.subarray(at)]);
    assert.equal((got[0] as { object: { metadata: { name: string } } }).object.metadata.name, 'żółw-😀');
  });

  it('skips blank lines, takes CRLF line ends, and a last event without a line end', async () => {
    const got = await events([`\n  \r\n${ev('a')}\r\n\n`, ev('b')]);
    assert.deepEqual(got.map((e) => (e as { object: { metadata: { name: string } } }).object.metadata.name), ['a', 'b']);
  });

  it('drops an event cut off with the connection, and fails on a line that is no JSON', async () => {
    assert.equal((await events([`${ev('a')}\n{"type":"ADD`])).length, 1);
    await assert.rejects(events(['not json\n']), SyntaxError);
  });
});
