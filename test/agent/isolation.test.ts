// Node isolation through the whole agent (issue 17's "done when"): runAsNonRoot against a root image, the default
// seccomp profile, a private registry with htpasswd auth reached through an imagePullSecret, a gRPC liveness probe
// that fails on NOT_SERVING, and a container that tries to swap a configMap file for a symlink. A real API server, the runtime shim (runc) and Debian's docker-registry.
// Needs root, runc, iproute2, docker-registry and htpasswd (apache2-utils).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ConfigMap, Container, Event, Pod, PodSpec, Secret } from '../../api/index.js';
import type { ResourceClient } from '../../client/index.js';
import { startAgent, type Agent } from '../../agent/index.js';
import { CONFIGMAPS, EVENTS, NODES, PODS, SECRETS } from '../../agent/resources.js';
import { connectRuntime, type RuntimeClient } from '../../agent/cri/index.js';
import { startRegistry, type TestRegistry } from '../support/runtime/registry.js';
import { startAgentEnv, type AgentEnv } from '../support/agent-env.js';
import { healthServer } from '../support/grpc-health-server.js';
import { waitFor } from '../support/util.js';

const NODE = 'isolation-node';
const POD_CIDR = '10.252.17.0/24';
const BRIDGE = 'ketchiso0';

describe('node isolation through the agent', function () {
  this.timeout(120_000);
  let env: AgentEnv;
  let agent: Agent | undefined;
  let runtime: RuntimeClient | undefined;
  let authed: TestRegistry | undefined;
  let pods: ResourceClient<Pod>;
  let serial = 0;

  before(async () => {
    env = await startAgentEnv('isolation', BRIDGE);
    // A second registry on the same storage that asks for a password: the image is there, but only with credentials.
    const htpasswd = join(env.root, 'htpasswd');
    await writeFile(htpasswd, execFileSync('htpasswd', ['-Bbn', 'puller', 's3cret-pw']));
    authed = await startRegistry({ storage: env.registry.storage, htpasswd });
    pods = env.cluster.rest.resource<Pod>(PODS);
    agent = await startAgent({
      rest: env.cluster.rest,
      nodeName: NODE,
      rootDir: join(env.root, 'agent'),
      port: 0,
      runtimeBridge: BRIDGE,
      syncIntervalMs: 250,
      // ConfigMap volumes rewritten within a second of a change (the configMap test waits for one).
      volumeRefreshMs: 500,
      // Named insecure by the operator, so that credentials may go to it over plain HTTP.
      insecureRegistries: [authed.host],
    });
    runtime = connectRuntime(agent.runtimeEndpoint);
    await env.cluster.rest.resource(NODES).patch(undefined, NODE, { spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] } });
  });

  after(async () => {
    if (agent && runtime) {
      const list = await pods.list(undefined).catch(() => ({ items: [] as Pod[] }));
      for (const p of list.items) await pods.delete(p.metadata.namespace, p.metadata.name ?? '', { gracePeriodSeconds: 0 }).catch(() => undefined);
      const rt = runtime;
      await waitFor(async () => (await rt.runtime.listPodSandbox({})).items.length === 0, { timeoutMs: 30_000, what: 'agent cleanup' }).catch(() => undefined);
      rt.close();
      await agent.stop();
    }
    await authed?.stop();
    await env?.stop();
  });

  const name = (base: string): string => `${base}-${++serial}`;
  const bb = (script: string, extra: Partial<Container> = {}): Container => ({ name: 'main', image: env.image, command: ['/bin/sh', '-c', script], ...extra });
  const createPod = (pname: string, spec: Partial<PodSpec>): Promise<Pod> =>
    pods.create('default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: pname, namespace: 'default' }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [], ...spec } } as Pod);
  const waitPod = (pname: string, check: (p: Pod) => boolean, what: string, timeoutMs = 30_000): Promise<Pod> =>
    waitFor(async () => {
      const p = await pods.get('default', pname);
      return check(p) ? p : undefined;
    }, { timeoutMs, intervalMs: 100, what: `${pname}: ${what}` });
  const waiting = (p: Pod): { reason?: string; message?: string } | undefined => p.status?.containerStatuses?.[0]?.state?.waiting;
  const eventsOf = async (pname: string): Promise<Event[]> =>
    (await env.cluster.rest.resource<Event>(EVENTS).list('default')).items.filter((e) => e.involvedObject.name === pname);
  it('gives a runAsNonRoot pod of an image that runs as root CreateContainerConfigError with kubelet\'s message', async () => {
    const pname = name('nonroot');
    await createPod(pname, { securityContext: { runAsNonRoot: true }, containers: [bb('sleep 3600')] });
    const p = await waitPod(pname, (x) => waiting(x)?.reason === 'CreateContainerConfigError', 'CreateContainerConfigError');
    assert.equal(waiting(p)?.message, `container has runAsNonRoot and image will run as root (pod: "default/${pname}", container: main)`);
    // With a non-root runAsUser the same pod runs.
    const ok = name('nonroot-uid');
    await createPod(ok, { securityContext: { runAsNonRoot: true, runAsUser: 1000 }, containers: [bb('id -u; sleep 3600')] });
    await waitPod(ok, (x) => x.status?.containerStatuses?.[0]?.state?.running !== undefined, 'running');
  });

  it('runs containers under RuntimeDefault seccomp by default: unshare of a user namespace gets EPERM', async () => {
    // Exit code 42 says: unshare failed with "Operation not permitted" (EPERM), not for another reason.
    const script = 'out=$(unshare -U true 2>&1) && exit 0; echo "$out"; case "$out" in *"Operation not permitted"*) exit 42;; esac; exit 1';
    const exitCode = async (pname: string): Promise<number | undefined> =>
      (await waitPod(pname, (x) => x.status?.containerStatuses?.[0]?.state?.terminated !== undefined, 'terminated')).status?.containerStatuses?.[0]?.state?.terminated?.exitCode;
    const confined = name('seccomp');
    await createPod(confined, { restartPolicy: 'Never', containers: [bb(script)] });
    assert.equal(await exitCode(confined), 42);
    const unconfined = name('seccomp-unconfined');
    await createPod(unconfined, { restartPolicy: 'Never', securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [bb(script)] });
    assert.equal(await exitCode(unconfined), 0);
  });

  it('pulls from a registry with htpasswd auth through an imagePullSecret, and fails clearly without it', async () => {
    const ref = `${authed!.host}/test/busybox:v1`;
    const without = name('no-secret');
    await createPod(without, { containers: [bb('sleep 3600', { image: ref })] });
    await waitPod(without, (x) => ['ErrImagePull', 'ImagePullBackOff'].includes(waiting(x)?.reason ?? ''), 'image pull error');
    const failed = await waitFor(async () => (await eventsOf(without)).find((e) => e.reason === 'Failed'), { timeoutMs: 10_000, what: 'a Failed event' });
    assert.match(failed.message ?? '', new RegExp(`Failed to pull image "${ref.replace(/[.]/g, '\\.')}": .*(unauthorized|401|credentials)`, 'i'));

    const secret = name('pull');
    const config = { auths: { [authed!.host]: { auth: Buffer.from('puller:s3cret-pw').toString('base64') } } };
    await env.cluster.rest.resource<Secret>(SECRETS).create('default', {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: secret }, type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
    } as Secret);
    const withSecret = name('with-secret');
    await createPod(withSecret, { imagePullSecrets: [{ name: secret }], containers: [bb('sleep 3600', { image: ref })] });
    await waitPod(withSecret, (x) => x.status?.containerStatuses?.[0]?.state?.running !== undefined, 'running', 60_000);
  });

  it('restarts a container whose gRPC liveness probe answers NOT_SERVING', async () => {
    const server = healthServer(() => 'NOT_SERVING');
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('0.0.0.0:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    try {
      const pname = name('grpc');
      // hostNetwork: the probe dials the pod IP (the node's), where this test's health server listens.
      await createPod(pname, {
        hostNetwork: true,
        containers: [bb('sleep 3600', { livenessProbe: { grpc: { port }, periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 1 } })],
      });
      await waitPod(pname, (x) => (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 'a restart');
      const unhealthy = await waitFor(async () => (await eventsOf(pname)).find((e) => e.reason === 'Unhealthy'), { timeoutMs: 10_000, what: 'an Unhealthy event' });
      assert.match(unhealthy.message ?? '', /Liveness probe failed: service unhealthy \(responded with "NOT_SERVING"\)/);
    } finally {
      server.forceShutdown();
    }
  });

  // The container cannot plant a link at all: every mount of a configMap volume is read-only. (A subPath of a key is
  // no way in either: the key is a link into ..data, and subpath.ts refuses links.)
  it('keeps a container from swapping a configMap file for a symlink, and updates the volume without following links', async () => {
    // A host file outside the volume that a planted link would aim at: the atomic writer must never write it.
    const canary = join(env.root, `canary-${++serial}`);
    await writeFile(canary, 'canary');
    const cm = name('cfg');
    const configMaps = env.cluster.rest.resource<ConfigMap>(CONFIGMAPS);
    await configMaps.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm }, data: { 'app.conf': 'v1' } } as ConfigMap);
    const pname = name('cm-swap');
    await createPod(pname, {
      volumes: [{ name: 'cfg', configMap: { name: cm } }],
      containers: [
        bb('sleep 3600', {
          volumeMounts: [
            { name: 'cfg', mountPath: '/etc/cfg' },
            // Asked for writable: configMap volumes are read-only whatever the mount says (kubelet since 1.10).
            { name: 'cfg', mountPath: '/etc/cfg-rw', readOnly: false },
          ],
        }),
      ],
    });
    const p = await waitPod(pname, (x) => x.status?.containerStatuses?.[0]?.state?.running !== undefined, 'running');
    const containerId = (p.status?.containerStatuses?.[0]?.containerID ?? '').replace(/^[^:]+:\/\//, '');
    const rt = runtime!;
    const inside = async (cmd: string[]): Promise<{ exitCode: number; out: string }> => {
      const r = await rt.runtime.execSync({ containerId, cmd, timeout: 10 });
      return { exitCode: r.exitCode, out: Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)]).toString() };
    };
    // Every way to put a link (or anything) in place of a key, of ..data or beside them fails with EROFS, on both mounts.
    const attempts: string[][] = [
      ['sh', '-c', 'echo evil > /etc/cfg/app.conf'],
      ['rm', '-f', '/etc/cfg/app.conf'],
      // The swap itself: a link made beside the key, renamed over it (busybox's ln -sf over an existing name stops at EEXIST).
      ['sh', '-c', `ln -s ${canary} /etc/cfg/.swap && mv -f /etc/cfg/.swap /etc/cfg/app.conf`],
      ['mv', '/etc/cfg/..data', '/etc/cfg/..old'],
      ['ln', '-s', canary, '/etc/cfg/..data_tmp'],
      ['touch', '/etc/cfg/..2099_01_01_00_00_00.000000000'],
      ['ln', '-s', canary, '/etc/cfg-rw/evil'],
      ['mv', '/etc/cfg-rw/app.conf', '/etc/cfg-rw/moved'],
    ];
    for (const cmd of attempts) {
      const r = await inside(cmd);
      assert.notEqual(r.exitCode, 0, `${cmd.join(' ')} must fail`);
      assert.match(r.out, /Read-only file system/, `${cmd.join(' ')}: ${r.out}`);
    }
    assert.equal((await inside(['cat', '/etc/cfg/app.conf'])).out, 'v1');

    // The volume on the host, as the runtime mounted it.
    const status = await rt.runtime.containerStatus({ containerId });
    const hostDir = status.status?.mounts.find((m) => m.containerPath === '/etc/cfg')?.hostPath;
    assert.ok(hostDir, 'the configMap volume is mounted at /etc/cfg');
    const before = (await readdir(hostDir)).sort();

    // An update goes through the atomic writer: a new version directory and the ..data swap; links stay the writer's.
    await configMaps.patch('default', cm, { data: { 'app.conf': 'v2' } });
    await waitFor(async () => (await inside(['cat', '/etc/cfg/app.conf'])).out === 'v2', { timeoutMs: 30_000, intervalMs: 200, what: 'the update inside the container' });
    assert.equal(await readFile(canary, 'utf8'), 'canary', 'the canary outside the volume is untouched');
    const entries = (await readdir(hostDir)).sort();
    assert.deepEqual(entries.filter((e) => !/^\.\.\d{4}_/.test(e)), ['..data', 'app.conf'], `only the writer's entries: ${entries.join(' ')}`);
    assert.equal(entries.filter((e) => /^\.\.\d{4}_/.test(e)).length, 1, 'one version directory: the old one is gone');
    assert.notDeepEqual(entries, before, 'a new version directory replaced the old');
    assert.equal(await readlink(join(hostDir, 'app.conf')), '..data/app.conf');
    assert.ok((await lstat(join(hostDir, '..data'))).isSymbolicLink());
    assert.equal(await readFile(join(hostDir, 'app.conf'), 'utf8'), 'v2');
  });
});
