// The node agent end to end (issue 7) as one suite run against any CRI runtime: `ketch server` and `ketch agent` as
// separate processes, driven by the real kubectl. test/e2e/agent.test.ts runs it on ketch's own runtime and
// test/e2e/agent-containerd.test.ts on containerd's CRI plugin; each supplies the runtime and what it leaves behind.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clients, mountsUnder, startKetch, type KetchProcess, type Leftovers } from '../e2e/cluster.js';
import { startBusyboxMirror } from './local-registry.js';
import { nodeCredentialFiles } from './node-credentials.js';
import { freePort, waitFor } from './util.js';

export type BusyboxMirror = Awaited<ReturnType<typeof startBusyboxMirror>>;

/** A CRI runtime for the agent, started for one suite. */
export interface AgentRuntime {
  /** The `ketch agent` flags that select and configure it. */
  agentArgs: string[];
  /** The ids of the pod sandboxes it holds now. */
  sandboxes(): Promise<string[]>;
  /** What is left on the host of these sandboxes: mounts, sandboxes, netns and veths (all empty once they are gone). */
  leftovers(sandboxIds: string[]): Promise<Leftovers>;
  /** Stops it (after the agent) and removes what it made on the host. */
  stop(): Promise<void>;
}

export interface AgentRuntimeEnv {
  /** The suite's temp dir; removed after the suite when nothing is mounted under it. */
  dir: string;
  /** The agent's --root-dir. */
  agentRoot: string;
  /** A real registry serving docker.io/library/busybox:1.36 (and :latest). */
  mirror: BusyboxMirror;
}

export interface AgentScenarioOptions {
  node: string;
  /** The cluster's pod network: suites that run at once need distinct ones (the host routes to pod IPs by it). */
  clusterCidr: string;
  startRuntime(env: AgentRuntimeEnv): Promise<AgentRuntime>;
}

/** What a suite's own `it`s can use besides the shared scenarios. */
export interface AgentSuite {
  readonly c: Clients;
  readonly dir: string;
  readonly agent: KetchProcess;
  apply(name: string, yaml: string): Promise<void>;
  jsonpath(pod: string, path: string): Promise<string>;
  waitRunning(pod: string): Promise<void>;
  streamUntil(s: { proc: ChildProcess; output: () => string }, check: (out: string) => boolean, what: string): Promise<string>;
}

const ticks = (out: string): number[] => [...out.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));

