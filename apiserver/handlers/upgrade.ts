// The handler of protocol upgrades, reached through the same chain as every request: watches over WebSocket, and
// pods/exec, attach and portforward tunnelled to the pod's node agent. A refusal before the handshake is an HTTP
// answer (a Status); once the socket is handed on, nothing more is written on it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { ApiError, errors } from '../../api/errors.js';
import type { Handler } from '../filters/chain.js';
import { canAnswer, hijack, sendError } from '../http/responses.js';
import { upgradeOf } from '../http/upgrades.js';
import { proxyPodUpgrade } from '../nodeproxy/node-proxy.js';
import type { HandlerContext } from './context.js';
import { serveWatchUpgrade } from './watch.js';

const POD_STREAMS = new Set(['exec', 'attach', 'portforward']);

/** `wss`: the WebSocket server (noServer) that completes watch handshakes. */
export function upgradeHandler(ctx: HandlerContext, wss: WebSocketServer): Handler {
  return (req, res) =>
    serveUpgrade(req, res, ctx, wss).catch((err: unknown) => {
      // After the handshake the socket belongs to the WebSocket or the tunnel: nothing more to answer on it, so the
      // failure is logged here; before it, the answer is a Status (a 5xx one logged by the recovery filter).
      if (canAnswer(res)) sendError(res, err);
      else ctx.log.warn('upgraded stream failed', { url: req.url, error: err instanceof ApiError ? err.message : ((err as Error).stack ?? String(err)) });
    });
}

async function serveUpgrade(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext, wss: WebSocketServer): Promise<void> {
  const raw = upgradeOf(req);
  if (!raw) throw errors.internal('an upgrade request without its socket');
  if (req.requestInfoError !== undefined) throw req.requestInfoError;
  const ri = req.requestInfo;
  if (ri?.verb === 'watch') {
    const handshake = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        // ws answers a malformed handshake itself (400) and closes the socket without calling back: the watch ends.
        raw.socket.once('close', () => reject(errors.badRequest('the connection closed before the WebSocket handshake completed')));
        wss.handleUpgrade(req, raw.socket, raw.head, (ws) => {
          hijack(res);
          resolve(ws);
        });
      });
    return serveWatchUpgrade(req, ri, ctx, handshake);
  }
  if (!ri || ri.resource !== 'pods' || !POD_STREAMS.has(ri.subresource)) throw errors.badRequest('this endpoint does not support protocol upgrades');
  await proxyPodUpgrade(req, raw.socket, raw.head, ri.namespace, ri.name, ri.subresource, ri.query, ctx.nodeProxy);
  hijack(res);
}
