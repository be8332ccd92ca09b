// Forwarding to the node's upstream resolvers (CoreDNS's forward plugin, simply): each upstream in turn, a fresh
// socket and a random ID per attempt, UDP first and TCP when the UDP answer is truncated (or when the client asked over
// TCP), a timeout per upstream, and no answer (SERVFAIL upstream of this) when every upstream failed.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP, connect } from 'node:net';
import dnsPacket, { type Answer } from 'dns-packet';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** How long one upstream has to answer (default 2000 ms). */
  timeoutMs?: number;
  /** Forwarded queries in flight at most; past it queries are REFUSED (CoreDNS's max_concurrent). Default 1000. */
  maxInFlight?: number;
  clock: Clock;
  log: Logger;
}

const HEADER_BYTES = 12;
const QR = 0x8000;
const TC = 0x0200;

/** Whether msg is a response to the query with this ID. */
const answers = (msg: Buffer, id: number): boolean => msg.length >= HEADER_BYTES && msg.readUInt16BE(0) === id && (msg.readUInt16BE(2) & QR) !== 0;

/** One exchange, settled once: by the first valid reply, an error, or the timeout; cleanup runs exactly once. */
function exchange(clock: Clock, timeoutMs: number, run: (settle: (err: Error | undefined, reply?: Buffer) => void) => () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let done = false;
    let cleanup: () => void = () => undefined;
    const settle = (err: Error | undefined, reply?: Buffer): void => {
      if (done) return;
      done = true;
      timer.cancel();
      cleanup();
      if (err || !reply) reject(err ?? new Error('no reply'));
      else resolve(reply);
    };
    const timer = clock.setTimer(timeoutMs, () => settle(new Error(`no answer in ${timeoutMs} ms`)));
    cleanup = run(settle);
  });
}

function udpExchange(up: Upstream, msg: Buffer, id: number, clock: Clock, timeoutMs: number): Promise<Buffer> {
  return exchange(clock, timeoutMs, (settle) => {
    const sock = createSocket(isIP(up.host) === 6 ? 'udp6' : 'udp4');
    sock.on('error', (err) => settle(err));
    // A connected socket only hears from the upstream; a reply with another ID is ignored (spoofed or late).
    sock.on('message', (m) => answers(m, id) && settle(undefined, m));
    sock.connect(up.port, up.host, () => sock.send(msg, (err) => err && settle(err)));
    return () => sock.close();
  });
}

function tcpExchange(up: Upstream, msg: Buffer, id: number, clock: Clock, timeoutMs: number): Promise<Buffer> {
  return exchange(clock, timeoutMs, (settle) => {
    const sock = connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    sock.on('error', (err) => settle(err));
    sock.on('close', () => settle(new Error('connection closed before the answer')));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([len, msg]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const n = buf.readUInt16BE(0);
      if (buf.length < 2 + n) return;
      const reply = buf.subarray(2, 2 + n);
      settle(answers(reply, id) ? undefined : new Error('answer with another ID'), reply);
    });
    return () => sock.destroy();
  });
}

export class Forwarder {
  private inFlight = 0;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;

  constructor(private readonly opts: ForwarderOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxInFlight = opts.maxInFlight ?? 1000;
  }

  get upstreams(): readonly Upstream[] {
    return this.opts.upstreams;
  }

  /** Whether another forward would pass the in-flight limit. */
  get saturated(): boolean {
    return this.inFlight >= this.maxInFlight;
  }

  /** The upstream's reply to a query (with the query's own ID), or undefined when no upstream answered. */
  async forward(query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    this.inFlight++;
    try {
      for (const up of this.opts.upstreams) {
        const id = randomInt(0x10000);
        const msg = Buffer.from(query);
        msg.writeUInt16BE(id, 0);
        try {
          let reply = transport === 'tcp' ? await tcpExchange(up, msg, id, this.opts.clock, this.timeoutMs) : await udpExchange(up, msg, id, this.opts.clock, this.timeoutMs);
          if (transport === 'udp' && reply.readUInt16BE(2) & TC) reply = await tcpExchange(up, msg, id, this.opts.clock, this.timeoutMs);
          const out = Buffer.from(reply);
          out.writeUInt16BE(query.readUInt16BE(0), 0);
          return out;
        } catch (err) {
          this.opts.log.debug('upstream failed', { upstream: `${up.host}:${up.port}`, error: String(err) });
        }
      }
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  /** Resolves a name through the upstreams (an ExternalName's target): its answer records, or undefined. */
  async lookup(name: string, type: 'A' | 'AAAA'): Promise<{ answers: Answer[]; truncated: boolean } | undefined> {
    if (this.saturated) return undefined;
    const query = dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
    const reply = await this.forward(query, 'udp');
    if (!reply) return undefined;
    try {
      const p = dnsPacket.decode(reply);
      return { answers: p.answers ?? [], truncated: p.flag_tc };
    } catch (err) {
      this.opts.log.debug('upstream answer unreadable', { name, error: String(err) });
      return undefined;
    }
  }
}
