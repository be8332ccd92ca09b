// Proxies pods/log, pods/exec, pods/attach and pods/portforward to the node agent that runs the pod
// (agent/README-streaming.md has the contract): HTTPS to Node.status.addresses : daemonEndpoints.kubeletEndpoint.Port,
// authenticated with the API server's kubelet-client certificate. Upgrades are tunnelled byte for byte, except
// kubectl's SPDY port-forward, which the API server terminates and translates (portforward-tunnel.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import { ApiError, errors } from '../../api/errors.js';
import { acceptPortForwardTunnel, PORT_FORWARD_PROTOCOL, spdyPortForwardMode } from './portforward-tunnel.js';

/** What the proxy needs of a pod and of a node (plain stored objects). */
export interface ProxyPod {
  metadata: { name?: string; namespace?: string };
  spec?: { nodeName?: string; containers?: { name: string }[] };
}
export interface ProxyNode {
  status?: { addresses?: { type: string; address: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port: number } } };
}

export interface NodeProxyDeps {
  getPod(namespace: string, name: string): Promise<ProxyPod>;
  getNode(name: string): Promise<ProxyNode>;
  /** A client certificate signed by the cluster CA with CN kube-apiserver-kubelet-client (or O system:masters). */
  clientCert: { cert: string; key: string };
  /** CA that signed the agents' serving certificates; without it they are not verified (agents self-sign by default). */
  agentCA?: string;
}

interface Target {
  host: string;
  port: number;
  path: string;
}

const ADDRESS_PREFERENCE = ['InternalIP', 'ExternalIP', 'InternalDNS', 'Hostname', 'ExternalDNS'];

/** Where the node's agent listens: status.addresses (by preference) and daemonEndpoints.kubeletEndpoint.Port. */
export function agentEndpoint(nodeName: string, node: ProxyNode): { host: string; port: number } {
  const addrs = node.status?.addresses ?? [];
  const host = ADDRESS_PREFERENCE.map((t) => addrs.find((a) => a.type === t)?.address).find(Boolean);
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!host || !port) throw errors.unavailable(`node ${nodeName} has no agent endpoint (status.addresses / daemonEndpoints.kubeletEndpoint.Port)`);
  return { host, port };
}

/** Where the agent of the pod's node listens, and the agent path for the subresource. */
async function target(deps: NodeProxyDeps, namespace: string, name: string, sub: string, query: URLSearchParams): Promise<Target> {
  const pod = await deps.getPod(namespace, name);
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
  const { host, port } = agentEndpoint(nodeName, await deps.getNode(nodeName));
  const q = new URLSearchParams(query);
  const container = q.get('container') || pod.spec?.containers?.[0]?.name || '';
  q.delete('container');
  const enc = encodeURIComponent;
  const qs = q.toString() ? `?${q.toString()}` : '';
  switch (sub) {
    case 'log':
      return { host, port, path: `/containerLogs/${enc(namespace)}/${enc(name)}/${enc(container)}${qs}` };
    case 'exec':
    case 'attach':
      return { host, port, path: `/${sub}/${enc(namespace)}/${enc(name)}/${enc(container)}${qs}` };
    case 'portforward':
      return { host, port, path: `/portForward/${enc(namespace)}/${enc(name)}${qs}` };
    default:
      throw errors.badRequest(`pods/${sub} cannot be proxied to a node`);
  }
}

/** GET pods/log: streams the agent's answer (follow=true keeps it open) with headers flushed at once. */
export async function proxyPodLog(req: IncomingMessage, res: ServerResponse, namespace: string, name: string, query: URLSearchParams, deps: NodeProxyDeps): Promise<void> {
  const t = await target(deps, namespace, name, 'log', query);
  const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
    const r = httpsRequest(
      {
        host: t.host,
        port: t.port,
        path: t.path,
        method: 'GET',
        ...agentTls(deps),
      },
      resolve,
    );
    r.on('error', (err) => reject(errors.unavailable(`node agent ${t.host}:${t.port}: ${err.message}`)));
    r.end();
  });
  const code = upstream.statusCode ?? 502;
  if (code !== 200) {
    let body = '';
    for await (const c of upstream) body += (c as Buffer).toString();
    try {
      const st = JSON.parse(body) as { message?: string; reason?: string };
      throw new ApiError(code, (st.reason as ApiError['reason']) ?? 'InternalError', st.message ?? body);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(code, 'InternalError', body);
    }
  }
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  req.on('close', () => upstream.destroy());
  upstream.pipe(res);
}

/** TLS options for connections to an agent: our client certificate, and its CA when we have one. */
export function agentTls(deps: NodeProxyDeps): { cert: string; key: string; ca?: string; rejectUnauthorized?: boolean } {
  return { cert: deps.clientCert.cert, key: deps.clientCert.key, ...(deps.agentCA ? { ca: deps.agentCA } : { rejectUnauthorized: false }) };
}

/**
 * exec / attach / portforward upgrades: opens TLS to the agent, replays the client's upgrade request on the agent
 * path (same headers, so the agent's 101 answer carries the right Sec-WebSocket-Accept), then pipes both ways.
 * kubectl's port-forward speaks SPDY (in a WebSocket or not), which the agent does not: that one is answered here and
 * each forwarded connection gets its own agent WebSocket on /portForward?port=P.
 */
export async function proxyPodUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, namespace: string, name: string, sub: string, query: URLSearchParams, deps: NodeProxyDeps): Promise<void> {
  const t = await target(deps, namespace, name, sub, query);
  const spdy = sub === 'portforward' ? spdyPortForwardMode(req) : undefined;
  if (spdy) {
    const base = `wss://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}${t.path.split('?')[0] ?? ''}`;
    acceptPortForwardTunnel(req, socket, head, spdy, (port) => new WebSocket(`${base}?port=${port}`, [PORT_FORWARD_PROTOCOL], agentTls(deps)));
    return;
  }
  const upstream = tlsConnect({
    host: t.host,
    port: t.port,
    ...agentTls(deps),
    ...(/^[\d.]+$/.test(t.host) ? {} : { servername: t.host }),
  });
  await new Promise<void>((resolve, reject) => {
    upstream.once('secureConnect', () => resolve());
    upstream.once('error', (err) => reject(errors.unavailable(`node agent ${t.host}:${t.port}: ${err.message}`)));
  });
  // The client's credentials and impersonation are the API server's business: the agent sees the API server's own.
  const skip = new Set(['host', 'authorization', 'content-length', 'impersonate-user', 'impersonate-group', 'impersonate-uid']);
  const lines = [`GET ${t.path} HTTP/1.1`, `Host: ${t.host}:${t.port}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i] ?? '';
    if (!skip.has(k.toLowerCase()) && !k.toLowerCase().startsWith('impersonate-extra-')) lines.push(`${k}: ${req.rawHeaders[i + 1] ?? ''}`);
  }
  upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length) upstream.write(head);
  upstream.on('error', () => socket.destroy());
  socket.on('error', () => upstream.destroy());
  upstream.on('close', () => socket.destroy());
  socket.on('close', () => upstream.destroy());
  upstream.pipe(socket);
  socket.pipe(upstream);
}
