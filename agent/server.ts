// The agent's HTTPS server (the kubelet's port 10250): container logs, the stats summary, and exec / attach / port-forward streams
// proxied to the runtime's streaming server. Callers authenticate with a client certificate signed by the cluster CA
// or a bearer token, and must be allowed nodes/proxy (or nodes/stats...) on this node: see auth.ts.
import { execFile } from 'node:child_process';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Clock } from '../lib/clock.js';
import { isNotExist } from '../lib/errno.js';
import type { Logger } from '../lib/logger.js';
import { CertificateReloader, SERVER_TLS } from '../lib/tls.js';
import { AgentAuthError, type AgentAuth } from './auth.js';
import { ImageRequestError, serveImages } from './images.js';
import { LABELS } from './pod-config.js';
import type { PodManager } from './pod-manager.js';
import type { StatsProvider } from './stats.js';
import type { ContainerStatus as CriStatus, RuntimeClient } from './cri/index.js';

const execFileP = promisify(execFile);

export interface AgentServerOptions {
  port: number;
  address: string;
  rootDir: string;
  /** PEM of the CA that signs client certificates (the cluster CA from the kubeconfig). */
  clientCA?: string;
  /** Who may call (TokenReview and SubjectAccessReview at the API server). */
  auth: AgentAuth;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Names and IPs for the self-signed serving certificate. */
  servingNames: string[];
  pods: PodManager;
  runtime: RuntimeClient;
  /** Serves /stats/summary when given. */
  stats?: StatsProvider;
  /** Paces log follows and dates sinceSeconds: CRI log lines carry real times, so this is the real clock. */
  clock: Clock;
  log: Logger;
}

/** A self-signed serving certificate under DIR (made once, with openssl). */
export async function selfSignedCert(dir: string, names: string[]): Promise<{ cert: string; key: string }> {
  const certFile = join(dir, 'agent.crt');
  const keyFile = join(dir, 'agent.key');
  const have = await stat(certFile).then(() => true, () => false);
  if (!have) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    await execFileP('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650',
      '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${names[0] ?? 'ketch-agent'}`, '-addext', `subjectAltName=${san}`,
    ]);
  }
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function statusBody(code: number, message: string): string {
  const reasons: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict' };
  const reason = reasons[code] ?? 'InternalError';
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** One CRI log record: "<time> <stream> <P|F> <content>". */
interface LogRecord {
  time: string;
  stream: string;
  partial: boolean;
  content: string;
}

function parseLogLine(line: string): LogRecord | undefined {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0) return undefined;
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  return { time: line.slice(0, a), stream: line.slice(a + 1, b), partial: tag === 'P', content: c < 0 ? '' : line.slice(c + 1) };
}

export interface LogOptions {
  follow: boolean;
  timestamps: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  limitBytes?: number;
}

/**
 * Turns CRI log records into the text kubectl prints (joining partial records, optional timestamps). `now` (epoch
 * ms) is what sinceSeconds counts back from; it is read only when sinceSeconds is given.
 */
export function formatLogs(text: string, o: Pick<LogOptions, 'timestamps' | 'tailLines' | 'sinceSeconds'>, now = 0): string[] {
  const out: string[] = [];
  let pending = '';
  let pendingTime = '';
  for (const line of text.split('\n')) {
    if (!line) continue;
    const r = parseLogLine(line);
    if (!r) continue;
    if (!pending) pendingTime = r.time;
    pending += r.content;
    if (r.partial) continue;
    // A line counts from the time of its first record.
    if (o.sinceSeconds === undefined || Date.parse(pendingTime) >= now - o.sinceSeconds * 1000) out.push(`${o.timestamps ? `${pendingTime} ` : ''}${pending}\n`);
    pending = '';
  }
  return o.tailLines !== undefined ? out.slice(Math.max(0, out.length - o.tailLines)) : out;
}

