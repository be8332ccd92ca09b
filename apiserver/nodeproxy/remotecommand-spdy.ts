// exec and attach over SPDY/3.1, as kubectl and client-go before 1.30 run them (and later ones when the WebSocket
// upgrade is refused): the client opens one stream per channel (error, stdin, stdout, stderr, resize), named by its
// streamtype header, and the session starts once every expected stream is there (the kubelet's httpstream.go).
// The stdin stream's FIN is the end of input; the error stream gets the Status (JSON from v4 on, a failure's
// message before), then every stream the server writes is finished and the connection closed.
import type { IncomingMessage } from 'node:http';
import { errors } from '../../api/errors.js';
import { CHANNEL } from './channels.js';
import { statusText, type CommandClient, type RemoteCommand } from './remotecommand.js';
import type { SpdyFrame } from './spdy.js';
import { SpdyServerSession, type SpdyTransport } from './spdy-session.js';
import type { ExecFlags } from './stream-options.js';

/** Server protocols, newest first; v5 is a WebSocket protocol (SPDY closes streams on its own). */
const SPDY_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
/** How long the client has to open its streams (the kubelet's streamCreationTimeout). */
const STREAM_CREATION_MS = 30_000;
const DATA_CHUNK = 64 * 1024;

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase().startsWith('spdy/3.1');
}

/**
 * httpstream.Handshake: the first of the client's X-Stream-Protocol-Version values the server speaks. None given, or
 * none known, is the client's error (400; the kubelet answers 403 for the second).
 */
export function negotiateSpdyProtocol(req: IncomingMessage): string {
  const offered = [req.headers['x-stream-protocol-version'] ?? []].flat().flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (!offered.length) throw errors.badRequest('unable to upgrade: X-Stream-Protocol-Version is required');
  const chosen = offered.find((p) => SPDY_PROTOCOLS.includes(p));
  if (!chosen) throw errors.badRequest(`unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${SPDY_PROTOCOLS.join(' ')}]`);
  return chosen;
}

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';
const STREAM_TYPES: ReadonlySet<string> = new Set(['error', 'stdin', 'stdout', 'stderr', 'resize']);

export class SpdyCommandSession extends SpdyServerSession implements CommandClient {
  private readonly streams = new Map<StreamType, number>();
  private readonly types = new Map<number, StreamType>();
  private readonly expected: number;
  private readonly timer: NodeJS.Timeout;
  private started = false;
  private resizeBuf = '';

  constructor(
    transport: SpdyTransport,
    private readonly protocol: string,
    private readonly flags: ExecFlags,
    private readonly session: RemoteCommand,
  ) {
    super(transport);
    const resize = flags.tty && protocol !== 'v2.channel.k8s.io' && protocol !== 'channel.k8s.io';
    this.expected = 1 + Number(flags.stdin) + Number(flags.stdout) + Number(flags.stderr) + Number(resize);
    this.timer = setTimeout(() => {
      // The kubelet gives up the same way: nothing can be reported before the error stream exists.
      this.transport.close();
      this.end();
    }, STREAM_CREATION_MS);
    this.timer.unref();
  }

  protected onFrame(f: SpdyFrame): void {
    if (f.type === 'syn_stream') return this.openStream(f.streamId, f.headers['streamtype'] ?? '', f.fin);
    if (f.type === 'data') {
      const type = this.types.get(f.streamId);
      if (type === 'stdin') {
        this.session.stdin(f.data);
        if (f.fin) this.session.stdinEnd();
      } else if (type === 'resize') this.resizes(f.data);
      return;
    }
    if (f.type === 'rst_stream' && this.types.get(f.streamId) === 'stdin') this.session.stdinEnd();
  }

  protected onEnd(): void {
    clearTimeout(this.timer);
    this.session.clientGone();
  }

  private openStream(id: number, type: string, fin: boolean): void {
    this.send({ type: 'syn_reply', streamId: id, fin: false, headers: {} });
    if (!STREAM_TYPES.has(type)) return; // the kubelet logs "unexpected stream type" and goes on
    this.streams.set(type as StreamType, id);
    this.types.set(id, type as StreamType);
    if (type === 'stdin' && fin) this.session.stdinEnd();
    if (!this.started && this.streams.size >= this.expected) {
      this.started = true;
      clearTimeout(this.timer);
      this.session.attach(this);
    }
  }

  /** The resize stream carries JSON sizes one after another, each ended by a newline (client-go's json.Encoder). */
  private resizes(data: Buffer): void {
    this.resizeBuf += data.toString('utf8');
    let nl: number;
    while ((nl = this.resizeBuf.indexOf('\n')) >= 0) {
      const line = this.resizeBuf.slice(0, nl + 1);
      this.resizeBuf = this.resizeBuf.slice(nl + 1);
      if (line.trim()) this.session.resize(Buffer.from(line));
    }
    if (this.resizeBuf.length > 4096) this.resizeBuf = ''; // no size is that long: drop it rather than grow
  }

  output(channel: 1 | 2, data: Buffer, done: () => void): void {
    const id = this.streams.get(channel === CHANNEL.stdout ? 'stdout' : 'stderr');
    if (id === undefined || !data.length) return done();
    for (let off = 0; off < data.length; off += DATA_CHUNK) {
      const end = Math.min(off + DATA_CHUNK, data.length);
      this.send({ type: 'data', streamId: id, fin: false, data: data.subarray(off, end) }, end === data.length ? done : undefined);
    }
  }

  status(json: Buffer): void {
    const id = this.streams.get('error');
    const body = this.protocol === 'v4.channel.k8s.io' ? json : statusText(json);
    if (id !== undefined && body?.length) this.send({ type: 'data', streamId: id, fin: false, data: body });
  }

  /** The command is over: every stream the server writes ends (the client reads to their ends), then the connection. */
  close(): void {
    for (const type of ['stdout', 'stderr', 'error'] as const) {
      const id = this.streams.get(type);
      if (id !== undefined) this.send({ type: 'data', streamId: id, fin: true, data: Buffer.alloc(0) });
    }
    this.send({ type: 'goaway', lastGoodStreamId: Math.max(0, ...this.types.keys()), status: 0 }, () => this.transport.close());
  }

  pause(): void {
    this.transport.pause();
  }

  resume(): void {
    this.transport.resume();
  }
}
