// Proxies pods/log, pods/exec, pods/attach and pods/portforward to the node agent that runs the pod
// (agent/README-streaming.md has the contract): HTTPS to Node.status.addresses : daemonEndpoints.kubeletEndpoint.Port,
// authenticated with the API server's kubelet-client certificate. The options are read as kube-apiserver reads them
// (stream-options.ts); upgrades end here, in whatever protocol the client speaks (channels.ts, remotecommand.ts,
// remotecommand-spdy.ts, portforward-tunnel.ts), and go on to the agent over a WebSocket of the server's own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ApiError, errors } from '../../api/errors.js';
import { type AgentAddressPolicy, agentLookup, checkAgentHost } from './agent-address.js';
import { EXEC_PROTOCOLS, isWebSocketUpgrade, negotiateChannelProtocol, PORT_FORWARD_PROTOCOLS, type ChannelProtocol } from './channels.js';
import { acceptPortForwardTunnel, PORT_FORWARD_PROTOCOL, spdyPortForwardMode } from './portforward-tunnel.js';
import { RemoteCommand, relayPortForward, toBuffer, webSocketCommandClient, type AgentStream } from './remotecommand.js';
import { isSpdyUpgrade, negotiateSpdyProtocol, SpdyCommandSession } from './remotecommand-spdy.js';
import { acceptSpdyUpgrade } from './spdy-session.js';
import { containerOf, execRequest, logRequest, portForwardPorts, type PodContainers } from './stream-options.js';

/** What the proxy needs of a pod and of a node (plain stored objects). */
export interface ProxyPod extends PodContainers {
  metadata: { name?: string; namespace?: string };
  spec?: PodContainers['spec'] & { nodeName?: string };
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
  /** Which agent addresses may be dialled (agent-address.ts); default: no loopback, never link-local. */
  addressPolicy?: AgentAddressPolicy;
}

const ADDRESS_PREFERENCE = ['InternalIP', 'ExternalIP', 'InternalDNS', 'Hostname', 'ExternalDNS'];

const policyOf = (deps: NodeProxyDeps): AgentAddressPolicy => deps.addressPolicy ?? { allowLoopback: false };

/**
 * Where the node's agent listens: status.addresses (by preference) and daemonEndpoints.kubeletEndpoint.Port. An
 * address the API server does not dial (agent-address.ts) is refused with a Status.
 */
export function agentEndpoint(nodeName: string, node: ProxyNode, deps: NodeProxyDeps): { host: string; port: number } {
  const addrs = node.status?.addresses ?? [];
  const host = ADDRESS_PREFERENCE.map((t) => addrs.find((a) => a.type === t)?.address).find(Boolean);
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!host || !port) throw errors.unavailable(`node ${nodeName} has no agent endpoint (status.addresses / daemonEndpoints.kubeletEndpoint.Port)`);
  checkAgentHost(nodeName, host, policyOf(deps));
  return { host, port };
}

/** The agent of the node a pod is bound to. */
async function agentOf(deps: NodeProxyDeps, pod: ProxyPod, name: string): Promise<{ host: string; port: number }> {
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
  return agentEndpoint(nodeName, await deps.getNode(nodeName), deps);
}

/** The pod's node agent, and the container the request names (kube's order of checks: the container, then the node). */
async function locate(deps: NodeProxyDeps, namespace: string, name: string, container: string | null): Promise<Target> {
  const pod = await deps.getPod(namespace, name);
  const c = containerOf(pod, container);
  return { ...(await agentOf(deps, pod, name)), container: c };
}

interface Target {
  host: string;
  port: number;
  container: string;
}

const enc = encodeURIComponent;
const withQuery = (path: string, q: URLSearchParams): string => (q.size ? `${path}?${q.toString()}` : path);

/** GET pods/log: streams the agent's answer (follow=true keeps it open) with headers flushed at once. */
export async function proxyPodLog(req: IncomingMessage, res: ServerResponse, namespace: string, name: string, query: URLSearchParams, deps: NodeProxyDeps): Promise<void> {
  const o = logRequest(query, name, Date.now());
  const t = await locate(deps, namespace, name, o.container);
  const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
    const r = httpsRequest(
      {
        host: t.host,
        port: t.port,
        path: withQuery(`/containerLogs/${enc(namespace)}/${enc(name)}/${enc(t.container)}`, o.agentQuery),
        method: 'GET',
        ...agentTls(deps, o.skipVerify),
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
    throw agentRefusal(code, body);
  }
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  req.on('close', () => upstream.destroy());
  upstream.pipe(res);
}

/** An agent's non-success answer as the ApiError the client gets: its Status when it sent one, its text otherwise. */
function agentRefusal(code: number, body: string): ApiError {
  try {
    const st = JSON.parse(body) as { message?: string; reason?: string };
    return new ApiError(code, (st.reason as ApiError['reason']) ?? 'InternalError', st.message ?? body);
  } catch {
    return new ApiError(code, code >= 500 ? 'InternalError' : 'BadRequest', body.trim());
  }
}

/** TLS options for connections to an agent: our client certificate, its CA when we have one, and the checked lookup. */
export function agentTls(deps: NodeProxyDeps, skipVerify = false): { cert: string; key: string; ca?: string; rejectUnauthorized?: boolean; lookup: ReturnType<typeof agentLookup> } {
  return { cert: deps.clientCert.cert, key: deps.clientCert.key, ...(deps.agentCA && !skipVerify ? { ca: deps.agentCA } : { rejectUnauthorized: false }), lookup: agentLookup(policyOf(deps)) };
}

/**
 * exec / attach / portforward upgrades. The API server ends the client's protocol (a WebSocket in any channel
 * protocol kube accepts, kubectl's SPDY port-forward, or SPDY exec and attach from older clients) and opens its own
 * WebSocket to the agent (v5.channel.k8s.io for exec and attach, the v4 port-forward framing), so that a refusal,
 * by this server or by the agent, is still an HTTP answer (a Status) when the client gets it.
 */
export async function proxyPodUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, namespace: string, name: string, sub: string, query: URLSearchParams, deps: NodeProxyDeps): Promise<void> {
  if (sub === 'portforward') return portForwardUpgrade(req, socket, head, namespace, name, query, deps);
  if (sub !== 'exec' && sub !== 'attach') throw errors.badRequest(`pods/${sub} cannot be proxied to a node`);
  // kube's order: the pod and its container (404, 400), then what the kubelet checks: the streams, the protocol.
  const t = await locate(deps, namespace, name, query.get('container'));
  const o = execRequest(query, sub);
  const ws = isWebSocketUpgrade(req);
  if (!ws && !isSpdyUpgrade(req)) throw errors.badRequest(`pods/${sub} needs a protocol upgrade (WebSocket or SPDY): Upgrade request required`);
  // The client's protocol is checked before anything is started for it.
  const protocol = ws ? negotiateChannelProtocol(req, EXEC_PROTOCOLS) : negotiateSpdyProtocol(req);
  const agent = await openAgentStream(agentUrl(t, `/${sub}/${enc(namespace)}/${enc(name)}/${enc(t.container)}`, o.agentQuery), EXEC_AGENT_PROTOCOL, deps);
  const session = new RemoteCommand(agent);
  if (typeof protocol === 'string') {
    acceptSpdyUpgrade(socket, head, protocol, (transport) => new SpdyCommandSession(transport, protocol, o.flags, session));
    return;
  }
  const client = await completeHandshake(req, socket, head, protocol, agent);
  session.attach(webSocketCommandClient(client, protocol, o.flags, session));
}

