import { strict as assert } from 'node:assert';
import { createServer, get, type Server } from 'node:http';
import { Writable } from 'node:stream';
import winston from 'winston';
import { errors } from '../../api/errors.js';
import { sendError } from '../http/responses.js';
import { buildHandlerChain } from './chain.js';
import { withRecovery } from './recovery.js';

/** A logger whose lines are kept (JSON objects), and a server whose handler answers as the path says. */
async function serve(): Promise<{ server: Server; port: number; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
  const chain = buildHandlerChain([withRecovery(log)], async (req, res) => {
    if (req.url === '/crash') throw new Error('handler crashed');
    if (req.url === '/internal') sendError(res, new Error('disk on fire'));
    else if (req.url === '/unavailable') sendError(res, errors.unavailable('node agent 10.0.0.1:10250: connect ECONNREFUSED'));
    else sendError(res, errors.notFound({ group: '', resource: 'pods', name: 'x' }));
  });
  const server = createServer((req, res) => void chain(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, lines };
}

const status = (port: number, path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });

describe('withRecovery', () => {
  it('logs every 5xx answer with the error it was made from, a thrown failure too, and no 4xx', async () => {
    const { server, port, lines } = await serve();
    try {
      assert.equal(await status(port, '/internal'), 500);
      assert.equal(await status(port, '/unavailable'), 503);
      assert.equal(await status(port, '/crash'), 500);
      assert.equal(await status(port, '/missing'), 404);
      const logged = lines.map((l) => [l.message, l.code, l.url, String(l.error).split('\n')[0]]);
      assert.deepEqual(logged, [
        ['request answered with a server error', 500, '/internal', 'Error: disk on fire'],
        ['request answered with a server error', 503, '/unavailable', 'node agent 10.0.0.1:10250: connect ECONNREFUSED'],
        ['request failed', undefined, '/crash', 'Error: handler crashed'],
      ]);
      assert.match(String(lines[0]?.error), /\n\s+at /, 'an error that is no ApiError is logged with its stack');
    } finally {
      server.close();
    }
  });
});