/** Defines the scenarios in the calling describe(); the runtime comes from o.startRuntime. */
export function agentScenarios(o: AgentScenarioOptions): AgentSuite {
  const NODE = o.node;
  const netPrefix = o.clusterCidr.split('.').slice(0, 2).join('.');
  let dir: string;
  let mirror: BusyboxMirror | undefined;
  let runtime: AgentRuntime | undefined;
  let server: KetchProcess | undefined;
  let agent: KetchProcess | undefined;
  let c: Clients;
  let crasherWatch: ReturnType<Clients['spawnKubectl']> | undefined;

  // The agent runs as its node (system:node:NAME) with a serving certificate of the cluster CA, as a joined node would.
  const startAgent = async (): Promise<KetchProcess> => {
    const creds = await nodeCredentialFiles(join(dir, 'server'), NODE);
    return startKetch(
      ['agent', ...creds.agentArgs, '--node-name', NODE, '--root-dir', join(dir, 'agent'), '--port', '0', '--address', '127.0.0.1', '--node-ip', '127.0.0.1', ...runtime!.agentArgs],
      'agent API on port',
    );
  };

  const apply = async (name: string, yaml: string): Promise<void> => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    await c.kubectl('apply', '-f', file);
  };

  const jsonpath = (pod: string, path: string): Promise<string> => c.kubectl('get', 'pod', pod, '-o', `jsonpath=${path}`);

  const waitRunning = async (pod: string): Promise<void> => {
    await c.kubectl('wait', `pod/${pod}`, '--for=condition=Ready', '--timeout=60s');
  };

  /** A container's log, once it includes `marker`. */
  const logOnce = (pod: string, marker: string, container?: string): Promise<string> =>
    waitFor(async () => {
      const out = await c.kubectl('logs', pod, ...(container ? ['-c', container] : []));
      return out.includes(marker) ? out : undefined;
    }, { timeoutMs: 20_000, what: `the log of ${pod} to include "${marker}"` });

  /** Reads a child's output until check() holds, then kills it. */
  const streamUntil = async (s: { proc: ChildProcess; output: () => string }, check: (out: string) => boolean, what: string): Promise<string> => {
    try {
      return await waitFor(() => (check(s.output()) ? s.output() : undefined), { timeoutMs: 20_000, what: `${what} (got: ${JSON.stringify(s.output())})` });
    } finally {
      s.proc.kill('SIGTERM');
    }
  };

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('these tests run containers and must run as root (CI does)');
    dir = mkdtempSync(join(tmpdir(), 'ketch-e2e-agent-'));
    mirror = await startBusyboxMirror();
    runtime = await o.startRuntime({ dir, agentRoot: join(dir, 'agent'), mirror });
    const port = await freePort();
    server = await startKetch(['server', '--data-dir', join(dir, 'server'), '--secure-port', String(port), '--bind-address', '127.0.0.1', '--cluster-cidr', o.clusterCidr], 'ketch server is up');
    c = new Clients(join(dir, 'server', 'admin.kubeconfig'), dir);
    agent = await startAgent();
    await c.kubectl('wait', `node/${NODE}`, '--for=condition=Ready', '--timeout=60s');
    await waitFor(async () => (await c.kubectl('get', 'node', NODE, '-o', 'jsonpath={.spec.podCIDR}')).startsWith(`${netPrefix}.`), { timeoutMs: 30_000, what: 'a pod CIDR for the node' });
    // The crash-loop case waits out back-off periods: its pod starts now and is watched while the other cases run.
    await apply('crasher', `apiVersion: v1\nkind: Pod\nmetadata: {name: crasher}\nspec:\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sh, -c, 'echo attempt; exit 3']}\n`);
    crasherWatch = c.spawnKubectl(['get', 'pod', 'crasher', '--watch', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}{"\\n"}']);
  });

  after(async () => {
    crasherWatch?.proc.kill('SIGTERM');
    if (server && agent) {
      // A case that failed while the agent was down would leave its pods running: an agent comes back to remove them.
      if (agent.proc.exitCode !== null || agent.proc.signalCode !== null) agent = await startAgent().catch(() => undefined);
      await c.kubectl('delete', 'pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s').catch(() => undefined);
    }
    await agent?.stop('SIGTERM');
    await server?.stop('SIGTERM');
    await runtime?.stop();
    await mirror?.stop();
    if (dir && !mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
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
    assert.equal(await logOnce('duo', 'written by', 'client'), 'written by duo/client\n');
    const ip = await jsonpath('duo', '{.status.podIP}');
    assert.match(ip, new RegExp(`^${netPrefix.replace('.', '\\.')}\\.\\d+\\.\\d+$`));
    const res = await fetch(`http://${ip}:8080/index.html`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'written by duo/client\n');
  });

  it("a hostPort answers on the node's address", async () => {
    const hostPort = await freePort();
    await apply(
      'hostport',
      `apiVersion: v1
kind: Pod
metadata: {name: hostport}
spec:
  containers:
  - name: web
    image: busybox:1.36
    command: [sh, -c, 'mkdir -p /www && echo "hostport $HOSTNAME" > /www/index.html && exec httpd -f -p 8080 -h /www']
    ports: [{containerPort: 8080, hostPort: ${hostPort}}]
`,
    );
    await waitRunning('hostport');
    const address = await c.kubectl('get', 'node', NODE, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}');
    assert.match(address, /^\d+\.\d+\.\d+\.\d+$/);
    const body = await waitFor(
      async () => {
        const res = await fetch(`http://${address}:${hostPort}/index.html`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(3_000) }).catch(() => undefined);
        return res?.status === 200 ? await res.text() : undefined;
      },
      { timeoutMs: 30_000, what: `the pod's page on ${address}:${hostPort}` },
    );
    assert.equal(body, 'hostport hostport\n');
    await c.kubectl('delete', 'pod', 'hostport', '--grace-period=1', '--wait=true', '--timeout=60s');
    // The mapping goes with the pod: nothing answers on the port any more.
    await waitFor(async () => (await fetch(`http://${address}:${hostPort}/`, { signal: AbortSignal.timeout(2_000) }).then(() => false, () => true)), { timeoutMs: 20_000, what: 'the hostPort to close with its pod' });
  });

  it('kubectl port-forward reaches a port of the pod from the host', async () => {
    const pf = c.spawnKubectl(['port-forward', 'pod/duo', ':8080']);
    try {
      const m = await waitFor(() => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(pf.output()) ?? undefined, { timeoutMs: 30_000, what: `kubectl port-forward to listen (got: ${JSON.stringify(pf.output())})` });
      // Two requests, each on a connection (a stream through the API server, the agent and the runtime) of its own.
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`http://127.0.0.1:${m[1]}/index.html`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(15_000) });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'written by duo/client\n');
      }
    } finally {
      pf.proc.kill('SIGTERM');
    }
  });

  it('mounts configMap and secret volumes and sets env from their keys inside the container', async () => {
    await apply(
      'configured',
      `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello-from-configmap}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret-from-secret}
---
apiVersion: v1
kind: Pod
metadata: {name: configured}
spec:
  volumes:
  - {name: cfg, configMap: {name: settings}}
  - {name: sec, secret: {secretName: creds}}
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'echo "files: $(cat /etc/cfg/greeting) $(cat /etc/sec/password)"; echo "env: $GREETING $PASSWORD"; exec sleep 3600']
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    volumeMounts: [{name: cfg, mountPath: /etc/cfg}, {name: sec, mountPath: /etc/sec, readOnly: true}]
`,
    );
    await waitRunning('configured');
    assert.equal(await logOnce('configured', 'env:'), 'files: hello-from-configmap s3cret-from-secret\nenv: hello-from-configmap s3cret-from-secret\n');
    const write = await c.kubectlResult(['exec', 'configured', '--', 'sh', '-c', 'echo x > /etc/sec/new']);
    assert.notEqual(write.code, 0, 'the secret volume is read-only');
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

  it('a failing readiness probe takes the container out of Ready; a failing liveness probe restarts it', async () => {
    await apply(
      'probed',
      `apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'touch /tmp/ready /tmp/alive; exec sleep 3600']
    readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, failureThreshold: 1}
    livenessProbe: {exec: {command: [cat, /tmp/alive]}, periodSeconds: 1, failureThreshold: 1}
`,
    );
    await waitRunning('probed');
    const state = (): Promise<string> => jsonpath('probed', '{.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].containerID}');
    const id = (await state()).split(' ')[2];
    await c.kubectl('exec', 'probed', '--', 'rm', '/tmp/ready');
    await c.kubectl('wait', 'pod/probed', '--for=condition=Ready=false', '--timeout=60s');
    assert.equal(await state(), `false 0 ${id}`, 'not ready, and not restarted');
    await c.kubectl('exec', 'probed', '--', 'touch', '/tmp/ready');
    await waitRunning('probed');
    await c.kubectl('exec', 'probed', '--', 'rm', '/tmp/alive');
    // The new container runs the command again, which makes both files: it becomes Ready.
    const after = await waitFor(async () => {
      const s = await state();
      return s.startsWith('true 1 ') ? s : undefined;
    }, { timeoutMs: 60_000, what: 'the container restarted once and Ready again' });
    assert.notEqual(after.split(' ')[2], id, 'a new container');
    assert.equal(await jsonpath('probed', '{.status.containerStatuses[0].lastState.terminated.reason}'), 'Error');
  });

  it('a container that keeps failing goes into CrashLoopBackOff with growing delays', async () => {
    // The first restart is at once, the next after 10 s, the one after that after 20 s (kubelet's back-off).
    const out = await waitFor(() => (/back-off 20s/.test(crasherWatch!.output()) ? crasherWatch!.output() : undefined), {
      timeoutMs: 90_000,
      what: `the second back-off period (status so far: ${JSON.stringify(crasherWatch!.output())})`,
    });
    const backoffs = [...out.matchAll(/^(\d+)\|CrashLoopBackOff\|back-off (\d+)s restarting failed container=c pod=crasher_default/gm)].map((m) => ({ restarts: Number(m[1]), delay: Number(m[2]) }));
    assert.deepEqual([...new Set(backoffs.map((b) => b.delay))], [10, 20], out);
    assert.ok(backoffs.every((b) => b.restarts >= b.delay / 10), `a restart before each back-off: ${out}`);
    assert.equal(await jsonpath('crasher', '{.status.phase} {.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].lastState.terminated.reason}'), 'Running 3 Error');
    assert.equal(await c.kubectl('logs', 'crasher', '--previous'), 'attempt\n');
  });

  it('delete sends SIGTERM and waits for it within the grace period, kills what ignores it, and removes the sandboxes', async () => {
    const out = join(dir, 'grace');
    mkdirSync(out, { recursive: true });
    await apply(
      'grace',
      `apiVersion: v1
kind: Pod
metadata: {name: graceful}
spec:
  terminationGracePeriodSeconds: 3600
  volumes: [{name: out, hostPath: {path: ${out}}}]
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'trap "echo got TERM > /out/term; exit 0" TERM; while true; do sleep 0.2; done']
    volumeMounts: [{name: out, mountPath: /out}]
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - {name: c, image: "busybox:1.36", command: [sleep, "3600"]}
`,
    );
    await waitRunning('graceful');
    await waitRunning('stubborn');
    const before = await runtime!.sandboxes();
    // An hour of grace for one, two seconds for a process that ignores SIGTERM (sleep as PID 1): both are gone well before.
    await c.kubectl('delete', 'pod', 'graceful', 'stubborn', '--wait=true', '--timeout=90s');
    assert.equal(readFileSync(join(out, 'term'), 'utf8'), 'got TERM\n');
    const after = new Set(await runtime!.sandboxes());
    assert.equal(before.filter((id) => !after.has(id)).length, 2, 'both sandboxes removed');
    assert.equal([...after].filter((id) => !before.includes(id)).length, 0);
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
    // With the agent (and a runtime it started) gone, the container still serves.
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
    const sandboxIds = await runtime!.sandboxes();
    assert.equal(sandboxIds.length, items.length, 'one sandbox per pod while they run');
    const running = await runtime!.leftovers(sandboxIds);
    assert.equal(running.netns.length, sandboxIds.length, 'one netns per sandbox while they run (so the check below can fail)');
    await c.kubectl('delete', 'pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s');
    await waitFor(async () => (await runtime!.sandboxes()).length === 0, { timeoutMs: 30_000, what: 'the sandboxes removed' });
    assert.deepEqual(await runtime!.leftovers(sandboxIds), { mounts: [], sandboxes: [], netns: [], veths: [] });
  });

  return {
    get c() {
      return c;
    },
    get dir() {
      return dir;
    },
    get agent() {
      return agent!;
    },
    apply,
    jsonpath,
    waitRunning,
    streamUntil,
  };
}