export class AgentServer {
  private server: Server | undefined;
  /** Re-reads --tls-cert-file/--tls-private-key-file while running. */
  private reloader: CertificateReloader | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => pickProtocol(offered) });
  port = 0;

  constructor(private readonly o: AgentServerOptions) {}

  async start(): Promise<void> {
    const files = this.o.tlsCertFile && this.o.tlsKeyFile ? { cert: this.o.tlsCertFile, key: this.o.tlsKeyFile } : undefined;
    const readFiles = async (f: { cert: string; key: string }): Promise<{ cert: string; key: string }> => ({ cert: await readFile(f.cert, 'utf8'), key: await readFile(f.key, 'utf8') });
    const tls = files ? await readFiles(files) : await selfSignedCert(join(this.o.rootDir, 'pki'), this.o.servingNames);
    this.server = createServer({ ...SERVER_TLS, ...tls, ...(this.o.clientCA ? { ca: this.o.clientCA } : {}), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
    if (files) {
      // A certificate renewed on disk (by an operator or cert-manager) is served from the next check on.
      this.reloader = new CertificateReloader(this.server, { load: () => readFiles(files), ...this.context(), log: this.o.log });
      await this.reloader.start();
    }
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(req, socket, head).catch((err: unknown) => {
        const code = err instanceof HttpError || err instanceof AgentAuthError ? err.code : 500;
        const body = statusBody(code, err instanceof Error ? err.message : String(err));
        socket.end(`HTTP/1.1 ${code} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port, this.o.address, () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.o.port;
  }

  /** Serves pair from the next connection on (a serving certificate from the cluster CA, or its renewal). */
  setServingCertificate(pair: { cert: string; key: string }): void {
    this.server?.setSecureContext({ ...SERVER_TLS, ...this.context().context, cert: pair.cert, key: pair.key });
  }

  private context(): { context: { ca?: string } } {
    return { context: this.o.clientCA ? { ca: this.o.clientCA } : {} };
  }

  async close(): Promise<void> {
    this.reloader?.stop();
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private fail(res: ServerResponse, err: unknown): void {
    const code = err instanceof HttpError || err instanceof AgentAuthError || err instanceof ImageRequestError ? err.code : 500;
    if (code === 500) this.o.log.warn('agent request failed', { error: String(err) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(statusBody(code, err instanceof Error ? err.message : String(err)));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    if (url.pathname === '/healthz') {
      res.end('ok');
      return;
    }
    await this.o.auth.check(req, url.pathname);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'containerLogs' && parts.length === 4 && req.method === 'GET') {
      return this.logs(res, parts[1]!, parts[2]!, parts[3]!, url.searchParams);
    }
    if (parts[0] === 'stats' && parts[1] === 'summary' && parts.length === 2 && req.method === 'GET' && this.o.stats) {
      const summary = await this.o.stats.summary();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(summary));
      return;
    }
    if (parts[0] === 'pods' && parts.length === 1) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.o.pods.informer.indexer.list() }));
      return;
    }
    const images = await serveImages(this.o.runtime, req.method ?? 'GET', parts, url.searchParams);
    if (images !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(images));
      return;
    }
    if (['exec', 'attach', 'portForward'].includes(parts[0] ?? '')) throw new HttpError(400, `${parts[0]} needs a WebSocket upgrade (SPDY is not supported)`);
    throw new HttpError(404, `no such endpoint: ${url.pathname}`);
  }

  /** The latest (or the previous) container of a pod by name. */
  private async container(ns: string, pod: string, name: string | undefined, previous = false): Promise<CriStatus> {
    const w = this.o.pods.find(ns, pod);
    if (!w) throw new HttpError(404, `pod ${ns}/${pod} is not on this node`);
    const cname = name || w.current.spec.containers[0]?.name || '';
    const { containers } = await this.o.runtime.runtime.listContainers({ filter: { labelSelector: { [LABELS.podUid]: w.uid, [LABELS.container]: cname } } });
    containers.sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0));
    const c = containers[previous ? 1 : 0];
    if (!c) throw new HttpError(previous ? 400 : 404, previous ? `previous terminated container "${cname}" in pod "${pod}" not found` : `container "${cname}" in pod "${pod}" is waiting to start`);
    const { status } = await this.o.runtime.runtime.containerStatus({ containerId: c.id });
    if (!status) throw new HttpError(404, `container "${cname}" not found`);
    return status;
  }

  private async logs(res: ServerResponse, ns: string, pod: string, name: string, q: URLSearchParams): Promise<void> {
    const int = (k: string): number | undefined => (q.has(k) && /^\d+$/.test(q.get(k) ?? '') ? Number(q.get(k)) : undefined);
    const o: LogOptions = {
      follow: q.get('follow') === 'true',
      timestamps: q.get('timestamps') === 'true',
      ...(int('tailLines') !== undefined ? { tailLines: int('tailLines') } : {}),
      ...(int('sinceSeconds') !== undefined ? { sinceSeconds: int('sinceSeconds') } : {}),
      ...(int('limitBytes') !== undefined ? { limitBytes: int('limitBytes') } : {}),
    };
    const c = await this.container(ns, pod, name, q.get('previous') === 'true');
    const fh = await open(c.logPath, 'r').catch((err: unknown) => {
      // No log file yet (the container wrote nothing) is an empty log; anything else is said, and the log is empty.
      if (!isNotExist(err)) this.o.log.warn('container log unreadable', { path: c.logPath, error: String(err) });
      return undefined;
    });
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    if (!fh) {
      res.end();
      return;
    }
    let sent = 0;
    const write = (lines: string[]): boolean => {
      for (const l of lines) {
        let chunk = l;
        if (o.limitBytes !== undefined) {
          if (sent >= o.limitBytes) return false;
          chunk = Buffer.from(l).subarray(0, o.limitBytes - sent).toString('utf8');
        }
        sent += Buffer.byteLength(chunk);
        res.write(chunk);
      }
      return o.limitBytes === undefined || sent < o.limitBytes;
    };
    let closed = false;
    res.on('close', () => (closed = true));
    try {
      let pos = 0;
      let rest = '';
      const readMore = async (): Promise<string> => {
        const { size } = await fh.stat();
        if (size <= pos) return '';
        const buf = Buffer.alloc(size - pos);
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        pos += bytesRead;
        const text = rest + buf.subarray(0, bytesRead).toString('utf8');
        const nl = text.lastIndexOf('\n');
        rest = text.slice(nl + 1);
        return text.slice(0, nl + 1);
      };
      let more = write(formatLogs(await readMore(), o, this.o.clock.now()));
      while (more && o.follow && !closed) {
        const text = await readMore();
        if (text) {
          more = write(formatLogs(text, { timestamps: o.timestamps }));
          continue;
        }
        const st = await this.o.runtime.runtime.containerStatus({ containerId: c.id }).catch((err: unknown) => {
          // A container the runtime no longer knows has stopped writing: the follow ends after the rest of the file.
          this.o.log.debug('log follow: container status unknown, ending', { container: c.id, error: String(err) });
          return undefined;
        });
        if (st?.status?.state !== 'CONTAINER_RUNNING') {
          write(formatLogs(await readMore(), { timestamps: o.timestamps }));
          break;
        }
        await this.o.clock.sleep(200);
      }
    } finally {
      await fh.close();
      res.end();
    }
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    await this.o.auth.check(req, url.pathname);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const q = url.searchParams;
    const kind = parts[0];
    const rt = this.o.runtime.runtime;
    let target: string;
    if ((kind === 'exec' || kind === 'attach') && parts.length === 4) {
      const c = await this.container(parts[1]!, parts[2]!, parts[3]);
      if (c.state !== 'CONTAINER_RUNNING') throw new HttpError(400, `container ${parts[3]} is not running`);
      const flags = { stdin: q.get('stdin') === 'true' || q.get('input') === '1', stdout: q.get('stdout') === 'true' || q.get('output') === '1', stderr: q.get('stderr') === 'true' || q.get('error') === '1', tty: q.get('tty') === 'true' };
      if (kind === 'exec') {
        const cmd = q.getAll('command');
        if (!cmd.length) throw new HttpError(400, 'exec: no command given');
        ({ url: target } = await rt.exec({ containerId: c.id, cmd, ...flags }));
      } else ({ url: target } = await rt.attach({ containerId: c.id, ...flags }));
    } else if (kind === 'portForward' && parts.length === 3) {
      const w = this.o.pods.find(parts[1]!, parts[2]!);
      if (!w?.sandbox) throw new HttpError(404, `pod ${parts[1]}/${parts[2]} has no running sandbox on this node`);
      const ports = q.getAll('port').map(Number).filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
      if (!ports.length) throw new HttpError(400, 'portForward: give the ports as ?port=N (WebSocket port forwarding)');
      ({ url: target } = await rt.portForward({ podSandboxId: w.sandbox, port: ports }));
    } else throw new HttpError(404, `no such stream endpoint: ${url.pathname}`);
    const upstream = new WebSocket(target, ['v4.channel.k8s.io']);
    // What the runtime sends before the client is piped (a port-forward opens with the port numbers) is kept for it.
    const early: RawData[] = [];
    const keep = (d: RawData): void => void early.push(d);
    upstream.on('message', keep);
    await new Promise<void>((resolve, reject) => {
      upstream.once('open', () => resolve());
      upstream.once('error', (err) => reject(new HttpError(502, `runtime streaming server: ${err.message}`)));
    });
    this.wss.handleUpgrade(req, socket, head, (client) => {
      upstream.off('message', keep);
      pipeStreams(client, upstream, early);
    });
  }
}

const CLIENT_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io', 'portforward.k8s.io'];

function pickProtocol(offered: Set<string>): string | false {
  return CLIENT_PROTOCOLS.find((p) => offered.has(p)) ?? false;
}

/**
 * Relays frames both ways, after the runtime's frames that came before the client (`early`); v5's "close stream" frame
 * (255, channel) becomes the runtime's empty stdin frame.
 */
export function pipeStreams(client: WebSocket, upstream: WebSocket, early: RawData[] = []): void {
  const v5 = client.protocol === 'v5.channel.k8s.io';
  client.on('message', (data: RawData) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (v5 && buf[0] === 255) {
      if (buf[1] === 0 && upstream.readyState === WebSocket.OPEN) upstream.send(Buffer.from([0]));
      return;
    }
    if (upstream.readyState === WebSocket.OPEN) upstream.send(buf);
  });
  const relay = (data: RawData): void => {
    if (client.readyState === WebSocket.OPEN) client.send(data, { binary: true });
  };
  early.forEach(relay);
  upstream.on('message', relay);
  upstream.on('close', (code) => client.close(code === 1005 || code === 1006 ? 1000 : code));
  // An error on one side ends the other: the client sees 1011 (server error), the runtime's stream goes away.
  upstream.on('error', () => client.close(1011));
  client.on('close', () => upstream.close());
  client.on('error', () => upstream.terminate());
}
