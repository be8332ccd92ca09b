// The cluster DNS server: UDP and TCP on one address, answering the cluster domain and its reverse names from the
// informer-fed records and forwarding everything else upstream. Every query is hostile input: bounded decode, bounded
// TCP framing and pipelining, bounded forwards in flight, and a failure answered (FORMERR, SERVFAIL), never thrown.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { realClock, type Clock } from '../../lib/clock.js';
import { logger, type Logger } from '../../lib/logger.js';
import { ClusterRecords } from './cluster-records.js';
import { Forwarder, type Upstream } from './forward.js';
import { KubernetesZone, RCODE, type PodMode, type Reply } from './kubernetes-zone.js';
import { readHostResolvConf, upstreamsFrom } from './resolv-conf.js';
import { DEFAULT_CLUSTER_DNS, DEFAULT_CLUSTER_DOMAIN, DEFAULT_TTL, type DnsSources } from './types.js';
import { encodeReply, parseQuery, rcodeReply, replyLimit, truncateMessage, type Query } from './wire.js';

export interface ClusterDnsOptions {
  sources: DnsSources;
  /** Where to listen (UDP and TCP): the node's address in the agent. */
  address: string;
  /** 53 in production; 0 picks a free port (the same for UDP and TCP). */
  port: number;
  clusterDomain?: string;
  /** The kube-dns Service's cluster IPs, answered for ns.dns.ZONE (default 10.96.0.10). */
  clusterDNS?: string[];
  /** Upstream resolvers; default: the host's resolv.conf (loopback stubs skipped). */
  upstreams?: Upstream[];
  resolvConf?: string;
  ttl?: number;
  /** Default insecure, as the kubeadm and k3s Corefiles. */
  podMode?: PodMode;
  upstreamTimeoutMs?: number;
  maxForwardsInFlight?: number;
  /** TCP: connections at once (default 256), idle time before one is closed (default 10 s), queries in flight on one (16). */
  maxTcpConnections?: number;
  tcpIdleTimeoutMs?: number;
  maxTcpPipelined?: number;
  /**
   * Replies for the cluster domain remembered by the exact bytes of the query (its ID aside) until anything in the
   * cluster changes; at most this many (default 10,000; 0 turns it off). Pods ask the same names over and over.
   */
  answerCacheSize?: number;
  /** Kernel socket buffer of the UDP socket (default 4 MiB: bursts of queries are queued, not dropped). */
  udpBufferBytes?: number;
  clock?: Clock;
  log?: Logger;
}

export type Transport = 'udp' | 'tcp';

const HEADER_BYTES = 12;
const MAX_CACHED_QUERY_BYTES = 512;

/** A header-only SERVFAIL for a message whose handling failed unexpectedly. */
function servfail(msg: Buffer): Buffer | undefined {
  if (msg.length < HEADER_BYTES) return undefined;
  const out = Buffer.from(msg.subarray(0, HEADER_BYTES));
  out.writeUInt16BE(0x8000 | (out.readUInt16BE(2) & 0x7900) | 0x0080 | RCODE.SERVFAIL, 2);
  out.fill(0, 4);
  return out;
}

export class ClusterDnsServer {
  readonly records: ClusterRecords;
  readonly zone: KubernetesZone;
  private forwarder: Forwarder | undefined;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<Socket>();
  private readonly cache = new Map<string, Buffer>();
  private cacheGeneration = -1;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(private readonly opts: ClusterDnsOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? logger('cluster-dns');
    this.records = new ClusterRecords(this.clock);
    this.records.connect(opts.sources);
    this.zone = new KubernetesZone(this.records, {
      zone: opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
      ttl: opts.ttl ?? DEFAULT_TTL,
      podMode: opts.podMode ?? 'insecure',
      dnsIPs: opts.clusterDNS ?? [DEFAULT_CLUSTER_DNS],
      lookup: (name, type) => this.forwarder?.lookup(name, type) ?? Promise.resolve(undefined),
    });
  }

  /** Replies held in the answer cache now. */
  get cachedAnswers(): number {
    return this.cache.size;
  }

  /** Binds UDP and TCP (the same port) and reads the upstreams; resolves to the address bound. */
  async start(): Promise<{ address: string; port: number }> {
    const upstreams = this.opts.upstreams ?? upstreamsFrom(await readHostResolvConf(this.opts.resolvConf), [{ host: this.opts.address, port: this.opts.port }]);
    if (!upstreams.length && !this.opts.upstreams) this.log.warn('no upstream resolvers: names outside the cluster get SERVFAIL', { resolvConf: this.opts.resolvConf ?? '/etc/resolv.conf' });
    this.forwarder = new Forwarder({ upstreams, timeoutMs: this.opts.upstreamTimeoutMs, maxInFlight: this.opts.maxForwardsInFlight, clock: this.clock, log: this.log });
    const port = await this.bindBoth();
    this.log.info('cluster DNS listening', { address: this.opts.address, port, zone: this.zone.zone, upstreams: upstreams.map((u) => `${u.host}:${u.port}`) });
    return { address: this.opts.address, port };
  }

