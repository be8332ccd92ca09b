// Test support: a DNS client over UDP and TCP (one query per UDP socket; TCP messages framed by their 2-byte length).
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';

export function udpExchange(host: string, port: number, msg: Buffer, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no UDP answer in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.send(msg, port, host);
  });
}

/** Sends raw bytes over one TCP connection and collects `want` framed messages (or fewer if the server closes). */
export function tcpExchange(host: string, port: number, writes: Buffer[], want: number, timeoutMs = 3000): Promise<{ messages: Buffer[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const messages: Buffer[] = [];
    let buf = Buffer.alloc(0);
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ messages, closed });
    };
    const timer = setTimeout(() => (messages.length ? finish() : (sock.destroy(), reject(new Error(`no TCP answer in ${timeoutMs} ms`)))), timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        messages.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (messages.length >= want) finish();
    });
    sock.on('connect', async () => {
      for (const w of writes) {
        sock.write(w);
        if (writes.length > 1) await new Promise((r) => setImmediate(r));
      }
    });
  });
}

/** A DNS message with its TCP length prefix. */
export function framed(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}
