// Terminates kubectl's port-forward (SPDY/3.1, inside a WebSocket or after a plain SPDY upgrade) in the API server and
// carries each forwarded connection over its own agent WebSocket (portforward.k8s.io: channel 0 data, 1 errors).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { RST_PROTOCOL_ERROR, type SpdyFrame } from './spdy.js';
import { acceptSpdyUpgrade, SpdyServerSession, type SpdyTransport } from './spdy-session.js';

/** kubectl ≥1.30 offers this WebSocket subprotocol; the SPDY fallback names the protocol in X-Stream-Protocol-Version. */
export const SPDY_WEBSOCKET_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** Opens the agent's WebSocket port-forward for one port: /portForward/{ns}/{pod}?port=P, subprotocol portforward.k8s.io. */
export type AgentDialer = (port: number) => WebSocket;

const DATA_CHUNK = 64 * 1024;
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/** 'websocket' or 'spdy' when the upgrade asks for kubectl's SPDY port-forward; undefined for anything else. */
export function spdyPortForwardMode(req: IncomingMessage): 'websocket' | 'spdy' | undefined {
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  const list = (v: string | string[] | undefined): string[] => [v ?? []].flat().flatMap((s) => s.split(',')).map((s) => s.trim());
  if (upgrade === 'websocket' && list(req.headers['sec-websocket-protocol']).includes(SPDY_WEBSOCKET_PROTOCOL)) return 'websocket';
  if (upgrade.startsWith('spdy/3.1') && list(req.headers['x-stream-protocol-version']).includes(PORT_FORWARD_PROTOCOL)) return 'spdy';
  return undefined;
}

// ws refuses "SPDY/3.1+portforward.k8s.io" as a subprotocol ('/' is not a token character), so the offer is checked
// by spdyPortForwardMode and replaced by a token before the handshake, and the answer names the real protocol.
const wss = new WebSocketServer({ noServer: true, handleProtocols: () => SPDY_WEBSOCKET_PROTOCOL });

/** Completes the upgrade (101) and serves the SPDY session until kubectl hangs up. */
export function acceptPortForwardTunnel(req: IncomingMessage, socket: Duplex, head: Buffer, mode: 'websocket' | 'spdy', dial: AgentDialer): void {
  if (mode === 'websocket') {
    req.headers['sec-websocket-protocol'] = PORT_FORWARD_PROTOCOL;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new PortForwardSession(
        {
          send: (b, written) => ws.send(b, { binary: true }, () => written()),
          close: () => ws.close(1000),
          pause: () => ws.pause(),
          resume: () => ws.resume(),
        },
        dial,
      );
      ws.on('message', (data: RawData) => session.feed(toBuffer(data)));
      ws.on('close', () => session.end());
      ws.on('error', () => session.end());
    });
    return;
  }
  acceptSpdyUpgrade(socket, head, PORT_FORWARD_PROTOCOL, (transport) => new PortForwardSession(transport, dial));
}

function toBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** One forwarded connection: kubectl's stream pair (same requestid) and the agent WebSocket that carries it. */
interface Forward {
  requestId: string;
  port: number;
  dataStream?: number;
  errorStream?: number;
  agent?: WebSocket;
  /** kubectl's bytes that arrived before the agent connection opened. */
  early: Buffer[];
  errors: string[];
  /** The agent side is over: data and error streams are (or will be, once opened) finished. */
  done: boolean;
}

/** The SPDY server side of one kubectl port-forward connection. */
export class PortForwardSession extends SpdyServerSession {
  private readonly forwards = new Map<string, Forward>();
  private readonly byStream = new Map<number, Forward>();
  private toAgents = 0;
  private agentsPaused = false;
  private clientPaused = false;

  constructor(
    transport: SpdyTransport,
    private readonly dial: AgentDialer,
  ) {
    super(transport);
  }

  /** kubectl went away (or said GOAWAY): drop every agent connection. */
  protected onEnd(): void {
    for (const f of this.forwards.values()) f.agent?.terminate();
    this.forwards.clear();
    this.byStream.clear();
  }

  protected override onWritten(): void {
    if (this.agentsPaused && this.backlog < LOW_WATER) {
      this.agentsPaused = false;
      for (const x of this.forwards.values()) x.agent?.resume();
    }
  }

  protected onFrame(f: SpdyFrame): void {
    switch (f.type) {
      case 'syn_stream':
        return this.openStream(f.streamId, f.headers);
      case 'data': {
        const fwd = this.byStream.get(f.streamId);
        // kubectl never writes to the error stream, and the agent protocol has no half-close: a FIN is dropped.
        if (fwd && f.streamId === fwd.dataStream && f.data.length) this.toAgent(fwd, f.data);
        return;
      }
      case 'rst_stream': {
        const fwd = this.byStream.get(f.streamId);
        if (fwd) this.drop(fwd);
        return;
      }
      default:
        return; // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do (kubectl's spdystream does no flow control)
    }
  }

