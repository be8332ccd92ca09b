// A small HTTPS webhook server for tests: its own CA and a certificate for 127.0.0.1 and <service>.<namespace>.svc,
// and a handler per path that answers the parsed review. Counts calls and the time it spends in handlers.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueCert, type CertPair } from '../../apiserver/pki/pki.js';

export type ReviewHandler = (review: Record<string, unknown>) => unknown | Promise<unknown>;

export interface WebhookServer {
  port: number;
  ca: CertPair;
  /** base64 of the CA certificate PEM: a caBundle. */
  caBundle: string;
  url(path: string): string;
  handle(path: string, h: ReviewHandler): void;
  calls: Map<string, number>;
  /** Milliseconds spent inside handlers, in total. */
  handlerMs: number;
  close(): Promise<void>;
}

export async function startWebhookServer(dnsNames: string[] = ['hooks.default.svc']): Promise<WebhookServer> {
  const ca = await createCa('webhook-test-ca');
  const cert = await issueCert(ca, { commonName: 'webhook', usage: 'server', dns: dnsNames, ips: ['127.0.0.1'] });
  const handlers = new Map<string, ReviewHandler>();
  const calls = new Map<string, number>();
  const state = { handlerMs: 0 };
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      const h = handlers.get(path);
      calls.set(path, (calls.get(path) ?? 0) + 1);
      if (!h) {
        res.writeHead(404).end();
        return;
      }
      const t0 = performance.now();
      void Promise.resolve(h(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)).then((out) => {
        state.handlerMs += performance.now() - t0;
        if (res.destroyed) return; // the caller gave up (a timeout under test)
        const body = JSON.stringify(out);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    ca,
    caBundle: Buffer.from(ca.certPem).toString('base64'),
    url: (path) => `https://127.0.0.1:${port}${path}`,
    handle: (path, h) => void handlers.set(path, h),
    calls,
    get handlerMs() {
      return state.handlerMs;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The AdmissionReview answer to a review: allowed or not, with an optional JSONPatch. */
export function admissionResponse(review: Record<string, unknown>, r: { allowed: boolean; message?: string; code?: number; patch?: unknown[]; warnings?: string[] }): unknown {
  const request = review.request as { uid: string };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid: request.uid,
      allowed: r.allowed,
      ...(r.message || r.code ? { status: { ...(r.code ? { code: r.code } : {}), ...(r.message ? { message: r.message } : {}) } } : {}),
      ...(r.patch ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(r.patch)).toString('base64') } : {}),
      ...(r.warnings ? { warnings: r.warnings } : {}),
    },
  };
}
