import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../lib/logger.js';
import type { Handler } from '../filters/chain.js';
import { sendJson } from '../http/responses.js';
import { upgradeOf } from '../http/upgrades.js';
import { ensurePki } from '../pki/pki.js';
import { closeServer, httpsServer, listen } from './https.js';

describe('the HTTPS server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ketch-https-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('hands every request and every upgrade to the one handler chain, and answers CONNECT itself', async () => {
    const pki = await ensurePki(dir);
    const seen: string[] = [];
    // The chain: records what it is given and answers each with its kind.
    const chain: Handler = async (req: IncomingMessage, res: ServerResponse) => {
      const kind = upgradeOf(req) ? 'upgrade' : 'request';
      seen.push(`${kind} ${req.method ?? ''} ${req.url ?? ''}`);
      sendJson(res, 418, { kind });
    };
    const server = httpsServer(pki, chain, logger('test'));
    const port = await listen(server, 0, '127.0.0.1');
    /** Sends raw HTTP over TLS and returns the status line and body of the answer. */
    const raw = (lines: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: pki.ca.certPem, servername: 'localhost' }, () => s.write(`${lines.join('\r\n')}\r\n\r\n`));
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString()));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
    try {
      const plain = await new Promise<number>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, path: '/api/v1/pods', ca: pki.ca.certPem, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on('error', reject);
        r.end();
      });
      assert.equal(plain, 418);
      const upgraded = await raw(['GET /api/v1/namespaces/a/pods/p/exec HTTP/1.1', 'Host: x', 'Connection: Upgrade', 'Upgrade: websocket']);
      assert.match(upgraded, /^HTTP\/1\.1 418 /);
      assert.match(upgraded, /\r\nConnection: close\r\n/i);
      assert.match(upgraded, /\{"kind":"upgrade"\}$/);
      const tunnel = await raw(['CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443']);
      assert.match(tunnel, /^HTTP\/1\.1 405 /);
      assert.deepEqual(seen, ['request GET /api/v1/pods', 'upgrade GET /api/v1/namespaces/a/pods/p/exec']);
    } finally {
      await closeServer(server);
    }
  });
});