  private openStream(streamId: number, headers: Record<string, string>): void {
    const type = headers['streamtype'];
    const port = Number(headers['port']);
    if ((type !== 'data' && type !== 'error') || !Number.isInteger(port) || port < 1 || port > 65535) {
      this.send({ type: 'rst_stream', streamId, status: RST_PROTOCOL_ERROR });
      return;
    }
    // Clients older than the requestid header open the pair on consecutive odd ids: 1,3 → 0; 5,7 → 1 (as kubelet does).
    const requestId = headers['requestid'] ?? String(Math.floor(streamId / 4));
    let fwd = this.forwards.get(requestId);
    if (!fwd) {
      fwd = { requestId, port, early: [], errors: [], done: false };
      this.forwards.set(requestId, fwd);
    }
    this.byStream.set(streamId, fwd);
    this.send({ type: 'syn_reply', streamId, fin: false, headers: {} });
    if (type === 'error') {
      fwd.errorStream = streamId;
      if (fwd.done) this.finishErrorStream(fwd);
      return;
    }
    fwd.dataStream = streamId;
    if (port !== fwd.port) {
      fwd.errors.push(`port ${port} of the data stream differs from port ${fwd.port} of the error stream`);
      return this.finish(fwd);
    }
    this.connect(fwd);
  }

  private connect(fwd: Forward): void {
    let agent: WebSocket;
    try {
      agent = this.dial(fwd.port);
    } catch (err) {
      fwd.errors.push(`error forwarding port ${fwd.port}: ${(err as Error).message}`);
      return this.finish(fwd);
    }
    fwd.agent = agent;
    const opened = new Set<number>();
    agent.on('open', () => {
      if (this.agentsPaused) agent.pause();
      for (const b of fwd.early.splice(0)) this.toAgent(fwd, b);
    });
    agent.on('message', (data: RawData) => {
      const msg = toBuffer(data);
      const ch = msg[0];
      if (ch === undefined) return;
      let payload = msg.subarray(1);
      // The first frame of each channel carries the port (uint16 LE).
      if (!opened.has(ch)) {
        opened.add(ch);
        payload = payload.subarray(2);
      }
      if (!payload.length) return;
      if (ch === 0) this.toKubectl(fwd, payload);
      else if (ch === 1) fwd.errors.push(payload.toString());
    });
    agent.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        let message = body;
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
          // not a Status: keep the text
        }
        fwd.errors.push(`error forwarding port ${fwd.port}: node agent answered ${res.statusCode ?? 0}: ${message.trim()}`);
        agent.terminate();
      });
    });
    agent.on('error', (err) => {
      if (!fwd.errors.length) fwd.errors.push(`error forwarding port ${fwd.port}: ${err.message}`);
    });
    agent.on('close', () => this.finish(fwd));
  }

  private toAgent(fwd: Forward, b: Buffer): void {
    const agent = fwd.agent;
    if (!agent || agent.readyState === WebSocket.CONNECTING) {
      fwd.early.push(b);
      return;
    }
    if (agent.readyState !== WebSocket.OPEN) return;
    this.toAgents += b.length;
    agent.send(Buffer.concat([Buffer.from([0]), b]), { binary: true }, () => {
      this.toAgents -= b.length;
      if (this.clientPaused && this.toAgents < LOW_WATER) {
        this.clientPaused = false;
        this.transport.resume();
      }
    });
    if (!this.clientPaused && this.toAgents > HIGH_WATER) {
      this.clientPaused = true;
      this.transport.pause();
    }
  }

  private toKubectl(fwd: Forward, b: Buffer): void {
    if (fwd.dataStream === undefined) return;
    for (let off = 0; off < b.length; off += DATA_CHUNK) {
      this.send({ type: 'data', streamId: fwd.dataStream, fin: false, data: b.subarray(off, off + DATA_CHUNK) });
    }
    if (!this.agentsPaused && this.backlog > HIGH_WATER) {
      this.agentsPaused = true;
      for (const f of this.forwards.values()) f.agent?.pause();
    }
  }

  /** The agent side ended: the error stream gets any message, then both streams FIN (kubectl waits for both). */
  private finish(fwd: Forward): void {
    if (fwd.done) return;
    fwd.done = true;
    if (fwd.dataStream !== undefined) this.send({ type: 'data', streamId: fwd.dataStream, fin: true, data: Buffer.alloc(0) });
    if (fwd.errorStream !== undefined) this.finishErrorStream(fwd);
  }

  private finishErrorStream(fwd: Forward): void {
    if (fwd.errorStream === undefined) return;
    const text = fwd.errors.join('\n');
    if (text) this.send({ type: 'data', streamId: fwd.errorStream, fin: false, data: Buffer.from(text) });
    this.send({ type: 'data', streamId: fwd.errorStream, fin: true, data: Buffer.alloc(0) });
    if (fwd.dataStream !== undefined) this.forget(fwd);
  }

  /** kubectl reset a stream of the pair (its normal cleanup, or it gave up): the agent connection is no longer needed. */
  private drop(fwd: Forward): void {
    fwd.done = true;
    fwd.agent?.terminate();
    this.forget(fwd);
  }

  private forget(fwd: Forward): void {
    this.forwards.delete(fwd.requestId);
    if (fwd.dataStream !== undefined) this.byStream.delete(fwd.dataStream);
    if (fwd.errorStream !== undefined) this.byStream.delete(fwd.errorStream);
  }
}
