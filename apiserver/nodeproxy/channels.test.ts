import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../../api/errors.js';
import { decodeFrame, encodeFrame, EXEC_PROTOCOLS, negotiateChannelProtocol, PORT_FORWARD_PROTOCOLS } from './channels.js';
import { statusText } from './remotecommand.js';

const upgrade = (protocol?: string, extra: Record<string, string> = {}): IncomingMessage =>
  ({ headers: { upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...(protocol !== undefined ? { 'sec-websocket-protocol': protocol } : {}), ...extra } }) as unknown as IncomingMessage;

describe('WebSocket channel protocols', () => {
  it('picks the first offered protocol the server speaks; none offered is binary channel.k8s.io', () => {
    assert.equal(negotiateChannelProtocol(upgrade('v5.channel.k8s.io'), EXEC_PROTOCOLS).name, 'v5.channel.k8s.io');
    assert.equal(negotiateChannelProtocol(upgrade('foo, v4.base64.channel.k8s.io, v5.channel.k8s.io'), EXEC_PROTOCOLS).name, 'v4.base64.channel.k8s.io');
    const none = negotiateChannelProtocol(upgrade(), EXEC_PROTOCOLS);
    assert.deepEqual([none.name, none.binary, none.jsonStatus], ['', true, false]);
    assert.equal(negotiateChannelProtocol(upgrade('portforward.k8s.io'), PORT_FORWARD_PROTOCOLS).name, 'portforward.k8s.io');
  });

  it('refuses unknown protocols and broken handshakes with 400', () => {
    const refused = (req: IncomingMessage, message: RegExp, protocols = EXEC_PROTOCOLS): void =>
      assert.throws(() => negotiateChannelProtocol(req, protocols), (e: unknown) => e instanceof ApiError && e.code === 400 && message.test(e.message));
    refused(upgrade('v9.channel.k8s.io, x'), /^requested protocol\(s\) are not supported: \[v9\.channel\.k8s\.io x\]; supports \[v5\.channel\.k8s\.io /);
    refused(upgrade('v5.channel.k8s.io'), /supports \[v4\.channel\.k8s\.io v4\.base64\.channel\.k8s\.io portforward\.k8s\.io\]/, PORT_FORWARD_PROTOCOLS);
    refused(upgrade('v4.channel.k8s.io', { 'sec-websocket-version': '8' }), /Sec-WebSocket-Version: 13/);
  });

  it('frames binary channels with a leading byte and base64 ones with an ASCII digit, both ways', () => {
    const [v4, b64] = [EXEC_PROTOCOLS[1]!, EXEC_PROTOCOLS[2]!];
    assert.deepEqual(encodeFrame(v4, 1, Buffer.from('hi')), Buffer.from([1, 104, 105]));
    assert.equal(encodeFrame(b64, 2, Buffer.from('hi')), '2aGk=');
    assert.equal(encodeFrame(b64, 1, Buffer.alloc(0)), '1');
    assert.deepEqual(decodeFrame(v4, Buffer.from([0, 120])), { channel: 0, data: Buffer.from('x') });
    assert.deepEqual(decodeFrame(b64, Buffer.from('0eA==')), { channel: 0, data: Buffer.from('x') });
    assert.equal(decodeFrame(b64, Buffer.from('0not base64!')), undefined);
    assert.equal(decodeFrame(v4, Buffer.alloc(0)), undefined);
  });

  it('writes the error channel of protocols before v4 as the message of a failure, nothing for a success', () => {
    assert.equal(statusText(Buffer.from('{"metadata":{},"status":"Success"}')), undefined);
    assert.equal(statusText(Buffer.from('{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: 3","reason":"NonZeroExitCode"}'))?.toString(), 'command terminated with non-zero exit code: 3');
    assert.equal(statusText(Buffer.from('plain text'))?.toString(), 'plain text');
  });
});
