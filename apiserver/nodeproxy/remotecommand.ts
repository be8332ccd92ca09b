// exec, attach and WebSocket port-forward sessions in the API server: the client's end (a WebSocket in any channel
// protocol of channels.ts, or SPDY streams: remotecommand-spdy.ts) relayed to the node agent's WebSocket, which
// speaks v5.channel.k8s.io (exec, attach) or the v4 port-forward framing. What the protocols do differently is done
// here: base64 text frames, the error channel as text before v4, v5's close message for stdin, the empty first
// message that tells a client the session is up.
import type { RawData, WebSocket } from 'ws';
import { CHANNEL, decodeFrame, sendFrame, type ChannelProtocol } from './channels.js';
import type { ExecFlags } from './stream-options.js';

const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

export function toBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Bytes sent one way and not yet written: past the high mark the source is paused, below the low one resumed. */
export class Backlog {
  private bytes = 0;
  private paused = false;

  constructor(
    private readonly pause: () => void,
    private readonly resume: () => void,
  ) {}

  /** Counts `n` bytes on their way; call the result once they are written. */
  add(n: number): () => void {
    this.bytes += n;
    if (!this.paused && this.bytes > HIGH_WATER) {
      this.paused = true;
      this.pause();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.bytes -= n;
      if (this.paused && this.bytes < LOW_WATER) {
        this.paused = false;
        this.resume();
      }
    };
  }
}

/** The agent's WebSocket once open, and the messages it sent before a session took it over. */
export interface AgentStream {
  ws: WebSocket;
  /** Stops buffering and returns what came so far. */
  take(): Buffer[];
}

/** What a remote command session needs of the client's end. */
export interface CommandClient {
  /** stdout (1) or stderr (2) data; `done` once written. */
  output(channel: 1 | 2, data: Buffer, done: () => void): void;
  /** The agent's error channel: a JSON Status (Success, or Failure with the exit code). */
  status(json: Buffer): void;
  /** The command is over: end the client's side. */
  close(): void;
  pause(): void;
  resume(): void;
}

/** One exec or attach: the agent's v5 WebSocket and, once its streams are set up, the client's end. */
export class RemoteCommand {
  private client: CommandClient | undefined;
  private readonly early: Buffer[];
  private agentDone = false;
  private readonly toClient: Backlog;
  private readonly toAgent: Backlog;

  constructor(private readonly agent: AgentStream) {
    this.early = agent.take();
    const ws = agent.ws;
    this.toClient = new Backlog(() => ws.pause(), () => ws.resume());
    this.toAgent = new Backlog(() => this.client?.pause(), () => this.client?.resume());
    ws.on('message', (d: RawData) => this.fromAgent(toBuffer(d)));
    ws.on('close', () => this.agentClosed());
    // An 'error' is followed by 'close'.
    ws.on('error', () => undefined);
  }

  /** The client's streams are ready: what the agent sent meanwhile goes first. */
  attach(client: CommandClient): void {
    this.client = client;
    for (const m of this.early.splice(0)) this.fromAgent(m);
    if (this.agentDone) client.close();
  }

  stdin(data: Buffer): void {
    if (data.length) this.toAgentFrame(CHANNEL.stdin, data);
  }

  /** The client closed its stdin: v5's close message for channel 0. */
  stdinEnd(): void {
    this.toAgentFrame(CHANNEL.close, Buffer.from([CHANNEL.stdin]));
  }

  resize(json: Buffer): void {
    this.toAgentFrame(CHANNEL.resize, json);
  }

  /** The client went away: the agent (and the process's streams) with it. */
  clientGone(): void {
    if (this.agent.ws.readyState === this.agent.ws.OPEN) this.agent.ws.close(1000);
    else this.agent.ws.terminate();
  }

  private toAgentFrame(channel: number, data: Buffer): void {
    const ws = this.agent.ws;
    if (ws.readyState !== ws.OPEN) return;
    const frame = Buffer.allocUnsafe(data.length + 1);
    frame[0] = channel;
    data.copy(frame, 1);
    ws.send(frame, { binary: true }, this.toAgent.add(frame.length));
  }

