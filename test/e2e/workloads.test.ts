// DaemonSets and StatefulSets end to end on real runc containers: `ketch server` and two `ketch agent` processes
// (two nodes on this host, each with its own runtime root, pod bridge and pod CIDR), driven by the real kubectl.
// A DaemonSet runs one pod on each node and rolls out a new image; a StatefulSet starts web-0, then web-1; kubectl
// drain waits on a PodDisruptionBudget.
// Runs under the host-wide e2e lock (fixed pod CIDR 10.78.0.0/16).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBusyboxMirror } from '../support/local-registry.js';
import { nodeCredentialFiles } from '../support/node-credentials.js';
import { freePort, waitFor } from '../support/util.js';
import { bridgeOf, Clients, execResult, leftovers, mountsUnder, startKetch, type KetchProcess } from './cluster.js';

const CIDR = '10.78.0.0/16';
const NODES = ['wl-node-a', 'wl-node-b'];

describe('workloads (e2e: DaemonSet and StatefulSet on two nodes, runc, kubectl)', function () {
  this.timeout(300_000);
  let dir: string;
  let mirror: Awaited<ReturnType<typeof startBusyboxMirror>> | undefined;
  let server: KetchProcess | undefined;
  const agents = new Map<string, KetchProcess>();
  const sandboxesSeen = new Map<string, Set<string>>();
  let census: NodeJS.Timeout | undefined;
  let c: Clients;

  const agentRoot = (node: string): string => join(dir, node);
  const runtimeRoot = (node: string): string => join(agentRoot(node), 'runtime');
  // Both nodes are this host (node IP 127.0.0.1): the first runs the node's DNS server and service proxy for both.
  const sharedHostNetwork = (node: string): string[] => (node === NODES[0] ? [] : ['--cluster-dns-port', '0', '--no-service-proxy']);
  const noteSandboxes = (): void => {
    for (const node of NODES) {
      const sb = join(runtimeRoot(node), 'sandboxes');
      if (existsSync(sb)) for (const id of readdirSync(sb)) sandboxesSeen.get(node)!.add(id);
    }
  };

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('these tests run containers and must run as root (CI does)');
    dir = mkdtempSync(join(tmpdir(), 'ketch-e2e-workloads-'));
    mirror = await startBusyboxMirror();
    const port = await freePort();
    server = await startKetch(['server', '--data-dir', join(dir, 'server'), '--secure-port', String(port), '--bind-address', '127.0.0.1', '--cluster-cidr', CIDR], 'ketch server is up');
    c = new Clients(join(dir, 'server', 'admin.kubeconfig'), dir);
    for (const node of NODES) {
      sandboxesSeen.set(node, new Set());
      // Each agent runs as its node with a serving certificate of the cluster CA, which the API server verifies.
      const creds = await nodeCredentialFiles(join(dir, 'server'), node);
      agents.set(
        node,
        await startKetch(
          ['agent', ...creds.agentArgs, '--node-name', node, '--root-dir', agentRoot(node), '--port', '0', '--address', '127.0.0.1', '--node-ip', '127.0.0.1', '--registry-mirror', `docker.io=${mirror.url}`, ...sharedHostNetwork(node)],
          'agent API on port',
        ),
      );
    }
    census = setInterval(noteSandboxes, 250);
    census.unref();
    for (const node of NODES) {
      await c.kubectl('wait', `node/${node}`, '--for=condition=Ready', '--timeout=60s');
      await waitFor(async () => (await c.kubectl('get', 'node', node, '-o', 'jsonpath={.spec.podCIDR}')).startsWith('10.78.'), { timeoutMs: 30_000, what: `a pod CIDR for ${node}` });
    }
  });

  after(async () => {
    if (census) clearInterval(census);
    if (server && agents.size) await c.kubectl('delete', 'deploy,pdb,ds,sts,pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s').catch(() => undefined);
    noteSandboxes();
    for (const a of agents.values()) await a.stop('SIGTERM');
    await server?.stop('SIGTERM');
    for (const node of NODES) await execResult('ip', ['link', 'del', bridgeOf(runtimeRoot(node))]).catch(() => undefined);
    await mirror?.stop();
    if (dir && !mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
  });

  const apply = async (name: string, yaml: string): Promise<void> => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    await c.kubectl('apply', '-f', file);
  };
  /** "<node> <image> <phase>" per pod of app, sorted. */
  const placement = async (app: string): Promise<string[]> =>
    (await c.kubectl('get', 'pods', '-l', `app=${app}`, '-o', 'jsonpath={range .items[*]}{.spec.nodeName} {.spec.containers[0].image} {.status.phase}{"\\n"}{end}'))
      .split('\n')
      .filter(Boolean)
      .sort();

  it('a DaemonSet runs one pod on each node and rolls out a new image', async () => {
    await apply(
      'agent',
      `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, image: "busybox:1.36", command: [sh, -c, 'echo "daemon on $(hostname)"; exec sleep 3600']}
`,
    );
    const status = await c.kubectl('rollout', 'status', 'ds/agent', '--timeout=120s');
    assert.match(status, /daemon set "agent" successfully rolled out/);
    assert.deepEqual(await placement('agent'), NODES.map((n) => `${n} busybox:1.36 Running`));
    const first = (await c.kubectl('get', 'pods', '-l', 'app=agent', '-o', 'jsonpath={.items[*].metadata.name}')).split(' ');
    const log = await waitFor(async () => {
      const out = await c.kubectl('logs', first[0]!);
      return out.includes('daemon on') && out;
    }, { timeoutMs: 20_000, what: 'the daemon log' });
    assert.equal(log, `daemon on ${first[0]}\n`);

    await c.kubectl('set', 'image', 'ds/agent', 'c=busybox:latest');
    assert.match(await c.kubectl('rollout', 'status', 'ds/agent', '--timeout=120s'), /successfully rolled out/);
    await waitFor(async () => JSON.stringify(await placement('agent')) === JSON.stringify(NODES.map((n) => `${n} busybox:latest Running`)), { timeoutMs: 60_000, what: 'one new pod per node, the old ones gone' });
    const now = (await c.kubectl('get', 'pods', '-l', 'app=agent', '-o', 'jsonpath={.items[*].metadata.name}')).split(' ');
    assert.deepEqual(now.filter((n) => first.includes(n)), [], 'every pod was replaced');
    assert.match(await c.kubectl('rollout', 'history', 'ds/agent'), /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/);
    assert.equal(await c.kubectl('get', 'ds', 'agent', '-o', 'jsonpath={.status.desiredNumberScheduled} {.status.updatedNumberScheduled} {.status.numberAvailable}'), '2 2 2');
  });

  it('a StatefulSet starts web-0, and web-1 only once web-0 is Running and Ready', async () => {
    await apply(
      'web',
      `apiVersion: v1
kind: Service
metadata: {name: web}
spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 2
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: "busybox:1.36"
        command: [sh, -c, 'sleep 2; touch /tmp/ready; exec sleep 3600']
        readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1}
`,
    );
    assert.match(await c.kubectl('rollout', 'status', 'sts/web', '--timeout=120s'), /partitioned roll out complete: 2 new pods have been updated/);
    const readyAt = Date.parse(await c.kubectl('get', 'pod', 'web-0', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].lastTransitionTime}'));
    const created = Date.parse(await c.kubectl('get', 'pod', 'web-1', '-o', 'jsonpath={.metadata.creationTimestamp}'));
    assert.ok(Number.isFinite(readyAt) && Number.isFinite(created));
    assert.ok(created >= readyAt, `web-1 created ${new Date(created).toISOString()} before web-0 was ready ${new Date(readyAt).toISOString()}`);
    // Its stable identity: the hostname is the pod's name.
    assert.equal((await c.kubectl('exec', 'web-1', '--', 'hostname')).trim(), 'web-1');
    assert.equal(await c.kubectl('get', 'pod', 'web-1', '-o', 'jsonpath={.spec.hostname}.{.spec.subdomain} {.metadata.labels.apps\\.kubernetes\\.io/pod-index}'), 'web-1.web 1');
  });

  it('kubectl drain waits on a PodDisruptionBudget, and drains once the budget allows it', async () => {
    await apply(
      'guarded',
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: guarded}
spec:
  replicas: 2
  selector: {matchLabels: {app: guarded}}
  template:
    metadata: {labels: {app: guarded}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: "busybox:1.36", command: [sleep, "3600"]}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guarded}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: guarded}}
