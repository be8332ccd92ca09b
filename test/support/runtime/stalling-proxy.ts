// Test support: a proxy in front of a registry that holds one blob open half way: it forwards every request, but
// for GET of blobs/<digest> it sends the headers and the first `sendBytes` bytes, then waits for release() before
// it sends the rest. A pull through it stays under way, with a known number of bytes streamed, for as long as a
// test needs.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StallingProxy {
  /** ADDRESS:PORT, on loopback (pulled from over plain HTTP). */
  host: string;
  /** Resolves once the first bytes of the held blob are sent. */
  stalled: Promise<void>;
  /** Sends the rest of the held blob (and of any later request for it). */
  release(): void;
  stop(): Promise<void>;
}

export async function startStallingProxy(upstream: string, digest: string, sendBytes: number): Promise<StallingProxy> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let stalledNow!: () => void;
  const stalled = new Promise<void>((r) => (stalledNow = r));
  const open = new Set<ServerResponse>();
  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    open.add(res);
    res.once('close', () => open.delete(res));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
    const up = await fetch(`${upstream}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, redirect: 'manual' });
    const body = Buffer.from(await up.arrayBuffer());
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
    });
    res.writeHead(up.status, { ...out, 'content-length': String(body.length) });
    if (req.method !== 'GET' || !req.url?.endsWith(`/blobs/${digest}`) || up.status !== 200) {
      res.end(body);
      return;
    }
    res.write(body.subarray(0, sendBytes), () => stalledNow());
    await released;
    res.end(body.subarray(sendBytes));
  };
  const server = createServer((req, res) => {
    forward(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    stalled,
    release,
    stop: async () => {
      release();
      for (const res of open) res.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