  private fromAgent(msg: Buffer): void {
    if (!this.client) {
      this.early.push(msg);
      return;
    }
    const channel = msg[0];
    const data = msg.subarray(1);
    if (channel === CHANNEL.stdout || channel === CHANNEL.stderr) this.client.output(channel, data, this.toClient.add(data.length));
    else if (channel === CHANNEL.error && data.length) this.client.status(data);
  }

  private agentClosed(): void {
    this.agentDone = true;
    this.client?.close();
  }
}

/**
 * The client's end over a WebSocket: frames decoded in its protocol, the agent's Status as v4 and v5 carry it (JSON)
 * or as earlier protocols do (a failure's message; nothing for success).
 */
export function webSocketCommandClient(ws: WebSocket, p: ChannelProtocol, flags: ExecFlags, session: RemoteCommand): CommandClient {
  // kube's "the connection is established": an empty message on the lowest channel the client will read.
  sendFrame(ws, p, flags.stdout ? CHANNEL.stdout : flags.stderr ? CHANNEL.stderr : CHANNEL.error, Buffer.alloc(0));
  ws.on('message', (raw: RawData) => {
    const frame = decodeFrame(p, raw);
    if (!frame) return;
    if (frame.channel === CHANNEL.stdin && flags.stdin) session.stdin(frame.data);
    else if (frame.channel === CHANNEL.resize) session.resize(frame.data);
    else if (p.streamClose && frame.channel === CHANNEL.close && frame.data[0] === CHANNEL.stdin) session.stdinEnd();
  });
  ws.on('close', () => session.clientGone());
  ws.on('error', () => session.clientGone());
  return {
    output: (channel, data, done) => (flags[channel === CHANNEL.stdout ? 'stdout' : 'stderr'] ? sendFrame(ws, p, channel, data, done) : done()),
    status: (json) => {
      const text = p.jsonStatus ? json : statusText(json);
      if (text) sendFrame(ws, p, CHANNEL.error, text);
    },
    close: () => ws.close(1000),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
}

/** What protocols before v4 write on the error channel: the message of a failed Status, nothing for a success. */
export function statusText(json: Buffer): Buffer | undefined {
  let st: { status?: unknown; message?: unknown };
  try {
    st = JSON.parse(json.toString('utf8')) as typeof st;
  } catch {
    return json; // not a Status: the agent's own text
  }
  if (st.status === 'Success') return undefined;
  return Buffer.from(typeof st.message === 'string' ? st.message : 'command failed');
}

/**
 * WebSocket port-forward: the agent already speaks the v4 framing (a data and an error channel per port, each opening
 * with its port): messages are relayed as they are, re-encoded for a base64 client.
 */
export function relayPortForward(client: WebSocket, p: ChannelProtocol, agent: AgentStream): void {
  const ws = agent.ws;
  const toClient = new Backlog(() => ws.pause(), () => ws.resume());
  const toAgent = new Backlog(() => client.pause(), () => client.resume());
  const fromAgent = (d: RawData | Buffer): void => {
    const msg = Buffer.isBuffer(d) ? d : toBuffer(d);
    if (msg.length) sendFrame(client, p, msg[0]!, msg.subarray(1), toClient.add(msg.length));
  };
  for (const m of agent.take()) fromAgent(m);
  ws.on('message', fromAgent);
  client.on('message', (raw: RawData) => {
    const frame = decodeFrame(p, raw);
    // Only data channels (even) carry the client's bytes; the error channels are the server's.
    if (!frame || frame.channel % 2 !== 0 || ws.readyState !== ws.OPEN) return;
    const out = Buffer.allocUnsafe(frame.data.length + 1);
    out[0] = frame.channel;
    frame.data.copy(out, 1);
    ws.send(out, { binary: true }, toAgent.add(out.length));
  });
  ws.on('close', () => client.close(1000));
  ws.on('error', () => undefined);
  client.on('close', () => ws.terminate());
  client.on('error', () => ws.terminate());
}
