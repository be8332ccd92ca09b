// /api/v1/nodes/NAME/proxy/PATH (nodes/proxy): the node agent's answer for PATH, e.g. the stats summary `ketch top`
// reads or the image endpoints `ketch image` calls, over HTTPS with the API server's kubelet-client certificate. The
// method and the request body are relayed (the caller was authorized for nodes/proxy with the method's verb).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { errors } from '../../api/errors.js';
import { agentEndpoint, agentTls, type NodeProxyDeps } from './node-proxy.js';


const TIMEOUT_MS = 30_000;

/**
 * Relays `req` (its method and body, when given; else a GET) and then the agent's status, content type and body; an
 * unreachable agent is a 503 Status.
 */
export async function proxyNode(res: ServerResponse, nodeName: string, path: string, search: string, deps: NodeProxyDeps, req?: IncomingMessage): Promise<void> {
  const { host, port } = agentEndpoint(nodeName, await deps.getNode(nodeName), deps);
  const tls = agentTls(deps);
  const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
    const method = req?.method ?? 'GET';
    const contentType = req?.headers['content-type'];
    const headers = contentType ? { 'Content-Type': contentType } : {};
    const r = httpsRequest({ host, port, path: `/${path.replace(/^\/+/, '')}${search}`, method, headers, ...tls, timeout: TIMEOUT_MS }, resolve);
    r.on('timeout', () => r.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)));
    r.on('error', (err) => reject(errors.unavailable(`error trying to reach node ${nodeName}: ${err.message}`)));
    if (req && method !== 'GET' && method !== 'HEAD') req.pipe(r);
    else r.end();
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