  /** TCP first, then UDP on the port TCP got; with port 0 a port taken for UDP is tried again a few times. */
  private async bindBoth(): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const tcp = await this.listenTcp(this.opts.port);
      const port = (tcp.address() as { port: number }).port;
      try {
        this.udp = await this.listenUdp(port);
        return port;
      } catch (err) {
        await this.closeTcp();
        if (this.opts.port !== 0 || attempt >= 4 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  async stop(): Promise<void> {
    const udp = this.udp;
    this.udp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    await this.closeTcp();
  }

  /** Answers one message: the reply to send, or undefined to send nothing. Never throws. */
  handle(msg: Buffer, transport: Transport): Buffer | undefined | Promise<Buffer | undefined> {
    try {
      const out = this.answer(msg, transport);
      return out instanceof Promise ? out.catch((err: unknown) => this.failed(msg, err)) : out;
    } catch (err) {
      return this.failed(msg, err);
    }
  }

  private failed(msg: Buffer, err: unknown): Buffer | undefined {
    this.log.warn('query failed', { error: String(err) });
    return servfail(msg);
  }

  private answer(msg: Buffer, transport: Transport): Buffer | undefined | Promise<Buffer | undefined> {
    const key = this.cached(msg, transport);
    if (typeof key !== 'string') return key;
    const parsed = parseQuery(msg);
    if (!('query' in parsed)) return parsed.reply;
    const q = parsed.query;
    const limit = replyLimit(q, transport);
    if (this.zone.contains(q.lname)) {
      const r = this.zone.answer(q.question.name, q.lname, q.question.type);
      if (r instanceof Promise) return r.then((x: Reply) => encodeReply(q, x, limit));
      const out = encodeReply(q, r, limit);
      // Only answers that follow from the records alone are kept (not a SERVFAIL before the informers synced).
      if (key && this.records.hasSynced) this.cache.set(key, out);
      return out;
    }
    if (q.question.type === 'PTR') {
      const r = this.zone.reverse(q.question.name, q.lname);
      if (r) return encodeReply(q, r, limit);
    }
    return this.forward(msg, q, transport, limit);
  }

  /** A remembered reply (a copy with this query's ID), or the key to remember the reply under ('' for none). */
  private cached(msg: Buffer, transport: Transport): Buffer | string {
    const max = this.opts.answerCacheSize ?? 10_000;
    // Queries are tens of bytes; a long one (large EDNS options, records in a query) is answered but not remembered,
    // so that the cache stays within max * 512 bytes of keys.
    if (max <= 0 || msg.length < HEADER_BYTES || msg.length > MAX_CACHED_QUERY_BYTES) return '';
    if (this.cacheGeneration !== this.records.generation || this.cache.size >= max) {
      this.cache.clear();
      this.cacheGeneration = this.records.generation;
    }
    const key = transport[0] + msg.toString('latin1', 2);
    const hit = this.cache.get(key);
    if (!hit) return key;
    const out = Buffer.from(hit);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    return out;
  }

  private async forward(msg: Buffer, q: Query, transport: Transport, limit: number): Promise<Buffer> {
    const fwd = this.forwarder;
    if (!fwd || fwd.saturated) return rcodeReply(q, RCODE.REFUSED, limit);
    const reply = await fwd.forward(msg, transport);
    if (!reply) return rcodeReply(q, RCODE.SERVFAIL, limit);
    return transport === 'udp' ? truncateMessage(reply, limit) : reply;
  }

  private async listenUdp(port: number): Promise<UdpSocket> {
    const size = this.opts.udpBufferBytes ?? 4 << 20;
    const sock = createSocket({ type: isIP(this.opts.address) === 6 ? 'udp6' : 'udp4', recvBufferSize: size, sendBufferSize: size });
    sock.on('message', (msg, rinfo) => {
      const send = (out: Buffer | undefined): void => {
        if (out && this.udp) sock.send(out, rinfo.port, rinfo.address);
      };
      const out = this.handle(msg, 'udp');
      if (out instanceof Promise) void out.then(send);
      else send(out);
    });
    sock.bind(port, this.opts.address);
    // once() rejects if the bind fails ('error' first).
    await once(sock, 'listening');
    // A send to a client that went away reports ECONNREFUSED and the like here; nothing is to be done about it.
    sock.on('error', (err) => this.log.debug('udp socket error', { error: String(err) }));
    return sock;
  }

  private async listenTcp(port: number): Promise<Server> {
    const server = createServer((sock) => this.serveTcp(sock));
    server.maxConnections = this.opts.maxTcpConnections ?? 256;
    this.tcp = server;
    server.listen(port, this.opts.address);
    await once(server, 'listening');
    server.on('error', (err) => this.log.warn('tcp server error', { error: String(err) }));
    return server;
  }

  /** One TCP connection: 2-byte length framing, pipelined queries (answered as they complete), idle timeout. */
  private serveTcp(sock: Socket): void {
    this.conns.add(sock);
    const maxPipelined = this.opts.maxTcpPipelined ?? 16;
    let buf = Buffer.alloc(0);
    let inFlight = 0;
    sock.setNoDelay(true);
    sock.setTimeout(this.opts.tcpIdleTimeoutMs ?? 10_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', (err) => this.log.debug('tcp connection error', { error: String(err) }));
    const send = (out: Buffer | undefined): void => {
      inFlight--;
      if (out && !sock.destroyed) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        sock.write(Buffer.concat([len, out]));
      }
      if (inFlight < maxPipelined && sock.isPaused()) sock.resume();
    };
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        // A message shorter than a header cannot be a query: the stream is not DNS, so the connection goes.
        if (n < HEADER_BYTES) return void sock.destroy();
        if (buf.length < 2 + n) break;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        inFlight++;
        const out = this.handle(msg, 'tcp');
        if (out instanceof Promise) void out.then(send);
        else send(out);
      }
      if (inFlight >= maxPipelined) sock.pause();
    });
  }

  private async closeTcp(): Promise<void> {
    const server = this.tcp;
    this.tcp = undefined;
    if (!server) return;
    for (const s of this.conns) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
