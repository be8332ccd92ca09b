// Test support: a small upstream DNS server (UDP and TCP on one port, loopback unless told, dns-packet), answering as
// the test says.
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import dnsPacket, { type DecodedPacket, type Packet } from 'dns-packet';

export type UpstreamHandler = (q: DecodedPacket, transport: 'udp' | 'tcp') => Packet | undefined | Promise<Packet | undefined>;

export interface TestUpstream {
  host: string;
  port: number;
  /** Every query received, with its transport. */
  seen: Array<{ q: DecodedPacket; transport: 'udp' | 'tcp' }>;
  close(): Promise<void>;
}

/** Replies carry the query's ID and question unless the handler sets them. */
function reply(q: DecodedPacket, p: Packet): Buffer {
  return dnsPacket.encode({ type: 'response', id: q.id, questions: q.questions, flags: dnsPacket.RECURSION_AVAILABLE, ...p });
}

export async function startTestUpstream(handler: UpstreamHandler, at: { address?: string; port?: number } = {}): Promise<TestUpstream> {
  const address = at.address ?? '127.0.0.1';
  const seen: TestUpstream['seen'] = [];
  const conns = new Set<Socket>();
  const tcp = createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => sock.destroy()); // the server under test may hang up first
    let buf = Buffer.alloc(0);
    sock.on('data', async (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const q = dnsPacket.decode(msg);
        seen.push({ q, transport: 'tcp' });
        const p = await handler(q, 'tcp');
        if (p && !sock.destroyed) sock.write(dnsPacket.streamEncode({ type: 'response', id: q.id, questions: q.questions, flags: dnsPacket.RECURSION_AVAILABLE, ...p }));
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(at.port ?? 0, address, resolve));
  const port = (tcp.address() as { port: number }).port;
  const udp = createSocket('udp4');
  udp.on('message', async (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    seen.push({ q, transport: 'udp' });
    const p = await handler(q, 'udp');
    if (p) udp.send(reply(q, p), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => udp.bind(port, address, resolve));
  return {
    host: address,
    port,
    seen,
    async close() {
      for (const c of conns) c.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}
