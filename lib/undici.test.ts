import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultDispatcher, fetch as undiciFetch } from './undici.js';

describe('undici without its global side effect', () => {
  it("leaves Node's own fetch as it was (an explicit content-length still goes through) and undici's fetch works", async () => {
    const server = createServer((req, res) => {
      let n = 0;
      req.on('data', (b: Buffer) => (n += b.length));
      req.on('end', () => res.end(String(n)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      // Node's fetch through undici 7's Agent refused this header ("invalid content-length header").
      const own = await fetch(url, { method: 'PATCH', body: Buffer.from('abc'), headers: { 'content-length': '3' } });
      assert.equal(await own.text(), '3');
      const theirs = await undiciFetch(url, { method: 'POST', body: 'abcd', dispatcher: defaultDispatcher });
      assert.equal(await theirs.text(), '4');
    } finally {
      server.close();
    }
  });
});
