// exec, attach, logs and port-forward as every client speaks them, through a real API server to a real node agent
// (runc, busybox from a real registry): the Python client (python3-kubernetes: v4.channel.k8s.io, ?ports=), the Node
// client (@kubernetes/client-node: v5.channel.k8s.io first), raw WebSockets in each channel protocol kube-apiserver
// accepts, kubectl over SPDY (what kubectl and client-go before 1.30 use) and over WebSocket v5 (1.32). Needs root,
// runc, iproute2 and docker-registry.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type * as K8s from '@kubernetes/client-node';
import { WebSocket } from 'ws';
import type { Node, Pod } from '../../api/index.js';
import { startAgent, type Agent } from '../../agent/index.js';
import { NODES, PODS } from '../../agent/resources.js';
import type { ResourceClient } from '../../client/index.js';
import { runPython } from '../clients/python.js';
import { startAgentEnv, type AgentEnv } from '../support/agent-env.js';
import { nodeCredentialFiles } from '../support/node-credentials.js';
import { waitFor } from '../support/util.js';

const NODE = 'clients-node';
const POD_CIDR = '10.252.11.0/24';
const BRIDGE = 'ketchcli0';
const POD = 'shell';
const SUCCESS = '{"metadata":{},"status":"Success"}';

/** What a WebSocket session with the API server gave: the protocol the server chose, each channel's bytes, the close. */
interface Session {
  protocol: string;
  channels: Map<number, Buffer>;
  /** The first message: kube's empty "connection established" message on the lowest channel the client reads. */
  first: { channel: number; length: number } | undefined;
  closeCode: number;
}

