// Protocol upgrades (WebSocket, SPDY) as Node's HTTP server hands them over: the request with its raw socket and the
// bytes read past the headers, kept here so that the handler chain can serve them like any request.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export interface Upgrade {
  socket: Duplex;
  head: Buffer;
}

const upgrades = new WeakMap<IncomingMessage, Upgrade>();

/** Remembers what an upgrade request came with (the server's 'upgrade' listener calls this). */
export function rememberUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  upgrades.set(req, { socket, head });
}

/** The socket and head of an upgrade request; undefined for every other request. */
export function upgradeOf(req: IncomingMessage): Upgrade | undefined {
  return upgrades.get(req);
}
