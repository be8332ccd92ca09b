// The node agent end to end (issue 7), as separate processes: `ketch server` and `ketch agent` (with its built-in
// runtime), driven by the real kubectl: a two-container pod on localhost and an emptyDir, reachable from the host;
// `logs -f` and `attach` stream; `exec` passes the exit code; an agent restart leaves running containers alone.
// test/agent/agent.test.ts covers the rest of the agent in-process.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBusyboxMirror } from '../support/local-registry.js';
import { freePort, waitFor } from '../support/util.js';
import { bridgeOf, Clients, leftovers, removeBridgeAndDir, startKetch, type KetchProcess } from './cluster.js';

const NODE = 'e2e-agent-node';
const CLUSTER_CIDR = '10.62.0.0/16';

describe('node agent (e2e: ketch server + ketch agent, kubectl)', function () {
  this.timeout(180_000);
  let dir: string;
  let mirror: Awaited<ReturnType<typeof startBusyboxMirror>> | undefined;
  let server: KetchProcess | undefined;
  let agent: KetchProcess | undefined;
  let c: Clients;
  const runtimeRoot = (): string => join(dir, 'agent', 'runtime');

  const startAgent = async (): Promise<KetchProcess> =>
    startKetch(
      ['agent', '--kubeconfig', c.kubeconfig, '--node-name', NODE, '--root-dir', join(dir, 'agent'), '--port', '0', '--address', '127.0.0.1', '--node-ip', '127.0.0.1', '--registry-mirror', `docker.io=${mirror!.url}`],
      'agent API on port',
    );

  const apply = async (name: string, yaml: string): Promise<void> => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    await c.kubectl('apply', '-f', file);
  };

  const jsonpath = (pod: string, path: string): Promise<string> => c.kubectl('get', 'pod', pod, '-o', `jsonpath=${path}`);

  const waitRunning = async (pod: string): Promise<void> => {
    await c.kubectl('wait', `pod/${pod}`, '--for=condition=Ready', '--timeout=60s');
  };

  /** Reads a child's output until check() holds, then kills it. */
  const streamUntil = async (s: { proc: ChildProcess; output: () => string }, check: (out: string) => boolean, what: string): Promise<string> => {
    try {
      return await waitFor(() => (check(s.output()) ? s.output() : undefined), { timeoutMs: 20_000, what: `${what} (got: ${JSON.stringify(s.output())})` });
    } finally {
      s.proc.kill('SIGTERM');
    }
  };

  const ticks = (out: string): number[] => [...out.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('these tests run containers and must run as root (CI does)');
    dir = mkdtempSync(join(tmpdir(), 'ketch-e2e-agent-'));
    mirror = await startBusyboxMirror();
    const port = await freePort();
    server = await startKetch(['server', '--data-dir', join(dir, 'server'), '--secure-port', String(port), '--bind-address', '127.0.0.1', '--cluster-cidr', CLUSTER_CIDR], 'ketch server is up');
    c = new Clients(join(dir, 'server', 'admin.kubeconfig'), dir);
    agent = await startAgent();
    await c.kubectl('wait', `node/${NODE}`, '--for=condition=Ready', '--timeout=60s');
    await waitFor(async () => (await c.kubectl('get', 'node', NODE, '-o', 'jsonpath={.spec.podCIDR}')).startsWith('10.62.'), { timeoutMs: 30_000, what: 'a pod CIDR for the node' });
  });

  after(async () => {
    if (server && agent) {
      await c.kubectl('delete', 'pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s').catch(() => undefined);
    }
    await agent?.stop('SIGTERM');
    await server?.stop('SIGTERM');
    await mirror?.stop();
    if (dir) await removeBridgeAndDir(bridgeOf(runtimeRoot()), dir);
  });

  it('runs two containers that share an emptyDir and talk over localhost; the host reaches the pod IP', async () => {
    await apply(
      'duo',
      `apiVersion: v1
kind: Pod
metadata: {name: duo}
spec:
  volumes: [{name: site, emptyDir: {}}]
  containers:
  - name: web
    image: busybox:1.36
    command: [httpd, -f, -p, "8080", -h, /www]
    volumeMounts: [{name: site, mountPath: /www}]
  - name: client
    image: busybox:1.36
    command: [sh, -c, 'echo "written by $HOSTNAME/client" > /site/index.html; until wget -qO- http://localhost:8080/index.html; do sleep 0.2; done; exec sleep 3600']
    volumeMounts: [{name: site, mountPath: /site}]
`,
    );
    await waitRunning('duo');
    assert.equal(await jsonpath('duo', '{.status.phase} {.status.containerStatuses[*].ready}'), 'Running true true');
    // The client fetched, over localhost, the page it wrote into the volume that the web container serves.
    const got = await waitFor(async () => {
      const out = await c.kubectl('logs', 'duo', '-c', 'client');
      return out.includes('written by') ? out : undefined;
    }, { timeoutMs: 20_000, what: "the client's log" });
    assert.equal(got, 'written by duo/client\n');
    const ip = await jsonpath('duo', '{.status.podIP}');
    assert.match(ip, /^10\.62\.\d+\.\d+$/);
    const res = await fetch(`http://${ip}:8080/index.html`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'written by duo/client\n');
  });

  it('kubectl logs -f streams lines as the container writes them; kubectl attach shows its output', async () => {
    await apply('ticker', `apiVersion: v1\nkind: Pod\nmetadata: {name: ticker}\nspec:\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sh, -c, 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.3; done']}\n`);
    await waitRunning('ticker');
    const follow = c.spawnKubectl(['logs', '-f', 'ticker']);
    // Lines that did not exist when the stream opened: more than the first read, in order, none lost.
    let firstSeen = 0;
    const out = await streamUntil(
      follow,
      (o) => {
        const t = ticks(o);
        if (!firstSeen && t.length) firstSeen = t.at(-1)!;
        return firstSeen > 0 && (t.at(-1) ?? 0) >= firstSeen + 5;
      },
      'kubectl logs -f to stream five new lines',
    );
    const t = ticks(out);
    assert.equal(t[0], 1, 'logs -f starts at the beginning of the log');
    assert.deepEqual(t, t.map((_, i) => i + 1), 'consecutive lines');

    const attach = c.spawnKubectl(['attach', 'ticker', '-c', 'c']);
    let from = 0;
    const attached = await streamUntil(
      attach,
      (o) => {
        const n = ticks(o);
        if (!from && n.length) from = n[0]!;
        return from > 0 && (n.at(-1) ?? 0) >= from + 3;
      },
      'kubectl attach to show four lines',
    );
    const a = ticks(attached);
    assert.ok(a[0]! > 1, `attach shows what the container writes from now on, not the log (${a[0]})`);
    assert.deepEqual(a, a.map((_, i) => a[0]! + i), 'consecutive lines');
  });

  it('kubectl exec returns the exit code of the command', async () => {
    await apply('shell', `apiVersion: v1\nkind: Pod\nmetadata: {name: shell}\nspec:\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sleep, "3600"]}\n`);
    await waitRunning('shell');
    const ok = await c.kubectlResult(['exec', 'shell', '--', 'sh', '-c', 'echo fine']);
    assert.deepEqual([ok.code, ok.stdout], [0, 'fine\n']);
    const three = await c.kubectlResult(['exec', 'shell', '--', 'sh', '-c', 'echo failing >&2; exit 3']);
    assert.equal(three.code, 3, three.stderr);
    assert.match(three.stderr, /failing/);
    const missing = await c.kubectlResult(['exec', 'shell', '--', '/no/such/binary']);
    assert.notEqual(missing.code, 0);
  });

  it('an agent restart leaves running containers alone: same container ID, restartCount 0, no new log line', async () => {
    await apply('steady', `apiVersion: v1\nkind: Pod\nmetadata: {name: steady}\nspec:\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sh, -c, 'echo started $(date +%s)-$RANDOM; exec httpd -f -p 8080 -h /etc']}\n`);
    await waitRunning('steady');
    const before = await jsonpath('steady', '{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.podIP}');
    const [containerID, restarts, ip] = before.split(' ') as [string, string, string];
    assert.equal(restarts, '0');
    const log = await c.kubectl('logs', 'steady');
    assert.match(log, /^started \d+-\d+\n$/);

    assert.equal(await agent!.stop('SIGTERM'), 0, `ketch agent exit status; output:\n${agent!.output()}`);
    // With the agent (and its runtime service) gone, the container still serves.
    const res = await fetch(`http://${ip}:8080/hostname`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);

    agent = await startAgent();
    // A pod created after the restart runs: the new agent syncs pods, so it has also looked at the old one.
    await apply('later', `apiVersion: v1\nkind: Pod\nmetadata: {name: later}\nspec:\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sleep, "3600"]}\n`);
    await waitRunning('later');
    await c.kubectl('wait', `node/${NODE}`, '--for=condition=Ready', '--timeout=30s');
    assert.equal(await jsonpath('steady', '{.status.phase} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}'), `Running ${containerID} 0 true`);
    assert.equal(await c.kubectl('logs', 'steady'), log, 'the container did not start again');
    assert.equal((await fetch(`http://${ip}:8080/hostname`, { signal: AbortSignal.timeout(10_000) })).status, 200);
  });

  it('deleting the pods removes their sandboxes, netns and veths', async () => {
    const { items } = JSON.parse(await c.kubectl('get', 'pods', '-o', 'json')) as { items: unknown[] };
    assert.ok(items.length >= 4);
    const sandboxIds = leftovers(dir, runtimeRoot(), []).sandboxes;
    assert.equal(sandboxIds.length, items.length, 'one sandbox per pod while they run');
    await c.kubectl('delete', 'pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s');
    await waitFor(() => leftovers(dir, runtimeRoot(), sandboxIds).sandboxes.length === 0, { timeoutMs: 30_000, what: 'the sandboxes removed' });
    const left = leftovers(join(dir, 'agent'), runtimeRoot(), sandboxIds);
    assert.deepEqual(left, { mounts: [], sandboxes: [], netns: [], veths: [] });
  });
});