/** port-forward: kubectl's SPDY (in a WebSocket or not), or the WebSocket channel framing with ?ports=. */
async function portForwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, namespace: string, name: string, query: URLSearchParams, deps: NodeProxyDeps): Promise<void> {
  // kube's order: the options decoded (a malformed port is 400), the pod and its node, then the kubelet's checks.
  const ports = portForwardPorts(query);
  const t = await agentOf(deps, await deps.getPod(namespace, name), name);
  const path = `/portForward/${enc(namespace)}/${enc(name)}`;
  const spdy = spdyPortForwardMode(req);
  if (spdy) {
    acceptPortForwardTunnel(req, socket, head, spdy, (port) => new WebSocket(agentUrl(t, path, new URLSearchParams({ port: String(port) })), [PORT_FORWARD_PROTOCOL], agentTls(deps)));
    return;
  }
  if (!isWebSocketUpgrade(req)) throw errors.badRequest('pods/portforward needs a protocol upgrade (WebSocket or SPDY): Upgrade request required');
  // Over WebSocket the ports travel in no other place (the kubelet's NewV4Options).
  if (!ports.length) throw errors.badRequest('query parameter "ports" is required');
  const protocol = negotiateChannelProtocol(req, PORT_FORWARD_PROTOCOLS);
  const agentQuery = new URLSearchParams();
  for (const p of ports) agentQuery.append('port', String(p));
  const agent = await openAgentStream(agentUrl(t, path, agentQuery), PORT_FORWARD_PROTOCOL, deps);
  relayPortForward(await completeHandshake(req, socket, head, protocol, agent), protocol, agent);
}

/** The agent speaks v5 for exec and attach: stdin's end is a message of its own. */
const EXEC_AGENT_PROTOCOL = 'v5.channel.k8s.io';
const AGENT_HANDSHAKE_MS = 30_000;

function agentUrl(t: { host: string; port: number }, path: string, q: URLSearchParams): string {
  return withQuery(`wss://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}${path}`, q);
}

/**
 * Opens the agent's WebSocket and waits for it to be up; what it sends before a session takes it over is kept. A
 * refusal is the agent's Status as an ApiError; an agent out of reach is 503.
 */
function openAgentStream(url: string, protocol: string, deps: NodeProxyDeps): Promise<AgentStream> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [protocol], { ...agentTls(deps), handshakeTimeout: AGENT_HANDSHAKE_MS, perMessageDeflate: false });
    const early: Buffer[] = [];
    const keep = (d: RawData): void => void early.push(toBuffer(d));
    ws.on('message', keep);
    ws.once('open', () =>
      resolve({
        ws,
        take: () => {
          ws.off('message', keep);
          return early.splice(0);
        },
      }),
    );
    ws.once('unexpected-response', (_r, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(agentRefusal(res.statusCode ?? 502, body)));
      res.on('error', (err) => reject(errors.unavailable(`node agent: ${err.message}`)));
    });
    ws.once('error', (err) => reject(errors.unavailable(`node agent ${new URL(url).host}: ${err.message}`)));
  });
}

/** The WebSocket server that completes clients' handshakes with the protocol negotiated for them. */
const chosen = new WeakMap<IncomingMessage, string>();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (_offered, req) => chosen.get(req) ?? false });

/** 101 to the client; if its handshake fails (ws answers that itself), the agent's side is closed too. */
function completeHandshake(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: ChannelProtocol, agent: AgentStream): Promise<WebSocket> {
  chosen.set(req, protocol.name);
  return new Promise((resolve, reject) => {
    const failed = (): void => {
      agent.ws.terminate();
      reject(errors.badRequest('the connection closed before the WebSocket handshake completed'));
    };
    socket.once('close', failed);
    wss.handleUpgrade(req, socket, head, (client) => {
      socket.off('close', failed);
      resolve(client);
    });
  });
}