describe('exec, attach, logs and port-forward for every client (API server + node agent)', function () {
  this.timeout(120_000);
  let env: AgentEnv;
  let agent: Agent;
  let pods: ResourceClient<Pod>;
  let home: string;

  before(async () => {
    env = await startAgentEnv('clients', BRIDGE);
    const { cluster, image, root } = env;
    home = await mkdtemp(join(tmpdir(), 'ketch-clients-home-'));
    pods = cluster.rest.resource<Pod>(PODS);
    // A serving certificate of the cluster CA: the API server verifies the agent it streams to.
    const creds = await nodeCredentialFiles(cluster.dataDir, NODE);
    agent = await startAgent({ rest: cluster.rest, nodeName: NODE, rootDir: join(root, 'a'), port: 0, runtimeBridge: BRIDGE, syncIntervalMs: 250, tlsCertFile: creds.tlsCertFile, tlsKeyFile: creds.tlsKeyFile });
    await cluster.rest.resource<Node>(NODES).patch(undefined, NODE, { spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] } });
    await pods.create('default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: POD, namespace: 'default' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 0,
        containers: [
          { name: 'main', image, command: ['/bin/sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'] },
          { name: 'web', image, command: ['/bin/sh', '-c', 'mkdir -p /www && echo forwarded-page > /www/index.html && exec httpd -f -p 8080 -h /www'] },
        ],
      },
    } as Pod);
    await waitFor(async () => (await pods.get('default', POD)).status?.containerStatuses?.every((c) => c.state?.running) === true, { timeoutMs: 60_000, what: 'both containers running' });
  });

  after(async () => {
    if (agent) {
      // The agent stops the pod and removes the object; then nothing of it is left for the agent to stop.
      await pods.delete('default', POD, { gracePeriodSeconds: 0 }).catch(() => undefined);
      await waitFor(async () => !(await pods.get('default', POD).catch(() => undefined)), { timeoutMs: 30_000, what: 'the pod removed by the agent' }).catch(() => undefined);
      await agent.stop();
    }
    await env?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const kubeconfig = (): string => env.cluster.api.adminKubeconfigPath;
  const tls = (): { ca: string; cert?: string; key?: string } => ({ ca: env.cluster.api.caCertPem, cert: env.cluster.rest.config.cert, key: env.cluster.rest.config.key });
  const podPath = (sub: string, query: string): string => `/api/v1/namespaces/default/pods/${POD}/${sub}?${query}`;
  const execQuery = (cmd: string[], streams = 'stdout=true&stderr=true', container = 'main'): string =>
    `${cmd.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&container=${container}&${streams}`;

  /** A WebSocket session: `protocols` offered (none: no header), `onOpen` sends what the client sends. */
  const session = (path: string, protocols: string[] | undefined, onOpen: (ws: WebSocket, base64: boolean) => void = () => undefined): Promise<Session> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${env.cluster.api.port}${path}`, protocols ?? [], tls());
      const channels = new Map<number, Buffer>();
      let first: Session['first'];
      ws.on('open', () => onOpen(ws, ws.protocol.includes('base64')));
      ws.on('message', (data: Buffer, binary: boolean) => {
        // base64 protocols: a text message, the channel as an ASCII digit, then base64.
        const channel = binary ? data[0]! : data[0]! - 48;
        const payload = binary ? data.subarray(1) : Buffer.from(data.subarray(1).toString(), 'base64');
        first ??= { channel, length: payload.length };
        channels.set(channel, Buffer.concat([channels.get(channel) ?? Buffer.alloc(0), payload]));
      });
      ws.on('close', (code) => resolve({ protocol: ws.protocol, channels, first, closeCode: code }));
      ws.on('error', reject);
    });
  const text = (s: Session, channel: number): string => s.channels.get(channel)?.toString() ?? '';
  /** A client message in the session's protocol. */
  const frame = (base64: boolean, channel: number, data: string): Buffer | string =>
    base64 ? String.fromCharCode(48 + channel) + Buffer.from(data).toString('base64') : Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);

  const kubectl = (args: string[], extraEnv: NodeJS.ProcessEnv = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = execFile('kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig(), HOME: home, KUBECACHEDIR: join(home, 'cache'), ...extraEnv }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(input ?? '');
    });

  /** An upgrade request that the server refuses: the status and the body it answers with. */
  const rawUpgrade = (path: string, protocol: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: env.cluster.api.port,
        path,
        ...tls(),
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': protocol },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, body: '' });
      });
      req.on('error', reject);
      req.end();
    });

  describe('the Python client', () => {
    it('exec (v4.channel.k8s.io): the output and a Success Status on the error channel', async () => {
      const r = await runPython<{ stdout: string; stderr: string; error: string; returncode: number }>('exec.py', [kubeconfig(), 'default', POD, 'main', JSON.stringify(['sh', '-c', 'echo out; echo err >&2'])]);
      assert.deepEqual(r, { stdout: 'out\n', stderr: 'err\n', error: SUCCESS, returncode: 0 });
    });

    it('exec (v4.channel.k8s.io): a non-zero exit is a NonZeroExitCode Status with the code as its cause', async () => {
      const r = await runPython<{ stdout: string; error: string; returncode: number }>('exec.py', [kubeconfig(), 'default', POD, 'main', JSON.stringify(['sh', '-c', 'echo before; exit 3'])]);
      assert.equal(r.stdout, 'before\n');
      assert.equal(r.returncode, 3);
      const st = JSON.parse(r.error) as Record<string, unknown>;
      assert.deepEqual([st.status, st.reason, st.details], ['Failure', 'NonZeroExitCode', { causes: [{ reason: 'ExitCode', message: '3' }] }]);
    });

    it('attach (v4.channel.k8s.io): the output of the running process', async () => {
      const r = await runPython<{ stdout: string; openWhileAttached: boolean }>('attach.py', [kubeconfig(), 'default', POD, 'main', 'tick']);
      assert.match(r.stdout, /^tick \d+$/m);
      assert.equal(r.openWhileAttached, true);
    });

    it('an exec WebSocket offering only an unknown subprotocol: 400 with a Status, before anything is started', async () => {
      const r = await runPython<{ handshake: number; status: number; body: string }>('subprotocol.py', [kubeconfig(), 'default', POD]);
      assert.equal(r.handshake, 400);
      assert.equal(r.status, 400);
      const st = JSON.parse(r.body) as { kind: string; reason: string; code: number; message: string };
      assert.deepEqual([st.kind, st.reason, st.code], ['Status', 'BadRequest', 400]);
      assert.match(st.message, /^requested protocol\(s\) are not supported: \[v9\.channel\.example\.com\]; supports \[v5\.channel\.k8s\.io v4\.channel\.k8s\.io /);
    });

    it('port-forward (WebSocket, ?ports=): an HTTP request to the pod\'s port', async () => {
      const r = await runPython<{ statusLine: string; body: string; error: string | null }>('portforward.py', [kubeconfig(), 'default', POD, '8080', '/index.html']);
      assert.match(r.statusLine, /^HTTP\/1\.[01] 200/);
      assert.equal(r.body, 'forwarded-page\n');
      assert.equal(r.error, null);
    });
  });

  describe('the Node client (@kubernetes/client-node: offers v5 to channel.k8s.io, ?ports=)', () => {
    let k8s: typeof K8s;
    let kc: K8s.KubeConfig;
    before(async () => {
      k8s = await import('@kubernetes/client-node');
      kc = new k8s.KubeConfig();
      kc.loadFromFile(kubeconfig());
    });

    /** A stream that keeps what is written to it; `until` resolves once the text matches (or rejects at the deadline). */
    const sink = (): { stream: PassThrough; text: () => string; until: (re: RegExp) => Promise<void> } => {
      const stream = new PassThrough();
      let seen = '';
      const waiters: { re: RegExp; resolve: () => void }[] = [];
      stream.on('data', (c: Buffer) => {
        seen += c.toString();
        for (const w of waiters.filter((x) => x.re.test(seen))) w.resolve();
      });
      const until = (re: RegExp): Promise<void> =>
        re.test(seen)
          ? Promise.resolve()
          : new Promise((resolve, reject) => {
              const t = setTimeout(() => reject(new Error(`never saw ${re}: ${JSON.stringify(seen)}`)), 20_000);
              waiters.push({ re, resolve: () => (clearTimeout(t), resolve()) });
            });
      return { stream, text: () => seen, until };
    };
    const closed = (ws: WebSocket): Promise<void> => new Promise((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve())));

    it('exec: stdout, stderr, stdin ended by v5\'s close message, and the Status (Success, NonZeroExitCode) to the callback', async () => {
      const exec = new k8s.Exec(kc);
      const run = async (command: string[], input?: string): Promise<{ out: string; err: string; status: K8s.V1Status | undefined; protocol: string }> => {
        const out = sink();
        const err = sink();
        let status: K8s.V1Status | undefined;
        const ws = (await exec.exec('default', POD, 'main', command, out.stream, err.stream, input === undefined ? null : Readable.from([input]), false, (s) => (status = s))) as unknown as WebSocket;
        await closed(ws);
        return { out: out.text(), err: err.text(), status, protocol: ws.protocol };
      };
      const ok = await run(['sh', '-c', 'echo out; echo err >&2']);
      assert.deepEqual(ok, { out: 'out\n', err: 'err\n', status: { metadata: {}, status: 'Success' }, protocol: 'v5.channel.k8s.io' });
      const failed = await run(['sh', '-c', 'exit 6']);
      assert.deepEqual([failed.status?.reason, failed.status?.details], ['NonZeroExitCode', { causes: [{ reason: 'ExitCode', message: '6' }] }]);
      const cat = await run(['cat'], 'from node\n');
      assert.equal(cat.out, 'from node\n');
      assert.equal(cat.status?.status, 'Success');
    });

    it('attach: the output of the running process', async () => {
      const out = sink();
      const ws = (await new k8s.Attach(kc).attach('default', POD, 'main', out.stream, null, null, false)) as unknown as WebSocket;
      await out.until(/tick \d+\n/);
      assert.equal(ws.readyState, ws.OPEN);
      ws.close(1000);
      await closed(ws);
    });

    it('port-forward: an HTTP request to the pod\'s port', async () => {
      const out = sink();
      const err = sink();
      const input = new PassThrough();
      const ws = (await new k8s.PortForward(kc).portForward('default', POD, [8080], out.stream, err.stream, input)) as unknown as WebSocket;
      input.write('GET /index.html HTTP/1.0\r\n\r\n');
      await out.until(/forwarded-page\n$/);
      assert.match(out.text(), /^HTTP\/1\.[01] 200/);
      assert.equal(err.text(), '');
      ws.close(1000);
      await closed(ws);
    });
  });

  describe('exec over each WebSocket channel protocol', () => {
    const protocols: { offer: string[] | undefined; chosen: string; jsonStatus: boolean }[] = [
      { offer: ['v5.channel.k8s.io'], chosen: 'v5.channel.k8s.io', jsonStatus: true },
      { offer: ['v4.channel.k8s.io'], chosen: 'v4.channel.k8s.io', jsonStatus: true },
      { offer: ['v4.base64.channel.k8s.io'], chosen: 'v4.base64.channel.k8s.io', jsonStatus: true },
      { offer: ['v3.channel.k8s.io'], chosen: 'v3.channel.k8s.io', jsonStatus: false },
      { offer: ['v2.channel.k8s.io'], chosen: 'v2.channel.k8s.io', jsonStatus: false },
      { offer: ['channel.k8s.io'], chosen: 'channel.k8s.io', jsonStatus: false },
      { offer: ['base64.channel.k8s.io'], chosen: 'base64.channel.k8s.io', jsonStatus: false },
      { offer: ['x.example.com', 'v4.channel.k8s.io', 'channel.k8s.io'], chosen: 'v4.channel.k8s.io', jsonStatus: true },
      { offer: undefined, chosen: '', jsonStatus: false },
    ];
    for (const p of protocols) {
      it(`${p.offer ? p.offer.join(', ') : 'no subprotocol'}: output, stdin, and the exit status as ${p.jsonStatus ? 'a JSON Status' : 'a message (none on success)'}`, async () => {
        const ok = await session(podPath('exec', execQuery(['sh', '-c', 'echo out; echo err >&2'])), p.offer);
        assert.equal(ok.protocol, p.chosen);
        assert.deepEqual(ok.first, { channel: 1, length: 0 }, 'an empty message on stdout first');
        assert.equal(text(ok, 1), 'out\n');
        assert.equal(text(ok, 2), 'err\n');
        assert.equal(text(ok, 3), p.jsonStatus ? SUCCESS : '');
        assert.equal(ok.closeCode, 1000);

        const failed = await session(podPath('exec', execQuery(['sh', '-c', 'exit 7'])), p.offer);
        if (p.jsonStatus) {
          const st = JSON.parse(text(failed, 3)) as Record<string, unknown>;
          assert.deepEqual([st.reason, st.details], ['NonZeroExitCode', { causes: [{ reason: 'ExitCode', message: '7' }] }]);
        } else assert.match(text(failed, 3), /^command terminated with non-zero exit code.*7/);

        // stdin: head reads five bytes and exits (v5 could also close stdin; the older protocols cannot).
        const input = await session(podPath('exec', execQuery(['head', '-c', '5'], 'stdin=true&stdout=true')), p.offer, (ws, base64) => ws.send(frame(base64, 0, 'hello, world')));
        assert.equal(text(input, 1), 'hello');
      });
    }

    it('v5.channel.k8s.io: the close message for channel 0 ends stdin', async () => {
      const s = await session(podPath('exec', execQuery(['cat'], 'stdin=true&stdout=true')), ['v5.channel.k8s.io'], (ws) => {
        ws.send(frame(false, 0, 'all of it\n'));
        ws.send(Buffer.from([255, 0]));
      });
      assert.equal(text(s, 1), 'all of it\n');
      assert.equal(text(s, 3), SUCCESS);
    });

    it('v3.channel.k8s.io: the resize channel sizes the terminal', async () => {
      const s = await session(podPath('exec', execQuery(['stty', 'size'], 'stdout=true&tty=true')), ['v3.channel.k8s.io'], (ws) => ws.send(frame(false, 4, '{"Width":100,"Height":30}\n')));
      assert.equal(text(s, 1).trim(), '30 100');
    });

    it('the container must be named when the pod has several (kube\'s message), and must be one of them', async () => {
      const none = await rawUpgrade(podPath('exec', 'command=true&stdout=true'), 'v4.channel.k8s.io');
      assert.equal(none.status, 400);
      assert.equal(JSON.parse(none.body).message, `a container name must be specified for pod ${POD}, choose one of: [main web]`);
      const wrong = await rawUpgrade(podPath('exec', 'command=true&stdout=true&container=nope'), 'v4.channel.k8s.io');
      assert.equal(JSON.parse(wrong.body).message, `container nope is not valid for pod ${POD}`);
      const noStream = await rawUpgrade(podPath('exec', 'command=true&container=main&stdout=false'), 'v4.channel.k8s.io');
      assert.equal(JSON.parse(noStream.body).message, 'you must specify at least 1 of stdin, stdout, stderr');
    });
  });

  it('attach over v4.channel.k8s.io and base64.channel.k8s.io: the process\'s output', async () => {
    for (const protocol of ['v4.channel.k8s.io', 'base64.channel.k8s.io']) {
      const s = await session(podPath('attach', 'container=main&stdout=true&stderr=true'), [protocol], (ws) => {
        ws.on('message', () => {
          // The ticks come once a second: the first one is enough.
          if (ws.readyState === ws.OPEN) ws.close(1000);
        });
      });
      assert.equal(s.protocol, protocol);
      assert.deepEqual(s.first, { channel: 1, length: 0 });
    }
    const out = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${env.cluster.api.port}${podPath('attach', 'container=main&stdout=True')}`, ['base64.channel.k8s.io'], tls());
      let seen = '';
      ws.on('message', (d: Buffer) => {
        seen += Buffer.from(d.subarray(1).toString(), 'base64').toString();
        if (/tick \d+\n/.test(seen)) ws.close(1000);
      });
      ws.on('close', () => resolve(seen));
      ws.on('error', reject);
    });
    assert.match(out, /tick \d+\n/);
  });

  it('port-forward over WebSocket (v4.channel.k8s.io, its base64 form, portforward.k8s.io): the port opens each channel, then the bytes', async () => {
    for (const protocol of ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'portforward.k8s.io']) {
      const base64 = protocol.includes('base64');
      const opening: Buffer[] = [];
      const s = await session(podPath('portforward', 'ports=8080'), [protocol], (ws) => {
        ws.on('message', (d: Buffer, binary: boolean) => {
          const payload = binary ? d.subarray(1) : Buffer.from(d.subarray(1).toString(), 'base64');
          if (opening.length < 2) {
            opening.push(payload);
            if (opening.length === 2) ws.send(frame(base64, 0, 'GET /index.html HTTP/1.0\r\n\r\n'));
          }
        });
      });
      assert.equal(s.protocol, protocol);
      assert.deepEqual(opening.map((b) => b.readUInt16LE(0)), [8080, 8080], 'data and error channel open with the port');
      const data = text(s, 0).slice(2);
      assert.match(data, /^HTTP\/1\.[01] 200/, protocol);
      assert.match(data, /forwarded-page\n$/);
    }
    const missing = await rawUpgrade(podPath('portforward', ''), 'v4.channel.k8s.io');
    assert.deepEqual([missing.status, JSON.parse(missing.body).message], [400, 'query parameter "ports" is required']);
    const bad = await rawUpgrade(podPath('portforward', 'ports=http'), 'v4.channel.k8s.io');
    assert.equal(JSON.parse(bad.body).message, 'cannot convert to []int32: strconv.ParseUint: parsing "http": invalid syntax');
  });

  it('logs: follow, timestamps and tailLines as any client writes them (True, +1), bad values as kube refuses them', async () => {
    const get = (query: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: env.cluster.api.port, path: podPath('log', query), ...tls() }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
            // follow=True keeps the stream open: two lines are enough.
            if (body.split('\n').length > 2) req.destroy();
          });
          const done = (): void => resolve({ status: res.statusCode ?? 0, body });
          res.on('end', done);
          res.on('close', done);
        });
        req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
        req.end();
      });
    const tail = await get('container=main&tailLines=%2B1&timestamps=True');
    assert.equal(tail.status, 200, tail.body);
    assert.match(tail.body, /^\d{4}-\d\d-\d\dT[\d:.]+Z tick \d+\n$/);
    const followed = await get('container=main&follow=True&tailLines=1');
    assert.ok(followed.body.split('\n').length > 2, `more lines came while following: ${JSON.stringify(followed.body)}`);
    const invalid = await get('container=main&tailLines=-1');
    assert.equal(invalid.status, 422);
    assert.equal(JSON.parse(invalid.body).message, `PodLogOptions "${POD}" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0`);
    const syntax = await get('container=main&tailLines=1.5');
    assert.deepEqual([syntax.status, JSON.parse(syntax.body).message], [400, 'strconv.ParseInt: parsing "1.5": invalid syntax']);
  });

  describe('kubectl', () => {
    it('over SPDY, as kubectl and client-go before 1.30 exec: output, stdin and the exit code', async () => {
      const spdy = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' };
      const r = await kubectl(['exec', POD, '-c', 'main', '--', 'sh', '-c', 'echo over-spdy; echo to-stderr >&2; exit 4'], spdy);
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stdout, 'over-spdy\n');
      assert.match(r.stderr, /to-stderr\n[\s\S]*command terminated with exit code 4/);
      const cat = await kubectl(['exec', '-i', POD, '-c', 'main', '--', 'cat'], spdy, 'spdy stdin\n');
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, 'spdy stdin\n');
    });

    it('over WebSocket v5 (1.32): output, stdin and the exit code', async () => {
      const r = await kubectl(['exec', POD, '-c', 'main', '--', 'sh', '-c', 'echo over-websocket; exit 5']);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, 'over-websocket\n');
      const cat = await kubectl(['exec', '-i', POD, '-c', 'main', '--', 'cat'], {}, 'websocket stdin\n');
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, 'websocket stdin\n');
    });
  });
});