`,
    );
    await c.kubectl('rollout', 'status', 'deploy/guarded', '--timeout=120s');
    await waitFor(async () => (await c.kubectl('get', 'pdb', 'guarded', '-o', 'jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}')) === '2/0', { timeoutMs: 30_000, what: 'the budget with 2 healthy pods, none to spare' });
    const node = (await c.kubectl('get', 'pods', '-l', 'app=guarded', '-o', 'jsonpath={.items[0].spec.nodeName}')).trim();
    const onNode = async (): Promise<string[]> =>
      (await c.kubectl('get', 'pods', '-l', 'app=guarded', '--field-selector', `spec.nodeName=${node}`, '-o', 'jsonpath={.items[*].metadata.name}')).split(' ').filter(Boolean);
    const before = await onNode();
    try {
      // No disruption allowed: the eviction is refused with 429 and retried every 5 s until the drain times out.
      const blocked = await c.kubectlResult(['drain', node, '--pod-selector=app=guarded', '--timeout=8s'], 60_000);
      assert.notEqual(blocked.code, 0);
      assert.match(blocked.stderr, /\(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./);
      assert.deepEqual(await onNode(), before, 'no pod evicted');
      // A third replica (on the other node: this one is cordoned) makes room for one disruption at a time.
      await c.kubectl('scale', 'deploy/guarded', '--replicas=3');
      await waitFor(async () => (await c.kubectl('get', 'pdb', 'guarded', '-o', 'jsonpath={.status.disruptionsAllowed}')) === '1', { timeoutMs: 60_000, what: 'one disruption allowed' });
      assert.match(await c.kubectl('drain', node, '--pod-selector=app=guarded', '--timeout=120s'), new RegExp(`node/${node} drained`));
      assert.deepEqual(await onNode(), [], 'the drained node keeps no guarded pod');
    } finally {
      await c.kubectl('uncordon', node);
      await c.kubectl('delete', 'deploy/guarded', 'pdb/guarded', '--wait=true', '--timeout=60s');
    }
  });

  it('removing the workloads leaves no sandbox, netns, veth or mount behind on either node', async () => {
    await c.kubectl('delete', 'ds/agent', 'sts/web', '--wait=true', '--timeout=60s');
    await waitFor(async () => (await c.kubectl('get', 'pods', '-o', 'name')).trim() === '', { timeoutMs: 60_000, what: 'every pod gone' });
    noteSandboxes();
    for (const node of NODES) {
      const seen = sandboxesSeen.get(node)!;
      assert.ok(seen.size >= 2, `${node} ran sandboxes (${seen.size}), so the check below can fail`);
      await waitFor(() => {
        const left = leftovers(agentRoot(node), runtimeRoot(node), seen);
        return left.sandboxes.length + left.netns.length + left.veths.length + left.mounts.length === 0;
      }, { timeoutMs: 30_000, what: `${node} to clean up: ${JSON.stringify(leftovers(agentRoot(node), runtimeRoot(node), seen))}` });
    }
  });
});
