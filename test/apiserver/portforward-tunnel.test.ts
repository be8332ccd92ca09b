// The API server's translation of kubectl's SPDY port-forward to the agent's WebSocket protocol, against a fake agent
// that speaks agent/README-streaming.md (first frame of each channel = port, channel 0 data, channel 1 errors).
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { acceptPortForwardTunnel, PortForwardSession, spdyPortForwardMode, type AgentDialer } from '../../apiserver/nodeproxy/portforward-tunnel.js';
import type { SpdyFrame } from '../../apiserver/nodeproxy/spdy.js';
import { GoSpdyClient } from '../../apiserver/nodeproxy/testing/spdy-client.js';
import { waitFor } from '../support/util.js';

const CLOSED_PORT = 1;
const REFUSED_PORT = 2;

/** A fake agent: echoes channel-0 bytes upper-cased, closes on "bye", fails CLOSED_PORT like a refused TCP connect. */
async function fakeAgent(): Promise<{ dial: AgentDialer; connections: () => number; open: () => number; close(): Promise<void> }> {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('portforward.k8s.io') ? 'portforward.k8s.io' : false) });
  let connections = 0;
  const server: Server = createServer();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const port = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('port'));
    if (port === REFUSED_PORT) {
      const body = JSON.stringify({ kind: 'Status', status: 'Failure', message: 'pod default/web has no running sandbox on this node', code: 404 });
      socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++;
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      ws.send(Buffer.concat([Buffer.from([0]), portBytes]));
      ws.send(Buffer.concat([Buffer.from([1]), portBytes]));
      if (port === CLOSED_PORT) {
        ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`connect ECONNREFUSED 10.42.0.2:${port}`)]));
        ws.close(1000);
        return;
      }
      ws.on('message', (m: Buffer) => {
        const text = m.subarray(1).toString();
        if (text === 'bye') ws.close(1000);
        else ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(text.toUpperCase())]));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return {
    dial: (port) => new WebSocket(`ws://127.0.0.1:${addr.port}/portForward/default/web?port=${port}`, ['portforward.k8s.io']),
    connections: () => connections,
    open: () => wss.clients.size,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A session fed by a Go-style client, with the server's frames decoded as they are sent. */
function harness(dial: AgentDialer): { session: PortForwardSession; client: GoSpdyClient; frames: SpdyFrame[]; closed: () => boolean } {
  const client = new GoSpdyClient();
  const frames: SpdyFrame[] = [];
  let closed = false;
  const session = new PortForwardSession(
    {
      send: (b, written) => {
        frames.push(...client.read(b));
        written();
      },
      close: () => (closed = true),
      pause: () => undefined,
      resume: () => undefined,
    },
    dial,
  );
  return { session, client, frames, closed: () => closed };
}

const pair = (requestId: number, port = 8080): [number, Record<string, string>, number, Record<string, string>] => [
  4 * requestId + 1,
  { streamtype: 'error', port: String(port), requestid: String(requestId) },
  4 * requestId + 3,
  { streamtype: 'data', port: String(port), requestid: String(requestId) },
];

/** kubectl's opening of one forwarded connection: SYN_STREAM for the error stream, then for the data stream. */
async function openPair(h: { session: PortForwardSession; client: GoSpdyClient }, requestId: number, port = 8080): Promise<{ errId: number; dataId: number }> {
  const [errId, errH, dataId, dataH] = pair(requestId, port);
  h.session.feed(await h.client.synStream(errId, errH));
  h.session.feed(await h.client.synStream(dataId, dataH));
  return { errId, dataId };
}

const dataOn = (frames: SpdyFrame[], streamId: number): string =>
  frames.map((f) => (f.type === 'data' && f.streamId === streamId ? f.data.toString() : '')).join('');
const finned = (frames: SpdyFrame[], streamId: number): boolean => frames.some((f) => f.type === 'data' && f.streamId === streamId && f.fin);

describe('port-forward tunnel (SPDY from kubectl, WebSocket to the agent)', () => {
  let agent: Awaited<ReturnType<typeof fakeAgent>>;
  beforeEach(async () => (agent = await fakeAgent()));
  afterEach(() => agent.close());

  it('answers both streams, relays bytes both ways, and FINs data and error streams when the agent side ends', async () => {
    const { session, client, frames } = harness(agent.dial);
    const [errId, errH, dataId, dataH] = pair(0);
    session.feed(await client.synStream(errId, errH));
    session.feed(client.frame({ type: 'data', streamId: errId, fin: true, data: Buffer.alloc(0) }));
    // Bytes sent before the agent connection is open are kept; the frame arrives cut in two.
    const wire = Buffer.concat([await client.synStream(dataId, dataH), client.frame({ type: 'data', streamId: dataId, fin: false, data: Buffer.from('hello') })]);
    session.feed(wire.subarray(0, 7));
    session.feed(wire.subarray(7));
    assert.deepEqual(
      frames.filter((f) => f.type === 'syn_reply').map((f) => f.type === 'syn_reply' && f.streamId),
      [errId, dataId],
    );
    await waitFor(() => dataOn(frames, dataId) === 'HELLO', { what: 'the echo' });
    assert.equal(finned(frames, dataId), false);
    session.feed(client.frame({ type: 'data', streamId: dataId, fin: false, data: Buffer.from('bye') }));
    await waitFor(() => finned(frames, dataId) && finned(frames, errId), { what: 'both streams to be finished' });
    assert.equal(dataOn(frames, errId), '', 'no error');
    // kubectl's normal cleanup afterwards is harmless.
    session.feed(client.frame({ type: 'rst_stream', streamId: dataId, status: 5 }));
    assert.equal(agent.connections(), 1);
  });

  it('gives each request its own agent connection', async () => {
    const { session, client, frames } = harness(agent.dial);
    const a = await openPair({ session, client }, 0);
    const b = await openPair({ session, client }, 1);
    session.feed(client.frame({ type: 'data', streamId: b.dataId, fin: false, data: Buffer.from('second') }));
    session.feed(client.frame({ type: 'data', streamId: a.dataId, fin: false, data: Buffer.from('first') }));
    await waitFor(() => dataOn(frames, a.dataId) === 'FIRST' && dataOn(frames, b.dataId) === 'SECOND', { what: 'both echoes' });
    assert.equal(agent.connections(), 2);
  });

  it('pairs streams by id when the client sends no requestid (older clients)', async () => {
    const { session, client, frames } = harness(agent.dial);
    session.feed(await client.synStream(5, { streamtype: 'error', port: '8080' }));
    session.feed(await client.synStream(7, { streamtype: 'data', port: '8080' }));
    session.feed(client.frame({ type: 'data', streamId: 7, fin: false, data: Buffer.from('old') }));
    await waitFor(() => dataOn(frames, 7) === 'OLD', { what: 'the echo' });
    session.feed(client.frame({ type: 'data', streamId: 7, fin: false, data: Buffer.from('bye') }));
    await waitFor(() => finned(frames, 5), { what: 'the error stream of the same pair to finish' });
  });

  it("writes the agent's error on the error stream, then FINs it", async () => {
    const h = harness(agent.dial);
    const { errId, dataId } = await openPair(h, 0, CLOSED_PORT);
    const { frames } = h;
    await waitFor(() => finned(frames, errId), { what: 'the error stream to finish' });
    assert.equal(dataOn(frames, errId), `connect ECONNREFUSED 10.42.0.2:${CLOSED_PORT}`);
    assert.ok(finned(frames, dataId));
  });

  it('reports an agent that refuses the upgrade with the message of its Status', async () => {
    const h = harness(agent.dial);
    const { errId } = await openPair(h, 0, REFUSED_PORT);
    const { frames } = h;
    await waitFor(() => finned(frames, errId), { what: 'the error stream to finish' });
    assert.match(dataOn(frames, errId), /node agent answered 404: pod default\/web has no running sandbox on this node$/);
  });

  it('sends the error even when the error stream opens after the agent connection failed', async () => {
    const { session, client, frames } = harness(agent.dial);
    const [errId, errH, dataId, dataH] = pair(0, CLOSED_PORT);
    session.feed(await client.synStream(dataId, dataH));
    await waitFor(() => finned(frames, dataId), { what: 'the data stream to finish' });
    session.feed(await client.synStream(errId, errH));
    assert.match(dataOn(frames, errId), /ECONNREFUSED/);
    assert.ok(finned(frames, errId));
  });

  it('closes the agent connection when kubectl resets the data stream', async () => {
    const h = harness(agent.dial);
    const { session, client, frames } = h;
    const { dataId } = await openPair(h, 0);
    session.feed(client.frame({ type: 'data', streamId: dataId, fin: false, data: Buffer.from('x') }));
    await waitFor(() => dataOn(frames, dataId) === 'X', { what: 'the echo' });
    assert.equal(agent.open(), 1);
    session.feed(client.frame({ type: 'rst_stream', streamId: dataId, status: 5 }));
    await waitFor(() => agent.open() === 0, { what: 'the agent connection to close' });
  });

  it('refuses a stream without a valid type or port with RST_STREAM', async () => {
    const { session, client, frames } = harness(agent.dial);
    session.feed(await client.synStream(1, { streamtype: 'data', port: 'http', requestid: '0' }));
    session.feed(await client.synStream(3, { streamtype: 'stdin', port: '80', requestid: '1' }));
    assert.deepEqual(
      frames.map((f) => f.type === 'rst_stream' && f.streamId),
      [1, 3],
    );
    assert.equal(agent.connections(), 0);
  });

  it('echoes PING; a malformed frame gets GOAWAY and ends the session and its agent connections', async () => {
    const h = harness(agent.dial);
    const { session, client, frames, closed } = h;
    session.feed(client.frame({ type: 'ping', id: 7 }));
    assert.deepEqual(frames.at(-1), { type: 'ping', id: 7 });
    await openPair(h, 0);
    await waitFor(() => agent.open() === 1, { what: 'the agent connection' });
    const v2 = client.frame({ type: 'ping', id: 8 });
    v2.writeUInt16BE(0x8002, 0);
    session.feed(v2);
    assert.deepEqual(frames.at(-1), { type: 'goaway', lastGoodStreamId: 0, status: 1 });
    assert.ok(closed());
    await waitFor(() => agent.open() === 0, { what: 'the agent connection to close' });
  });

  it('GOAWAY from kubectl ends the session', async () => {
    const h = harness(agent.dial);
    const { session, client, closed } = h;
    await openPair(h, 0);
    await waitFor(() => agent.open() === 1, { what: 'the agent connection' });
    session.feed(client.frame({ type: 'goaway', lastGoodStreamId: 0, status: 0 }));
    assert.ok(closed());
    await waitFor(() => agent.open() === 0, { what: 'the agent connection to close' });
  });
});

describe('port-forward tunnel upgrades', () => {
  let agent: Awaited<ReturnType<typeof fakeAgent>>;
  let server: Server;
  let port: number;
  before(async () => {
    agent = await fakeAgent();
    server = createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const mode = spdyPortForwardMode(req);
      if (mode) acceptPortForwardTunnel(req, socket, head, mode, agent.dial);
      else socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await agent.close();
  });

  /** Sends an upgrade request on a raw connection; resolves with the response head and the bytes after it. */
  const upgrade = (lines: string[]): Promise<{ socket: Socket; head: string; rest: Buffer }> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
      let buf = Buffer.alloc(0);
      const onData = (b: Buffer): void => {
        buf = Buffer.concat([buf, b]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        resolve({ socket, head: buf.subarray(0, end).toString(), rest: buf.subarray(end + 4) });
      };
      socket.on('data', onData);
      socket.on('error', reject);
    });

  /** Reads SPDY frames from `read` until `done` holds. */
  const until = async (client: GoSpdyClient, socket: Socket, first: Buffer, decode: (b: Buffer) => Buffer[], done: (frames: SpdyFrame[]) => boolean): Promise<SpdyFrame[]> => {
    const frames: SpdyFrame[] = [];
    for (const b of decode(first)) frames.push(...client.read(b));
    socket.on('data', (b: Buffer) => {
      for (const x of decode(b)) frames.push(...client.read(x));
    });
    await waitFor(() => done(frames), { what: 'SPDY frames from the server' });
    return frames;
  };

  it('tells the SPDY port-forward upgrades from the others', () => {
    const req = (headers: Record<string, string | string[]>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
    assert.equal(spdyPortForwardMode(req({ upgrade: 'websocket', 'sec-websocket-protocol': 'SPDY/3.1+portforward.k8s.io' })), 'websocket');
    assert.equal(spdyPortForwardMode(req({ upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'portforward.k8s.io' })), 'spdy');
    assert.equal(spdyPortForwardMode(req({ upgrade: 'websocket', 'sec-websocket-protocol': 'portforward.k8s.io, v4.channel.k8s.io' })), undefined);
    assert.equal(spdyPortForwardMode(req({ upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io, channel.k8s.io' })), undefined);
  });

  it('speaks SPDY right after a plain SPDY/3.1 upgrade (the kubectl fallback)', async () => {
    const r = await upgrade(['POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1', 'Host: x', 'Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: portforward.k8s.io']);
    assert.match(r.head, /^HTTP\/1\.1 101 /);
    assert.match(r.head, /\r\nX-Stream-Protocol-Version: portforward.k8s.io/i);
    const client = new GoSpdyClient();
    const [errId, errH, dataId, dataH] = pair(0);
    r.socket.write(Buffer.concat([await client.synStream(errId, errH), await client.synStream(dataId, dataH), client.frame({ type: 'data', streamId: dataId, fin: false, data: Buffer.from('raw spdy') })]));
    await until(client, r.socket, r.rest, (b) => [b], (f) => dataOn(f, dataId) === 'RAW SPDY');
    r.socket.destroy();
  });

  it('speaks SPDY inside WebSocket binary messages with subprotocol SPDY/3.1+portforward.k8s.io', async () => {
    const r = await upgrade([
      'GET /api/v1/namespaces/default/pods/web/portforward HTTP/1.1',
      'Host: x',
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: kXoI4iAHgY4U3DZISyhBSQ==',
      'Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io',
    ]);
    assert.match(r.head, /^HTTP\/1\.1 101 /);
    assert.match(r.head, /\r\nSec-WebSocket-Protocol: SPDY\/3\.1\+portforward\.k8s\.io/i);
    const client = new GoSpdyClient();
    const [errId, errH, dataId, dataH] = pair(0);
    // kubectl writes each field separately: here every SPDY frame is cut across three WebSocket messages.
    const wire = Buffer.concat([await client.synStream(errId, errH), await client.synStream(dataId, dataH), client.frame({ type: 'data', streamId: dataId, fin: false, data: Buffer.from('in websocket') })]);
    for (let off = 0; off < wire.length; off += 5) r.socket.write(maskedBinary(wire.subarray(off, off + 5)));
    let pending = Buffer.alloc(0);
    const unframe = (b: Buffer): Buffer[] => {
      pending = Buffer.concat([pending, b]);
      const out: Buffer[] = [];
      for (;;) {
        const m = readServerFrame(pending);
        if (!m) return out;
        pending = pending.subarray(m.size);
        if (m.opcode === 2) out.push(m.payload);
      }
    };
    await until(client, r.socket, r.rest, unframe, (f) => dataOn(f, dataId) === 'IN WEBSOCKET');
    r.socket.destroy();
  });
});

/** A client WebSocket frame: FIN + binary, masked as RFC 6455 requires. */
function maskedBinary(payload: Buffer): Buffer {
  assert.ok(payload.length < 126);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
}

/** One unmasked server frame, if complete. */
function readServerFrame(b: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (b.length < 2) return undefined;
  let len = b[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    if (b.length < 4) return undefined;
    len = b.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (b.length < 10) return undefined;
    len = Number(b.readBigUInt64BE(2));
    off = 10;
  }
  if (b.length < off + len) return undefined;
  return { opcode: b[0]! & 0x0f, payload: b.subarray(off, off + len), size: off + len };
}
