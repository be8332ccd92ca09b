// The streaming server behind Exec, Attach and PortForward: a one-time URL per request, served over
// WebSocket with the Kubernetes channel protocol (v4.channel.k8s.io: a leading byte names the stream).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { type Socket, connect } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { attachSocket } from './monitor.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export type StreamRequest =
  | { kind: 'exec'; containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'attach'; containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'portforward'; sandboxId: string; ports: number[] };

export interface StreamTargets {
  runcRoot: string;
  /** Where a sandbox's ports are reached: its IP, or its netns path for a loopback-only pod. */
  sandboxNet(id: string): Promise<{ ip?: string; netnsPath?: string }>;
}

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;
const PROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io'];
const TOKEN_TTL_MS = 60_000;

export class StreamingServer {
  private readonly pending = new Map<string, { req: StreamRequest; expires: number }>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private base = '';

  constructor(
    private readonly targets: StreamTargets,
    private readonly address = '127.0.0.1',
  ) {}

  async start(port = 0): Promise<void> {
    this.wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false });
    this.server = createServer((_req, res) => {
      res.statusCode = 400;
      res.end('websocket upgrade required\n');
    });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const token = url.pathname.split('/')[2] ?? '';
      const entry = this.pending.get(token);
      this.pending.delete(token);
      if (!entry || entry.expires < Date.now()) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      this.wss?.handleUpgrade(req, socket, head, (ws) => {
        this.serve(ws, entry.req).catch((err: unknown) => {
          log.warn('stream failed', { kind: entry.req.kind, error: String(err) });
          sendError(ws, String(err));
          ws.close();
        });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(port, this.address, resolve));
    const addr = this.server.address();
    this.base = `http://${this.address}:${typeof addr === 'object' && addr ? addr.port : port}`;
  }

  async close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Registers a request; the URL is good for one connection within a minute. */
  register(req: StreamRequest): string {
    const now = Date.now();
    for (const [k, v] of this.pending) if (v.expires < now) this.pending.delete(k);
    const token = randomBytes(16).toString('hex');
    this.pending.set(token, { req, expires: now + TOKEN_TTL_MS });
    return `${this.base}/${req.kind}/${token}`;
  }

  private async serve(ws: WebSocket, req: StreamRequest): Promise<void> {
    if (req.kind === 'exec') return this.exec(ws, req);
    if (req.kind === 'attach') return this.attach(ws, req);
    return this.portForward(ws, req);
  }

  private exec(ws: WebSocket, req: Extract<StreamRequest, { kind: 'exec' }>): void {
    // No TTY: runc hands a console only through a unix socket with SCM_RIGHTS, which Node cannot receive.
    const child = spawn('runc', ['--root', this.targets.runcRoot, 'exec', req.containerId, ...req.cmd], { stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (b: Buffer) => req.stdout && send(ws, CHANNEL.stdout, b));
    child.stderr?.on('data', (b: Buffer) => (req.stderr ? send(ws, CHANNEL.stderr, b) : req.tty && req.stdout && send(ws, CHANNEL.stdout, b)));
    child.stdin?.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      if (data[0] === CHANNEL.stdin) {
        // An empty stdin frame means end of input.
        if (data.length === 1) child.stdin?.end();
        else child.stdin?.write(data.subarray(1));
      }
    });
    ws.on('close', () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('close', (code) => {
      sendStatus(ws, code ?? 137);
      ws.close(1000);
    });
  }

  private attach(ws: WebSocket, req: Extract<StreamRequest, { kind: 'attach' }>): void {
    const sock = connect(attachSocket(req.containerId));
    let buf = Buffer.alloc(0);
    sock.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      while (buf.length >= 5) {
        const len = buf.readUInt32BE(1);
        if (buf.length < 5 + len) break;
        const stream = buf.readUInt8(0);
        const data = buf.subarray(5, 5 + len);
        buf = buf.subarray(5 + len);
        if (stream === 1 && req.stdout) send(ws, CHANNEL.stdout, data);
        if (stream === 2 && req.stderr) send(ws, CHANNEL.stderr, data);
      }
    });
    sock.on('error', (err) => {
      sendError(ws, `attach: ${err.message}`);
      ws.close();
    });
    sock.on('close', () => {
      sendStatus(ws, 0);
      ws.close(1000);
    });
    ws.on('message', (data: Buffer) => {
      if (req.stdin && data[0] === CHANNEL.stdin) {
        if (data.length === 1) sock.end();
        else sock.write(data.subarray(1));
      }
    });
    ws.on('close', () => sock.destroy());
  }

  private async portForward(ws: WebSocket, req: Extract<StreamRequest, { kind: 'portforward' }>): Promise<void> {
    // Frames that arrive while the target is being looked up are kept, not dropped.
    const early: Buffer[] = [];
    const conns: (Socket | NodeJS.WritableStream | undefined)[] = [];
    let ready = false;
    const forward = (msg: Buffer): void => {
      const ch = msg[0] ?? 255;
      if (ch % 2 !== 0) return;
      const payload = msg.subarray(1);
      if (payload.length) conns[ch / 2]?.write(payload);
    };
    ws.on('message', (msg: Buffer) => (ready ? forward(msg) : early.push(msg)));
    ws.on('close', () => {
      for (const c of conns) {
        if (c && 'destroy' in c) c.destroy();
        else c?.end();
      }
    });
    const net = await this.targets.sandboxNet(req.sandboxId);
    req.ports.forEach((port, i) => {
      const data = 2 * i;
      const err = 2 * i + 1;
      // Each channel opens with the port number, little-endian, as kubelet's server does.
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      send(ws, data, portBytes);
      send(ws, err, portBytes);
      if (net.ip) {
        const s = connect(port, net.ip);
        s.on('data', (b: Buffer) => send(ws, data, b));
        s.on('error', (e) => send(ws, err, Buffer.from(e.message)));
        s.on('close', () => ws.close(1000));
        conns[i] = s;
      } else if (net.netnsPath) {
        const child = spawn('nsenter', [`--net=${net.netnsPath}`, 'busybox', 'nc', '127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
        child.stdout.on('data', (b: Buffer) => send(ws, data, b));
        child.stderr.on('data', (b: Buffer) => send(ws, err, b));
        child.on('close', () => ws.close(1000));
        child.stdin.on('error', () => undefined);
        conns[i] = child.stdin;
      }
    });
    ready = true;
    for (const m of early.splice(0)) forward(m);
  }
}

function send(ws: WebSocket, channel: number, data: Buffer): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]));
}

function sendError(ws: WebSocket, message: string): void {
  send(ws, CHANNEL.error, Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message })));
}

function sendStatus(ws: WebSocket, exitCode: number): void {
  const status =
    exitCode === 0
      ? { metadata: {}, status: 'Success' }
      : {
          metadata: {},
          status: 'Failure',
          message: `command terminated with non-zero exit code: ${exitCode}`,
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
        };
  send(ws, CHANNEL.error, Buffer.from(JSON.stringify(status)));
}
