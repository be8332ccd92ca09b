// The server side of a SPDY/3.1 connection as kubectl's streams use it (port-forward, and exec/attach from kubectl
// before 1.30): frames decoded from bytes cut anywhere, pings answered, GOAWAY honoured, and what is sent counted so
// that a session can stop reading its sources while the client is behind. The streams are the session's business.
import type { Duplex } from 'node:stream';
import { GOAWAY_PROTOCOL_ERROR, SpdyDecoder, SpdyEncoder, SpdyError, type SpdyFrame } from './spdy.js';

/** The byte pipe to the client: one WebSocket binary message, or socket write, per outgoing frame. */
export interface SpdyTransport {
  send(b: Buffer, written: () => void): void;
  close(): void;
  pause(): void;
  resume(): void;
}

export abstract class SpdyServerSession {
  private readonly decoder = new SpdyDecoder();
  private readonly encoder = new SpdyEncoder();
  /** Bytes handed to the transport and not written yet. */
  private unsent = 0;
  protected ended = false;

  constructor(protected readonly transport: SpdyTransport) {}

  /** Bytes from the client, cut anywhere. */
  feed(chunk: Buffer): void {
    if (this.ended) return;
    let frames: SpdyFrame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof SpdyError)) throw err;
      this.send({ type: 'goaway', lastGoodStreamId: 0, status: GOAWAY_PROTOCOL_ERROR });
      this.transport.close();
      this.end();
      return;
    }
    for (const f of frames) {
      if (this.ended) return;
      if (f.type === 'ping') this.send(f);
      else if (f.type === 'goaway') {
        this.transport.close();
        this.end();
      } else this.onFrame(f);
    }
  }

  /** The client went away (or said GOAWAY): the session lets go of what it holds. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
  }

  /** A frame other than PING and GOAWAY. */
  protected abstract onFrame(f: SpdyFrame): void;
  protected abstract onEnd(): void;
  /** A frame was written to the client (the backlog shrank). */
  protected onWritten(): void {}

  protected get backlog(): number {
    return this.unsent;
  }

  /** Sends a frame; `written` runs once it is written (or at once when the session is over). */
  protected send(f: SpdyFrame, written?: () => void): void {
    if (this.ended) {
      written?.();
      return;
    }
    const b = this.encoder.encode(f);
    this.unsent += b.length;
    this.transport.send(b, () => {
      this.unsent -= b.length;
      written?.();
      this.onWritten();
    });
  }
}

/**
 * Completes a plain SPDY/3.1 upgrade (101, naming the negotiated protocol in X-Stream-Protocol-Version) and feeds the
 * socket to the session that `start` makes over it.
 */
export function acceptSpdyUpgrade(socket: Duplex, head: Buffer, protocol: string, start: (t: SpdyTransport) => SpdyServerSession): SpdyServerSession {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  const session = start({
    send: (b, written) => void socket.write(b, () => written()),
    close: () => socket.end(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  });
  if (head.length) session.feed(head);
  socket.on('data', (b: Buffer) => session.feed(b));
  // The HTTP server's sockets allow half-open connections: the client hanging up must close ours too.
  socket.on('end', () => socket.end());
  socket.on('close', () => session.end());
  socket.on('error', () => socket.destroy());
  return session;
}
