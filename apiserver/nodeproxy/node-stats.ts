// GET /api/v1/nodes/NAME/proxy/PATH (nodes/proxy, read-only here): the node agent's answer for PATH, e.g. the
// stats summary `ketch top` reads, over HTTPS with the API server's kubelet-client certificate.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { errors } from '../../api/errors.js';
import { agentEndpoint, agentTls, type NodeProxyDeps } from './node-proxy.js';


const TIMEOUT_MS = 30_000;

/** Relays the agent's status, content type and body; an unreachable agent is a 503 Status. */
export async function proxyNodeGet(res: ServerResponse, nodeName: string, path: string, search: string, deps: NodeProxyDeps): Promise<void> {
  const { host, port } = agentEndpoint(nodeName, await deps.getNode(nodeName), deps);
  const tls = agentTls(deps);
  const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
    const r = httpsRequest({ host, port, path: `/${path.replace(/^\/+/, '')}${search}`, method: 'GET', ...tls, timeout: TIMEOUT_MS }, resolve);
    r.on('timeout', () => r.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)));
    r.on('error', (err) => reject(errors.unavailable(`error trying to reach node ${nodeName}: ${err.message}`)));
    r.end();
  });
  res.writeHead(upstream.statusCode ?? 502, { 'Content-Type': upstream.headers['content-type'] ?? 'application/octet-stream', 'Cache-Control': 'no-cache, private' });
  upstream.pipe(res);
  await new Promise<void>((resolve) => {
    upstream.on('end', resolve);
    upstream.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      upstream.destroy();
      resolve();
    });
  });
}
