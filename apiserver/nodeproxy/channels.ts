// The WebSocket channel protocols of pods/exec, attach and portforward, as kube-apiserver and the kubelet accept them
// (apiserver's util/wsstream, kubelet's cri/streaming websocket.go): each message is one channel's data, named by a
// leading byte (binary protocols) or a leading ASCII digit before base64 text (the base64 ones). The API server ends
// the client's WebSocket here and speaks v5.channel.k8s.io to the node agent, so every client protocol is served the
// same way.
import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { errors } from '../../api/errors.js';

export interface ChannelProtocol {
  /** '' when the client offered no subprotocol (kubelet serves that as binary channel.k8s.io). */
  name: string;
  binary: boolean;
  /** v4 and later: the error channel carries a JSON Status (exit codes); before, the message of a failure alone. */
  jsonStatus: boolean;
  /** v5: a [255, channel] message closes that channel (stdin's end). */
  streamClose: boolean;
}

const protocol = (name: string, binary: boolean, jsonStatus: boolean, streamClose = false): ChannelProtocol => ({ name, binary, jsonStatus, streamClose });

/** exec and attach: kube-apiserver's v5 translator, the kubelet's v4 and pre-v4 ones, v3/v2 as older clients name them. */
export const EXEC_PROTOCOLS: readonly ChannelProtocol[] = [
  protocol('v5.channel.k8s.io', true, true, true),
  protocol('v4.channel.k8s.io', true, true),
  protocol('v4.base64.channel.k8s.io', false, true),
  protocol('v3.channel.k8s.io', true, false),
  protocol('v2.channel.k8s.io', true, false),
  protocol('channel.k8s.io', true, false),
  protocol('base64.channel.k8s.io', false, false),
];

/** portforward: the kubelet's v4 framing (a data and an error channel per port), also under portforward.k8s.io. */
export const PORT_FORWARD_PROTOCOLS: readonly ChannelProtocol[] = [
  protocol('v4.channel.k8s.io', true, true),
  protocol('v4.base64.channel.k8s.io', false, true),
  protocol('portforward.k8s.io', true, true),
];

const NONE_OFFERED = protocol('', true, false);

/** Channels of exec and attach. */
export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** The subprotocols a WebSocket request offers, in its order. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const v = req.headers['sec-websocket-protocol'];
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * wsstream's handshake: the first offered subprotocol the server has; none offered is the unnamed binary protocol;
 * offers of which none is known are the client's error (400, where the kubelet's Go WebSocket library says 403).
 * A request that is no valid WebSocket handshake is refused here too, before anything is opened for it.
 */
export function negotiateChannelProtocol(req: IncomingMessage, supported: readonly ChannelProtocol[]): ChannelProtocol {
  if (!req.headers['sec-websocket-key'] || req.headers['sec-websocket-version'] !== '13') {
    throw errors.badRequest('a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13');
  }
  const offered = offeredProtocols(req);
  if (!offered.length) return NONE_OFFERED;
  for (const name of offered) {
    const p = supported.find((s) => s.name === name);
    if (p) return p;
  }
  throw errors.badRequest(`requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${supported.map((s) => s.name).join(' ')}]`);
}

/** One message of channel `channel` in the protocol's encoding. */
export function encodeFrame(p: ChannelProtocol, channel: number, data: Buffer): Buffer | string {
  if (!p.binary) return String.fromCharCode(48 + channel) + data.toString('base64');
  const frame = Buffer.allocUnsafe(data.length + 1);
  frame[0] = channel;
  data.copy(frame, 1);
  return frame;
}

/** A client message as (channel, data); undefined for an empty message, or base64 that does not decode. */
export function decodeFrame(p: ChannelProtocol, data: RawData): { channel: number; data: Buffer } | undefined {
  const b = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  if (!b.length) return undefined;
  if (p.binary) return { channel: b[0]!, data: b.subarray(1) };
  const channel = b[0]! - 48;
  const text = b.subarray(1).toString('latin1');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return { channel, data: Buffer.from(text, 'base64') };
}

/**
 * Sends one channel message to the client; `done` runs once it is written. Messages written while the socket is
 * closing are dropped (done still runs, so that what counts pending bytes does not wait for them).
 */
export function sendFrame(ws: WebSocket, p: ChannelProtocol, channel: number, data: Buffer, done: () => void = () => undefined): void {
  if (ws.readyState !== ws.OPEN) {
    done();
    return;
  }
  ws.send(encodeFrame(p, channel, data), { binary: p.binary }, () => done());
}
