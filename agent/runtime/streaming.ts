// The streaming server behind Exec, Attach and PortForward: a one-time URL per request, served over
// WebSocket with the Kubernetes channel protocol (v4.channel.k8s.io: a leading byte names the stream).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Server, createServer } from 'node:http';
import { type Socket, connect } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { CONTROL_FD, type TerminalSize, consoleHelper, helperArgs, resizeLine } from './console.js';
import { attachSocket, resizeSocket } from './monitor.js';
import { realClock, type Clock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export type StreamRequest =
  | { kind: 'exec'; containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'attach'; containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'portforward'; sandboxId: string; ports: number[] };

export interface StreamTargets {
  runcRoot: string;
  /** Where the console helper (console.ts) is written. */
  helperDir: string;
  /** A container's bundle directory (its config.json). */
  containerDir(id: string): string;
  /** Where a sandbox's ports are reached: its IP, or its netns path for a loopback-only pod. */
  sandboxNet(id: string): Promise<{ ip?: string; netnsPath?: string }>;
}

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;
const PROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io'];
const TOKEN_TTL_MS = 60_000;
/** How long a TTY exec waits for the client's first resize (kubectl sends it first) to size the terminal it starts on. */
const FIRST_RESIZE_WAIT_MS = 500;

export class StreamingServer {
  private readonly pending = new Map<string, { req: StreamRequest; expires: number }>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private base = '';

  constructor(
    private readonly targets: StreamTargets,
    private readonly address = '127.0.0.1',
    private readonly clock: Clock = realClock,
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
      if (!entry || entry.expires < this.clock.now()) {
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
    const now = this.clock.now();
    for (const [k, v] of this.pending) if (v.expires < now) this.pending.delete(k);
    const token = randomBytes(16).toString('hex');
    this.pending.set(token, { req, expires: now + TOKEN_TTL_MS });
    return `${this.base}/${req.kind}/${token}`;
  }

  private async serve(ws: WebSocket, req: StreamRequest): Promise<void> {
    if (req.kind === 'exec') return req.tty ? this.execTty(ws, req) : this.exec(ws, req);
    if (req.kind === 'attach') return this.attach(ws, req);
    return this.portForward(ws, req);
  }

  private exec(ws: WebSocket, req: Extract<StreamRequest, { kind: 'exec' }>): void {
    const child = spawn('runc', ['--root', this.targets.runcRoot, 'exec', req.containerId, ...req.cmd], { stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (b: Buffer) => req.stdout && send(ws, CHANNEL.stdout, b));
    child.stderr?.on('data', (b: Buffer) => (req.stderr ? send(ws, CHANNEL.stderr, b) : req.tty && req.stdout && send(ws, CHANNEL.stdout, b)));
    // stdin closed by a command that ended (EPIPE): its exit status goes out on 'close' below.
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

  /**
   * Exec on a terminal: runc under the console helper. Everything the terminal shows goes out on stdout (a TTY has no
   * separate stderr, as in Kubernetes); resize frames become the helper's control lines; the exit code goes out on
   * the error channel as without a TTY. The process starts once the first resize is in (kubectl sends it first; other
   * clients wait a moment), with that size in its process spec, so that it has the client's size from the start.
   */
  private execTty(ws: WebSocket, req: Extract<StreamRequest, { kind: 'exec' }>): void {
    // Frames are held from the first moment: none may be lost while the helper is looked up.
    const helper = consoleHelper(this.targets.helperDir);
    // Its failure is reported to the client where start() awaits it; this only keeps it from counting as unhandled.
    helper.catch(() => undefined);
    const early: Buffer[] = [];
    let size: TerminalSize | undefined;
    let starting = false;
    let closed = false;
    const start = (): void => {
      if (starting || closed) return;
      starting = true;
      timer.cancel();
      helper
        .then((h) => this.startExecTty(ws, req, h, size))
        .then((input) => {
          ws.off('message', hold);
          ws.on('message', input);
          for (const f of early.splice(0)) input(f);
        })
        .catch((err: unknown) => {
          log.warn('exec failed', { container: req.containerId, error: String(err) });
          sendError(ws, `exec: ${String(err)}`);
          ws.close(1000);
        });
    };
    const hold = (data: Buffer): void => {
      if (data[0] === CHANNEL.resize && !starting) {
        try {
          size = resizeLine(data.subarray(1)).size;
        } catch (err) {
          log.warn('bad resize message', { container: req.containerId, error: String(err) });
        }
        start();
        return;
      }
      early.push(data);
    };
    const timer = this.clock.setTimer(FIRST_RESIZE_WAIT_MS, start);
    ws.on('message', hold);
    ws.once('close', () => {
      closed = true;
      timer.cancel();
    });
  }

  /** Starts runc exec under the helper; returns what to do with the client's frames from then on. */
  private async startExecTty(ws: WebSocket, req: Extract<StreamRequest, { kind: 'exec' }>, helper: string[], size: TerminalSize | undefined): Promise<(frame: Buffer) => void> {
    // The container's own process spec with this command and the terminal's size: runc sizes the pty before the
    // command runs (a resize after the start would race with it).
    const dir = this.targets.containerDir(req.containerId);
    const spec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { process?: Record<string, unknown> };
    if (!spec.process) throw new Error(`container ${req.containerId} has no process in its spec`);
    const processFile = join(dir, `exec-${randomBytes(4).toString('hex')}.json`);
    await writeFile(processFile, JSON.stringify({ ...spec.process, args: req.cmd, terminal: true, ...(size ? { consoleSize: size } : {}) }));
    const [cmd = '', ...pre] = helper;
    const args = [...pre, ...helperArgs({ stdin: req.stdin, control: true, size }), 'runc', '--root', this.targets.runcRoot, 'exec', '--process', processFile, req.containerId];
    const child = spawn(cmd, args, { stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'] });
    const control = child.stdio[CONTROL_FD] as NodeJS.WritableStream | null;
    // The helper's own complaints are terminal output too: there is no stderr with a TTY.
    const out = (b: Buffer): void => void (req.stdout && send(ws, CHANNEL.stdout, b));
    child.stdout?.on('data', out);
    child.stderr?.on('data', out);
    // The helper or the command ended (EPIPE): the exit status goes out on 'close' below.
    child.stdin?.on('error', () => undefined);
    control?.on('error', (err) => log.debug('exec: resize not applied', { container: req.containerId, error: err.message }));
    child.on('error', (err) => {
      sendError(ws, `exec: cannot start the console helper: ${err.message}`);
      ws.close(1000);
    });
    ws.on('close', () => {
      // A hangup, as when a terminal goes away: runc passes it on to the process.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGHUP');
    });
    child.on('close', (code) => {
      void rm(processFile, { force: true });
      sendStatus(ws, code ?? 137);
      ws.close(1000);
    });
    return (data: Buffer): void => {
      if (data[0] === CHANNEL.stdin) {
        if (data.length === 1) child.stdin?.end();
        else child.stdin?.write(data.subarray(1));
      } else if (data[0] === CHANNEL.resize) {
        try {
          control?.write(resizeLine(data.subarray(1)).line);
        } catch (err) {
          log.warn('bad resize message', { container: req.containerId, error: String(err) });
        }
      }
    };
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
    // Resizes go to the monitor's resize socket, which only a container with a terminal has.
    let resize: Socket | undefined;
    ws.on('message', (data: Buffer) => {
      if (req.stdin && data[0] === CHANNEL.stdin) {
        if (data.length === 1) sock.end();
        else sock.write(data.subarray(1));
      } else if (data[0] === CHANNEL.resize && req.tty) {
        let line: string;
        try {
          line = resizeLine(data.subarray(1)).line;
        } catch (err) {
          log.warn('bad resize message', { container: req.containerId, error: String(err) });
          return;
        }
        if (!resize) {
          resize = connect(resizeSocket(req.containerId));
          resize.on('error', (err) => log.debug('attach: resize not applied', { container: req.containerId, error: err.message }));
        }
        resize.write(line);
      }
    });
    ws.on('close', () => {
      sock.destroy();
      resize?.destroy();
    });
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
        // nc ended (EPIPE): 'close' above ends the stream.
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
