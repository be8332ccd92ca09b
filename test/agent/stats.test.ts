// Usage metrics end to end: the agent's /stats/summary (runtime ListContainerStats + host /proc), the API server's
// nodes/NAME/proxy, and `ketch top` reading them; also the service-account volume the agent fills from TokenRequest.
// Needs root, runc, iproute2 and docker-registry.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { decodeJwt } from 'jose';
import type { Node, Pod } from '../../api/index.js';
import { startAgent, type Agent } from '../../agent/index.js';
import { NODES, PODS } from '../../agent/resources.js';
import type { Summary } from '../../agent/stats.js';
import { buildBusyboxImage, pushImage } from '../support/runtime/oci-image.js';
import { startRegistry, type TestRegistry } from '../support/runtime/registry.js';
import { run } from '../../cli/main.js';
import { Sink } from '../cli/harness.js';
import type { TestApiServer } from '../support/cluster.js';
import { startAgentEnv, type AgentEnv } from '../support/agent-env.js';
import { nodeCredentialFiles } from '../support/node-credentials.js';
import { waitFor } from '../support/util.js';

const NODE = 'stats-node';
const POD_CIDR = '10.252.7.0/24';
const BRIDGE = 'ketchsts0';

describe('usage metrics (agent stats summary, node proxy, ketch top)', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let cluster: TestApiServer;
  let agent: Agent;
  let root: string;
  let image: string;

  const ketch = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const out = new Sink();
    const err = new Sink();
    const stdin = new PassThrough();
    stdin.end();
    const code = await run(['--kubeconfig', cluster.api.adminKubeconfigPath, ...args], { stdout: out, stderr: err, stdin, env: { ...process.env } });
    return { code, stdout: out.text, stderr: err.text };
  };

  let env: AgentEnv | undefined;

  before(async () => {
    env = await startAgentEnv('stats', BRIDGE);
    ({ registry, cluster, image, root } = env);
    // A serving certificate of the cluster CA: the API server verifies the agent it proxies to.
    const creds = await nodeCredentialFiles(cluster.dataDir, NODE);
    agent = await startAgent({ rest: cluster.rest, nodeName: NODE, rootDir: root, port: 0, runtimeBridge: BRIDGE, syncIntervalMs: 250, tlsCertFile: creds.tlsCertFile, tlsKeyFile: creds.tlsKeyFile });
    await cluster.rest.resource<Node>(NODES).patch(undefined, NODE, { spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] } });
    await cluster.rest.resource<Pod>(PODS).create('default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'burner', namespace: 'default' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 0,
        // One container spins (CPU), the other sleeps.
        containers: [
          { name: 'spin', image, command: ['/bin/sh', '-c', 'while :; do :; done'] },
          { name: 'idle', image, command: ['/bin/sh', '-c', 'sleep 3600'] },
        ],
      },
    } as Pod);
    await waitFor(async () => (await cluster.rest.resource<Pod>(PODS).get('default', 'burner')).status?.phase === 'Running', { timeoutMs: 60_000, intervalMs: 200, what: 'burner running' });
  });

  after(async () => {
    if (agent) {
      await cluster.rest.resource<Pod>(PODS).delete('default', 'burner', { gracePeriodSeconds: 0 }).catch(() => undefined);
      await waitFor(async () => (await cluster.rest.resource<Pod>(PODS).list('default')).items.length === 0, { timeoutMs: 30_000, what: 'pod gone' }).catch(() => undefined);
      await agent.stop();
    }
    await env?.stop();
  });

  it('serves the Summary API through nodes/NAME/proxy/stats/summary', async () => {
    const s = await cluster.rest.request<Summary>('GET', `/api/v1/nodes/${NODE}/proxy/stats/summary`);
    assert.equal(s.node.nodeName, NODE);
    assert.ok(s.node.cpu.usageNanoCores > 0, JSON.stringify(s.node.cpu));
    assert.ok(s.node.memory.workingSetBytes > 0);
    const pod = s.pods.find((p) => p.podRef.name === 'burner');
    assert.ok(pod, JSON.stringify(s.pods.map((p) => p.podRef)));
    const spin = pod.containers.find((c) => c.name === 'spin');
    const idle = pod.containers.find((c) => c.name === 'idle');
    assert.ok(spin && idle);
    // A busy loop uses a good share of a core even on a loaded machine; a sleeping shell next to nothing.
    assert.ok(spin.cpu.usageNanoCores > 50_000_000, `spin: ${spin.cpu.usageNanoCores}`);
    assert.ok(idle.cpu.usageNanoCores < spin.cpu.usageNanoCores / 5, `idle: ${idle.cpu.usageNanoCores}`);
    assert.ok(spin.memory.workingSetBytes > 0);
    assert.equal(pod.cpu.usageNanoCores, spin.cpu.usageNanoCores + idle.cpu.usageNanoCores);
  });

  it('answers 404 for an unknown node and 503 for a node without an agent endpoint', async () => {
    await assert.rejects(cluster.rest.request('GET', '/api/v1/nodes/nowhere/proxy/stats/summary'), (e: { code?: number }) => e.code === 404);
    await cluster.rest.resource<Node>(NODES).create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'agentless' } } as Node);
    await assert.rejects(cluster.rest.request('GET', '/api/v1/nodes/agentless/proxy/stats/summary'), (e: { code?: number }) => e.code === 503);
    await cluster.rest.resource<Node>(NODES).delete(undefined, 'agentless');
  });

  it('ketch top pod prints the pod’s CPU and memory, per container with --containers', async () => {
    const r = await ketch('top', 'pod');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)$/);
    const m = /^burner\s+(\d+)m\s+(\d+)Mi$/.exec(lines.find((l) => l.startsWith('burner')) ?? '');
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) >= 50, r.stdout);

    const c = await ketch('top', 'pod', 'burner', '--containers');
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^burner\s+spin\s+\d+m\s+\d+Mi$/m);
    assert.match(c.stdout, /^burner\s+idle\s+\d+m\s+\d+Mi$/m);
  });

  it('ketch top node prints the node’s usage against its allocatable', async () => {
    const r = await ketch('top', 'node');
    assert.equal(r.code, 0, r.stderr);
    const m = new RegExp(`^${NODE}\\s+(\\d+)m\\s+(\\d+)%\\s+(\\d+)Mi\\s+(\\d+)%$`, 'm').exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) > 0 && Number(m[3]) > 0, r.stdout);
  });

  it('fills the kube-api-access volume: a TokenRequest JWT bound to the pod, the cluster CA and the namespace', async () => {
    const pod = await cluster.rest.resource<Pod>(PODS).get('default', 'burner');
    const volume = pod.spec.volumes?.find((v) => v.name.startsWith('kube-api-access-'));
    assert.ok(volume, 'admission added the token volume');
    const dir = join(root, 'pods', pod.metadata.uid ?? '', 'volumes', volume.name);
    // The kubelet's atomic writer: the names are links into ..data, which points at a timestamped directory.
    const names = (await readdir(dir)).sort();
    assert.deepEqual(names.filter((n) => !n.startsWith('..')), ['ca.crt', 'namespace', 'token']);
    assert.ok(names.includes('..data'), 'written through the ..data link');
    assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), cluster.api.caCertPem);
    assert.equal(await readFile(join(dir, 'namespace'), 'utf8'), 'default');
    const claims = decodeJwt(await readFile(join(dir, 'token'), 'utf8'));
    assert.equal(claims.sub, 'system:serviceaccount:default:default');
    assert.deepEqual((claims['kubernetes.io'] as { pod?: unknown }).pod, { name: 'burner', uid: pod.metadata.uid });
  });
});
