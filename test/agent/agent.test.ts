// The node agent end to end: a real API server, the real runtime shim (runc) and a real registry with busybox.
// Needs root, runc, iproute2 and docker-registry.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { FakeClock } from '../../lib/clock.js';
import type { ConfigMap, Container, Lease, Node, Pod, PodSpec, Secret } from '../../api/index.js';
import type { ResourceClient } from '../../client/index.js';
import { startAgent, startHollowNodes, type Agent } from '../../agent/index.js';
import { unmountUnder } from '../../agent/volumes.js';
import { CONFIGMAPS, LEASES, NODES, PODS, SECRETS } from '../../agent/resources.js';
import { connectRuntime, type RuntimeClient } from '../../agent/cri/index.js';
import { buildBusyboxImage, pushImage } from '../support/runtime/oci-image.js';
import { startRegistry, type TestRegistry } from '../support/runtime/registry.js';
import type { TestApiServer } from '../support/cluster.js';
import { startAgentEnv, type AgentEnv } from '../support/agent-env.js';
import { issueCert } from '../../apiserver/pki/pki.js';
import { waitFor } from '../support/util.js';

const NODE = 'agent-node-a';
const POD_CIDR = '10.252.3.0/24';
const BRIDGE = 'ketchagt0';

describe('node agent (API server + runtime shim + registry)', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let cluster: TestApiServer;
  let agent: Agent;
  let root: string;
  let image: string;
  let pods: ResourceClient<Pod>;
  let nodes: ResourceClient<Node>;
  let runtime: RuntimeClient;
  let serial = 0;

  let env: AgentEnv | undefined;

  before(async () => {
    env = await startAgentEnv('agent', BRIDGE);
    ({ registry, cluster, image, root } = env);
    pods = cluster.rest.resource<Pod>(PODS);
    nodes = cluster.rest.resource<Node>(NODES);
    agent = await startAgent({ rest: cluster.rest, nodeName: NODE, rootDir: join(root, 'a'), port: 0, runtimeBridge: BRIDGE, syncIntervalMs: 250, clusterCidr: '10.252.0.0/16' });
    runtime = connectRuntime(agent.runtimeEndpoint);
    // Stands in for the controller manager's node IPAM.
    await nodes.patch(undefined, NODE, { spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] } });
  });

  after(async () => {
    if (agent) {
      const list = await pods.list(undefined).catch(() => ({ items: [] as Pod[] }));
      for (const p of list.items) await pods.delete(p.metadata.namespace, p.metadata.name ?? '', { gracePeriodSeconds: 0 }).catch(() => undefined);
      // The agent tears down the pods it ran; what is left (node b's, stopped already) goes here.
      await waitFor(async () => (await runtime.runtime.listPodSandbox({ filter: { labelSelector: { 'ketch.io/node-name': NODE } } })).items.length === 0, { timeoutMs: 30_000, what: 'agent cleanup' }).catch(() => undefined);
      // Whatever is left (node b's pods; agent b is stopped already), removed one by one, retried.
      await waitFor(async () => {
        const { items } = await runtime.runtime.listPodSandbox({});
        for (const s of items) await runtime.runtime.removePodSandbox({ podSandboxId: s.id }).catch(() => undefined);
        return (await runtime.runtime.listPodSandbox({})).items.length === 0;
      }, { timeoutMs: 20_000, what: 'sandboxes removed' }).catch(() => undefined);
      runtime.close();
      await agent.stop();
    }
    // Node b's pods (its agent stopped first) keep their tmpfs volumes mounted until here.
    if (root) await unmountUnder(root);
    await env?.stop();
  });

  const name = (base: string): string => `${base}-${++serial}`;

  const bb = (cname: string, script: string, extra: Partial<Container> = {}): Container => ({ name: cname, image, command: ['/bin/sh', '-c', script], ...extra });

  const createPod = (pname: string, spec: Partial<PodSpec>, node = NODE): Promise<Pod> =>
    pods.create('default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pname, namespace: 'default' },
      spec: { nodeName: node, terminationGracePeriodSeconds: 2, containers: [], ...spec },
    } as Pod);

  const waitPod = (pname: string, check: (p: Pod) => boolean, what: string, timeoutMs = 30_000): Promise<Pod> =>
    waitFor(
      async () => {
        const p = await pods.get('default', pname);
        return check(p) ? p : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `${pname}: ${what}` },
    ).catch(async (err: unknown) => {
      const p = await pods.get('default', pname).catch(() => undefined);
      throw new Error(`${String(err)}\nlast status: ${JSON.stringify(p?.status)}`);
    });

  const cond = (p: Pod, type: string): string | undefined => p.status?.conditions?.find((c) => c.type === type)?.status;

  /** GET on the agent's HTTPS API with the admin client certificate (signed by the cluster CA), another one, a token or nothing. */
  const agentGet = (path: string, auth: 'cert' | 'none' | { cert: string; key: string } | { token: string } = 'cert'): Promise<{ code: number; body: string }> =>
    new Promise((resolve, reject) => {
      const cfg = cluster.rest.config;
      const creds = auth === 'cert' ? { cert: cfg.cert, key: cfg.key } : auth === 'none' ? {} : 'token' in auth ? { headers: { Authorization: `Bearer ${auth.token}` } } : auth;
      const req = request(
        { host: '127.0.0.1', port: agent.port, path, rejectUnauthorized: false, ...creds },
        (res) => {
          let body = '';
          res.on('data', (b: Buffer) => (body += b.toString()));
          res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  const logs = async (pname: string, cname: string): Promise<string> => {
    const r = await agentGet(`/containerLogs/default/${pname}/${cname}`);
    assert.equal(r.code, 200, r.body);
    return r.body;
  };

  it('registers the node with capacity, labels, addresses and Ready, and keeps a lease', async () => {
    const n = await nodes.get(undefined, NODE);
    assert.equal(n.metadata.labels?.['kubernetes.io/hostname'], NODE);
    assert.equal(n.metadata.labels?.['kubernetes.io/os'], 'linux');
    assert.equal(n.metadata.labels?.['kubernetes.io/arch'], 'amd64');
    assert.ok(Number(n.status?.capacity?.cpu) >= 1);
    assert.match(String(n.status?.capacity?.memory), /^\d+Ki$/);
    assert.equal(n.status?.capacity?.pods, '110');
    assert.match(String(n.status?.allocatable?.['ephemeral-storage']), /^\d+Ki$/);
    const types = (n.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).sort();
    assert.deepEqual(types, ['DiskPressure=False', 'MemoryPressure=False', 'PIDPressure=False', 'Ready=True']);
    assert.ok(n.status?.addresses?.some((a) => a.type === 'InternalIP' && a.address));
    assert.equal(n.status?.daemonEndpoints?.kubeletEndpoint?.Port, agent.port);
    assert.match(n.status?.nodeInfo?.containerRuntimeVersion ?? '', /^ketch-runtime:\/\//);
    assert.ok(n.status?.nodeInfo?.kernelVersion);
    const lease = await waitFor(() => cluster.rest.resource<Lease>(LEASES).get('kube-node-lease', NODE).catch(() => undefined), { what: 'node lease' });
    assert.equal(lease.spec?.holderIdentity, NODE);
    assert.equal(lease.spec?.leaseDurationSeconds, 40);
    assert.ok(lease.spec?.renewTime);
    assert.equal(lease.metadata.ownerReferences?.[0]?.name, NODE);
  });

  it('runs a pod: Running, Ready, pod IP from the node CIDR, container status, logs over the agent API', async () => {
    const pname = name('simple');
    await createPod(pname, { containers: [bb('main', 'echo hello from $HOSTNAME; exec sleep 3600')] });
    const p = await waitPod(pname, (x) => x.status?.phase === 'Running' && cond(x, 'Ready') === 'True', 'Running and Ready');
    assert.match(p.status?.podIP ?? '', /^10\.252\.3\.\d+$/);
    assert.deepEqual(p.status?.podIPs, [{ ip: p.status?.podIP }]);
    assert.ok(p.status?.hostIP);
    assert.ok(p.status?.startTime);
    for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) assert.equal(cond(p, t), 'True', t);
    const cs = p.status?.containerStatuses?.[0];
    assert.equal(cs?.name, 'main');
    assert.ok(cs?.state?.running?.startedAt);
    assert.equal(cs?.ready, true);
    assert.equal(cs?.started, true);
    assert.equal(cs?.restartCount, 0);
    assert.equal(cs?.image, image);
    assert.match(cs?.imageID ?? '', /sha256:/);
    assert.match(cs?.containerID ?? '', /^ketch-runtime:\/\/[0-9a-f]{64}$/);
    const text = await waitFor(async () => {
      const t = await logs(pname, 'main');
      return t.includes('hello from') ? t : undefined;
    }, { what: 'log line' });
    assert.equal(text, `hello from ${pname}\n`);
    // Without a client certificate the agent refuses.
    assert.equal((await agentGet(`/containerLogs/default/${pname}/main`, 'none')).code, 401);
  });

  it('refuses calls without a valid client certificate or token, and from users who may not nodes/proxy', async () => {
    const path = '/containerLogs/default/not-here/main';
    const ca = { certPem: await readFile(join(cluster.dataDir, 'pki', 'ca.crt'), 'utf8'), keyPem: await readFile(join(cluster.dataDir, 'pki', 'ca.key'), 'utf8') };
    const cert = async (user: string): Promise<{ cert: string; key: string }> => {
      const c = await issueCert(ca, { commonName: user, usage: 'client' });
      return { cert: c.certPem, key: c.keyPem };
    };
    const grantProxy = (subject: object): Promise<unknown> =>
      cluster.rest.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
        body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { generateName: 'agent-test-' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kubelet-api-admin' }, subjects: [subject] },
      });
    const token = async (sa: string): Promise<string> => {
      await cluster.rest.request('POST', '/api/v1/namespaces/default/serviceaccounts', { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } } });
      const r = await cluster.rest.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/default/serviceaccounts/${sa}/token`, { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} } });
      return r.status.token;
    };
    assert.equal((await agentGet(path, 'none')).code, 401);
    assert.equal((await agentGet(path, { token: 'not-a-token' })).code, 401);
    // Authenticated, but not allowed nodes/proxy on this node: the kubelet's 403.
    const nobody = await agentGet(path, await cert('carol'));
    assert.equal(nobody.code, 403);
    assert.match(nobody.body, /Forbidden \(user=carol, verb=get, resource=nodes, subresource=proxy\)/);
    assert.equal((await agentGet(path, { token: await token('agent-nobody') })).code, 403);
    assert.equal((await agentGet('/stats/summary', await cert('carol'))).code, 403);
    // Granted system:kubelet-api-admin (what the API server's own certificate has through system:masters): past
    // authorization, the agent answers the request itself (no such pod: 404).
    await grantProxy({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'dave' });
    await grantProxy({ kind: 'ServiceAccount', name: 'agent-reader', namespace: 'default' });
    // The agent caches a refusal for 30 s: ask the API server first, until its RBAC cache has both bindings.
    const allowed = async (user: string, groups: string[] = []): Promise<boolean> => {
      const r = await cluster.rest.request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: { verb: 'get', resource: 'nodes', subresource: 'proxy', name: NODE } } },
      });
      return r.status.allowed;
    };
    await waitFor(async () => ((await allowed('dave')) && (await allowed('system:serviceaccount:default:agent-reader')) ? true : undefined), { what: 'the bindings' });
    assert.equal((await agentGet(path, await cert('dave'))).code, 404);
    assert.equal((await agentGet(path, { token: await token('agent-reader') })).code, 404);
  });

  it('passes env from values, configMap and secret keys, fieldRef and envFrom; Never + exit 0 is Succeeded', async () => {
    const pname = name('env');
    await cluster.rest.resource<ConfigMap>(CONFIGMAPS).create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${pname}-cm` }, data: { color: 'blue', size: 'XL' } } as ConfigMap);
    await cluster.rest.resource<Secret>(SECRETS).create('default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${pname}-s` }, data: { password: Buffer.from('s3cr3t').toString('base64') } } as Secret);
    await createPod(pname, {
      restartPolicy: 'Never',
      containers: [
        bb('main', 'echo "PLAIN=$PLAIN COLOR=$COLOR PASS=$PASS POD=$POD_NAME NS=$POD_NS NODE=$NODE_NAME IP=$POD_IP CFG_size=$CFG_size EXP=$EXPANDED"', {
          env: [
            { name: 'PLAIN', value: 'plain-value' },
            { name: 'COLOR', valueFrom: { configMapKeyRef: { name: `${pname}-cm`, key: 'color' } } },
            { name: 'PASS', valueFrom: { secretKeyRef: { name: `${pname}-s`, key: 'password' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'EXPANDED', value: '$(PLAIN)-x' },
          ],
          envFrom: [{ prefix: 'CFG_', configMapRef: { name: `${pname}-cm` } }],
        }),
      ],
    });
    const p = await waitPod(pname, (x) => x.status?.phase === 'Succeeded', 'Succeeded');
    const t = p.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(t?.exitCode, 0);
    assert.equal(t?.reason, 'Completed');
    assert.ok(t?.finishedAt);
    assert.equal(cond(p, 'Ready'), 'False');
    const out = await logs(pname, 'main');
    assert.equal(out, `PLAIN=plain-value COLOR=blue PASS=s3cr3t POD=${pname} NS=default NODE=${NODE} IP=${p.status?.podIP} CFG_size=XL EXP=plain-value-x\n`);
  });

  it('waits with CreateContainerConfigError while a referenced configMap is missing', async () => {
    const pname = name('missing-cm');
    await createPod(pname, { containers: [bb('main', 'sleep 3600', { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }] })] });
    const p = await waitPod(pname, (x) => x.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError', 'CreateContainerConfigError');
    assert.match(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '', /configmap "nope" not found/);
    assert.equal(p.status?.phase, 'Pending');
  });

  it('shares an emptyDir (and a Memory one, on tmpfs) between two containers; mounts configMap, secret and downwardAPI volumes', async () => {
    const pname = name('volumes');
    await cluster.rest.resource<ConfigMap>(CONFIGMAPS).create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${pname}-cm` }, data: { 'app.conf': 'mode=fast' } } as ConfigMap);
    await cluster.rest.resource<Secret>(SECRETS).create('default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${pname}-s` }, data: { token: Buffer.from('tok').toString('base64') } } as Secret);
    await createPod(pname, {
      restartPolicy: 'Never',
      volumes: [
        { name: 'shared', emptyDir: {} },
        { name: 'mem', emptyDir: { medium: 'Memory' } },
        { name: 'cfg', configMap: { name: `${pname}-cm` } },
        { name: 'sec', secret: { secretName: `${pname}-s`, items: [{ key: 'token', path: 'nested/tok' }] } },
        { name: 'info', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
      ],
      containers: [
        bb('writer', 'echo from-writer > /shared/msg; echo mem-data > /mem/m; sleep 3600', { volumeMounts: [{ name: 'shared', mountPath: '/shared' }, { name: 'mem', mountPath: '/mem' }] }),
        bb('reader', 'while [ ! -f /data/msg ] || [ ! -f /m/m ]; do sleep 0.1; done; cat /data/msg /m/m /cfg/app.conf; echo; cat /sec/nested/tok; echo; cat /info/name; echo; grep " /m " /proc/mounts | cut -d" " -f3; touch /cfg/x 2>/dev/null || echo cfg-readonly', {
          volumeMounts: [
            { name: 'shared', mountPath: '/data' },
            { name: 'mem', mountPath: '/m' },
            { name: 'cfg', mountPath: '/cfg', readOnly: true },
            { name: 'sec', mountPath: '/sec' },
            { name: 'info', mountPath: '/info' },
          ],
        }),
      ],
    });
    await waitPod(pname, (x) => x.status?.containerStatuses?.find((c) => c.name === 'reader')?.state?.terminated?.exitCode === 0, 'reader finished');
    const out = await logs(pname, 'reader');
    assert.equal(out, `from-writer\nmem-data\nmode=fast\ntok\n${pname}\ntmpfs\ncfg-readonly\n`);
  });

  it('runs init containers in order before the app containers', async () => {
    const pname = name('init');
    await createPod(pname, {
      restartPolicy: 'Never',
      volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: [
        bb('first', 'echo first >> /work/order', { volumeMounts: [{ name: 'work', mountPath: '/work' }] }),
        bb('second', 'test -f /work/order && echo second >> /work/order', { volumeMounts: [{ name: 'work', mountPath: '/work' }] }),
      ],
      containers: [bb('app', 'echo app >> /work/order; cat /work/order', { volumeMounts: [{ name: 'work', mountPath: '/work' }] })],
    });
    const p = await waitPod(pname, (x) => x.status?.phase === 'Succeeded', 'Succeeded');
    assert.equal(await logs(pname, 'app'), 'first\nsecond\napp\n');
    assert.deepEqual(p.status?.initContainerStatuses?.map((s) => [s.name, s.state?.terminated?.reason]), [['first', 'Completed'], ['second', 'Completed']]);
    assert.equal(cond(p, 'Initialized'), 'True');
  });

  it('a failing init container with restartPolicy Never fails the pod and never starts the app', async () => {
    const pname = name('init-fail');
    await createPod(pname, { restartPolicy: 'Never', initContainers: [bb('bad', 'exit 4')], containers: [bb('app', 'echo should-not-run')] });
    const p = await waitPod(pname, (x) => x.status?.phase === 'Failed', 'Failed');
    assert.equal(p.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 4);
    assert.equal(p.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'PodInitializing');
    // kubelet's GeneratePodInitializedCondition: a failed init container is not ready, so the pod never initialized.
    assert.equal(cond(p, 'Initialized'), 'False');
  });

  it('reports exit codes: Never + exit 3 is Failed; OnFailure restarts until success', async () => {
    const never = name('never');
    await createPod(never, { restartPolicy: 'Never', containers: [bb('main', 'echo bye; exit 3')] });
    const p1 = await waitPod(never, (x) => x.status?.phase === 'Failed', 'Failed');
    const t = p1.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(t?.exitCode, 3);
    assert.equal(t?.reason, 'Error');
    assert.equal(p1.status?.containerStatuses?.[0]?.restartCount, 0);

    const onFailure = name('onfailure');
    await createPod(onFailure, {
      restartPolicy: 'OnFailure',
      volumes: [{ name: 'state', emptyDir: {} }],
      containers: [bb('main', 'if [ -f /state/ran ]; then echo second; exit 0; fi; touch /state/ran; exit 2', { volumeMounts: [{ name: 'state', mountPath: '/state' }] })],
    });
    const p2 = await waitPod(onFailure, (x) => x.status?.phase === 'Succeeded', 'Succeeded');
    const cs = p2.status?.containerStatuses?.[0];
    assert.equal(cs?.restartCount, 1);
    assert.equal(cs?.state?.terminated?.exitCode, 0);
    assert.equal(cs?.lastState?.terminated?.exitCode, 2);
  });

  it('applies resource limits as cgroup limits', async () => {
    const pname = name('limits');
    await createPod(pname, {
      restartPolicy: 'Never',
      containers: [bb('main', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us', { resources: { limits: { cpu: '200m', memory: '64Mi' } } })],
    });
    await waitPod(pname, (x) => x.status?.phase === 'Succeeded', 'Succeeded');
    assert.equal(await logs(pname, 'main'), `${64 * 1024 * 1024}\n20000\n`);
  });

  it('readiness probe drives the Ready condition; liveness failure restarts the container', async () => {
    const flags = join(root, `flags-${++serial}`);
    await mkdir(flags, { recursive: true });
    const pname = name('probes');
    await createPod(pname, {
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: 'flags', hostPath: { path: flags, type: 'Directory' } }],
      containers: [
        bb('main', 'exec sleep 3600', {
          volumeMounts: [{ name: 'flags', mountPath: '/flags' }],
          readinessProbe: { exec: { command: ['cat', '/flags/ready'] }, periodSeconds: 1, failureThreshold: 1 },
          livenessProbe: { exec: { command: ['test', '!', '-f', '/flags/die'] }, periodSeconds: 1, failureThreshold: 1 },
        }),
      ],
    });
    let p = await waitPod(pname, (x) => x.status?.phase === 'Running' && x.status.containerStatuses?.[0]?.started === true, 'Running');
    assert.equal(cond(p, 'Ready'), 'False');
    await writeFile(join(flags, 'ready'), 'yes');
    await waitPod(pname, (x) => cond(x, 'Ready') === 'True', 'Ready after the readiness file appears');
    await rm(join(flags, 'ready'));
    p = await waitPod(pname, (x) => cond(x, 'Ready') === 'False', 'not Ready after the readiness file goes');
    assert.equal(p.status?.containerStatuses?.[0]?.ready, false);
    assert.equal(p.status?.containerStatuses?.[0]?.restartCount, 0);
    await writeFile(join(flags, 'die'), '');
    p = await waitPod(pname, (x) => (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 'restarted by the liveness probe');
    await rm(join(flags, 'die'));
    assert.equal(p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 137);
    await waitPod(pname, (x) => x.status?.containerStatuses?.[0]?.state?.running !== undefined, 'running again');
  });

  it('httpGet and tcpSocket probes against busybox httpd', async () => {
    const pname = name('http');
    await createPod(pname, {
      containers: [
        bb('web', 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www', {
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 1 },
          livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        }),
      ],
    });
    const p = await waitPod(pname, (x) => cond(x, 'Ready') === 'True', 'Ready by httpGet');
    const res = await fetch(`http://${p.status?.podIP}:8080/index.html`);
    assert.equal((await res.text()).trim(), 'ok');
    assert.equal(p.status?.containerStatuses?.[0]?.restartCount, 0);
  });

  it('reports ErrImagePull / ImagePullBackOff for an image that does not exist', async () => {
    const pname = name('badimage');
    await createPod(pname, { containers: [{ name: 'main', image: `${registry.host}/test/missing:v1` }] });
    const p = await waitPod(pname, (x) => ['ErrImagePull', 'ImagePullBackOff'].includes(x.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? ''), 'image pull error');
    assert.match(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '', /missing/);
    await waitPod(pname, (x) => x.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff', 'ImagePullBackOff');
  });

  it('delete with a grace period: preStop hook, SIGTERM, sandbox removed, then the pod object is deleted', async () => {
    const flags = join(root, `flags-${++serial}`);
    await mkdir(flags, { recursive: true });
    const pname = name('graceful');
    const created = await createPod(pname, {
      terminationGracePeriodSeconds: 20,
      volumes: [{ name: 'flags', hostPath: { path: flags } }],
      containers: [
        bb('main', 'trap "echo term > /flags/term; exit 0" TERM; while true; do sleep 0.2; done', {
          volumeMounts: [{ name: 'flags', mountPath: '/flags' }],
          lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop > /flags/prestop'] } } },
        }),
      ],
    });
    await waitPod(pname, (x) => x.status?.phase === 'Running', 'Running');
    const started = Date.now();
    await pods.delete('default', pname, { gracePeriodSeconds: 20 });
    const deleting = await pods.get('default', pname);
    assert.ok(deleting.metadata.deletionTimestamp, 'graceful: the object stays while the agent stops the pod');
    await waitFor(async () => pods.get('default', pname).then(() => false, () => true), { timeoutMs: 30_000, what: 'pod object gone' });
    assert.ok(Date.now() - started < 15_000, 'the container exited on SIGTERM, well before the grace period');
    assert.equal((await readFile(join(flags, 'prestop'), 'utf8')).trim(), 'prestop');
    assert.equal((await readFile(join(flags, 'term'), 'utf8')).trim(), 'term');
    const { items } = await runtime.runtime.listPodSandbox({ filter: { labelSelector: { 'ketch.io/pod-uid': created.metadata.uid ?? '' } } });
    assert.equal(items.length, 0);
    await assert.rejects(stat(join(root, 'a', 'pods', created.metadata.uid ?? '')));
  });

  it('delete of a container that ignores SIGTERM: SIGKILL after the grace period', async () => {
    const pname = name('stubborn');
    await createPod(pname, { terminationGracePeriodSeconds: 1, containers: [bb('main', 'exec sleep 3600')] });
    await waitPod(pname, (x) => x.status?.phase === 'Running', 'Running');
    await pods.delete('default', pname);
    await waitFor(async () => pods.get('default', pname).then(() => false, () => true), { timeoutMs: 20_000, what: 'pod object gone' });
  });

  it('an evicted pod (pods/eviction) is stopped and removed the same way', async () => {
    const pname = name('evicted');
    const created = await createPod(pname, { terminationGracePeriodSeconds: 5, containers: [bb('main', 'trap "exit 0" TERM; while true; do sleep 0.2; done')] });
    await waitPod(pname, (x) => x.status?.phase === 'Running', 'Running');
    await cluster.rest.request('POST', `/api/v1/namespaces/default/pods/${pname}/eviction`, {
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pname, namespace: 'default' } },
    });
    await waitFor(async () => pods.get('default', pname).then(() => false, () => true), { timeoutMs: 20_000, what: 'evicted pod gone' });
    const { items } = await runtime.runtime.listPodSandbox({ filter: { labelSelector: { 'ketch.io/pod-uid': created.metadata.uid ?? '' } } });
    assert.equal(items.length, 0);
  });

  it('serves logs with follow, tailLines, timestamps and previous', async () => {
    const pname = name('logs');
    await createPod(pname, {
      restartPolicy: 'OnFailure',
      volumes: [{ name: 'state', emptyDir: {} }],
      containers: [bb('main', 'if [ -f /s/ran ]; then for i in 1 2 3; do echo line$i; done; exec sleep 3600; fi; touch /s/ran; echo first-run; exit 1', { volumeMounts: [{ name: 'state', mountPath: '/s' }] })],
    });
    await waitPod(pname, (x) => x.status?.containerStatuses?.[0]?.restartCount === 1 && x.status.containerStatuses[0].state?.running !== undefined, 'restarted and running');
    assert.equal((await agentGet(`/containerLogs/default/${pname}/main?previous=true`)).body, 'first-run\n');
    const tail = await waitFor(async () => {
      const r = await agentGet(`/containerLogs/default/${pname}/main?tailLines=1&timestamps=true`);
      return r.body.includes('line3') ? r.body : undefined;
    }, { what: 'three lines' });
    assert.match(tail, /^\d{4}-\d\d-\d\dT\S+Z line3\n$/);
    // follow keeps the stream open while the container runs: read the first bytes, then hang up.
    const cfg = cluster.rest.config;
    const followed = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: agent.port, path: `/containerLogs/default/${pname}/main?follow=true`, rejectUnauthorized: false, cert: cfg.cert, key: cfg.key }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => {
          body += b.toString();
          if (body.includes('line3')) {
            req.destroy();
            resolve(body);
          }
        });
        res.on('end', () => reject(new Error(`stream ended early: ${body}`)));
      });
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
      req.end();
    });
    assert.equal(followed, 'line1\nline2\nline3\n');
  });

  it('exec over WebSocket through the agent API (v5.channel.k8s.io)', async () => {
    const pname = name('exec');
    await createPod(pname, { containers: [bb('main', 'exec sleep 3600')] });
    await waitPod(pname, (x) => x.status?.phase === 'Running', 'Running');
    const run = (cmd: string[], stdin?: string): Promise<{ stdout: string; status: { status?: string; reason?: string } }> =>
      new Promise((resolve, reject) => {
        const q = cmd.map((c) => `command=${encodeURIComponent(c)}`).join('&');
        const cfg = cluster.rest.config;
        const ws = new WebSocket(`wss://127.0.0.1:${agent.port}/exec/default/${pname}/main?${q}&stdout=true&stderr=true${stdin ? '&stdin=true' : ''}`, ['v5.channel.k8s.io'], {
          rejectUnauthorized: false,
          ...(cfg.cert && cfg.key ? { cert: cfg.cert, key: cfg.key } : {}),
        });
        let stdout = '';
        let status = {};
        ws.on('open', () => {
          if (stdin) {
            ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(stdin)]));
            ws.send(Buffer.from([255, 0]));
          }
        });
        ws.on('message', (d: Buffer) => {
          if (d[0] === 1) stdout += d.subarray(1).toString();
          if (d[0] === 3) status = JSON.parse(d.subarray(1).toString()) as object;
        });
        ws.on('close', () => resolve({ stdout, status }));
        ws.on('error', reject);
      });
    const a = await run(['sh', '-c', 'echo hi; hostname']);
    assert.equal(a.stdout, `hi\n${pname}\n`);
    assert.equal(a.status.status, 'Success');
    const b = await run(['sh', '-c', 'exit 3']);
    assert.equal(b.status.reason, 'NonZeroExitCode');
    const c = await run(['cat'], 'through stdin\n');
    assert.equal(c.stdout, 'through stdin\n');
  });

  it('port-forward over WebSocket through the agent API (portforward.k8s.io channels)', async () => {
    const pname = name('pf');
    await createPod(pname, { containers: [bb('web', 'mkdir -p /www && echo forwarded > /www/index.html && exec httpd -f -p 8080 -h /www')] });
    await waitPod(pname, (x) => x.status?.phase === 'Running', 'Running');
    const cfg = cluster.rest.config;
    const body = await waitFor(
      () =>
        new Promise<string | undefined>((resolve, reject) => {
          const ws = new WebSocket(`wss://127.0.0.1:${agent.port}/portForward/default/${pname}?port=8080`, ['portforward.k8s.io'], {
            rejectUnauthorized: false,
            ...(cfg.cert && cfg.key ? { cert: cfg.cert, key: cfg.key } : {}),
          });
          let data = Buffer.alloc(0);
          let first = true;
          ws.on('message', (d: Buffer) => {
            if (d[0] !== 0) return;
            if (first) {
              first = false; // the opening frame of a channel carries the port
              assert.equal(d.readUInt16LE(1), 8080);
              ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET /index.html HTTP/1.0\r\n\r\n')]));
              return;
            }
            data = Buffer.concat([data, d.subarray(1)]);
          });
          ws.on('close', () => resolve(data.toString().includes('forwarded') ? data.toString() : undefined));
          ws.on('error', reject);
        }),
      { what: 'a forwarded HTTP answer' },
    );
    assert.match(body, /^HTTP\/1\.[01] 200/);
  });

  it('the API server side (apiserver/nodeproxy/node-proxy.ts) reaches the agent for pods/log and pods/exec', async () => {
    const pname = name('proxied');
    await createPod(pname, { containers: [bb('main', 'echo via-proxy; exec sleep 3600')] });
    await waitPod(pname, (x) => x.status?.phase === 'Running', 'Running');
    const { proxyPodLog, proxyPodUpgrade } = await import('../../apiserver/nodeproxy/node-proxy.js');
    const { createServer } = await import('node:http');
    const cfg = cluster.rest.config;
    const deps = {
      getPod: (ns: string, n: string) => pods.get(ns, n),
      getNode: (n: string) => nodes.get(undefined, n),
      clientCert: { cert: cfg.cert ?? '', key: cfg.key ?? '' },
    };
    const route = (url: string): { ns: string; name: string; sub: string; q: URLSearchParams } | undefined => {
      const u = new URL(url, 'http://x');
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(log|exec|attach|portforward)$/.exec(u.pathname);
      return m ? { ns: m[1]!, name: m[2]!, sub: m[3]!, q: u.searchParams } : undefined;
    };
    const srv = createServer((req, res) => {
      const r = route(req.url ?? '');
      if (!r) return void res.writeHead(404).end();
      proxyPodLog(req, res, r.ns, r.name, r.q, deps).catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
    srv.on('upgrade', (req, socket, head) => {
      const r = route(req.url ?? '');
      if (!r) return void socket.destroy();
      proxyPodUpgrade(req, socket, head, r.ns, r.name, r.sub, r.q, deps).catch(() => socket.destroy());
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const text = await waitFor(async () => {
        const t = await (await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/pods/${pname}/log?container=main`)).text();
        return t.includes('via-proxy') ? t : undefined;
      }, { what: 'log through the proxy' });
      assert.equal(text, 'via-proxy\n');
      const out = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/namespaces/default/pods/${pname}/exec?command=echo&command=proxied-exec&container=main&stdout=true&stderr=true`, ['v5.channel.k8s.io']);
        let stdout = '';
        ws.on('message', (d: Buffer) => {
          if (d[0] === 1) stdout += d.subarray(1).toString();
        });
        ws.on('close', () => resolve(stdout));
        ws.on('error', reject);
      });
      assert.equal(out, 'proxied-exec\n');
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('writes the status only when something changed', async () => {
    const pname = name('quiet');
    await createPod(pname, { containers: [bb('main', 'exec sleep 3600')] });
    const p = await waitPod(pname, (x) => cond(x, 'Ready') === 'True', 'Ready');
    const events: string[] = [];
    const ac = new AbortController();
    const watching = (async () => {
      for await (const ev of pods.watch('default', { fieldSelector: `metadata.name=${pname}`, resourceVersion: p.metadata.resourceVersion, signal: ac.signal })) events.push(ev.type);
    })().catch(() => undefined);
    // Several sync periods (250 ms each) pass: none of them may write.
    await new Promise((r) => setTimeout(r, 2000));
    ac.abort();
    await watching;
    assert.deepEqual(events, []);
  });

  describe('with a fake clock (back-off), on a second node sharing the runtime', () => {
    const NODE_B = 'agent-node-b';
    let clock: FakeClock;
    let agentB: Agent;

    before(async () => {
      clock = new FakeClock(Date.now());
      // The first agent's proxy and DNS serve this host: a second set would fight over its table and port 53.
      agentB = await startAgent({
        rest: cluster.rest,
        nodeName: NODE_B,
        rootDir: join(root, 'b'),
        runtimeEndpoint: agent.runtimeEndpoint,
        clock,
        port: 0,
        bindAddress: '127.0.0.1',
        syncIntervalMs: 200,
        serviceProxy: false,
        clusterDnsPort: 0,
      });
      await nodes.patch(undefined, NODE_B, { spec: { podCIDR: POD_CIDR } });
    });

    after(async () => {
      await agentB?.stop();
    });

    it('renews the node lease every 10 s of the injected clock', async () => {
      const leases = cluster.rest.resource<Lease>(LEASES);
      const first = await waitFor(() => leases.get('kube-node-lease', NODE_B).catch(() => undefined), { what: 'lease of node b' });
      await clock.advance(10_000);
      const renewed = await waitFor(async () => {
        const l = await leases.get('kube-node-lease', NODE_B);
        return l.spec?.renewTime !== first.spec?.renewTime ? l : undefined;
      }, { what: 'a renewed lease' });
      assert.ok(Date.parse(renewed.spec?.renewTime ?? '') - Date.parse(first.spec?.renewTime ?? '') >= 10_000);
    });

    it('CrashLoopBackOff: restarts at once, then waits 10 s, then 20 s (by the injected clock)', async () => {
      const pname = name('crash');
      await createPod(pname, { containers: [bb('main', 'echo crash; exit 1')] }, NODE_B);
      const restarts = (x: Pod): number => x.status?.containerStatuses?.[0]?.restartCount ?? -1;
      const backingOff = (x: Pod): boolean => x.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff';
      let p = await waitPod(pname, (x) => restarts(x) === 1 && backingOff(x), 'CrashLoopBackOff after one restart');
      assert.match(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '', /back-off 10s restarting failed container=main/);
      assert.equal(p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
      assert.equal(p.status?.phase, 'Running');
      // Real time passes, the fake clock does not: no restart.
      const rv = p.metadata.resourceVersion;
      await waitFor(async () => (await runtime.runtime.listContainers({ filter: { labelSelector: { 'ketch.io/pod-uid': p.metadata.uid ?? '' } } })).containers.length === 2, { what: 'two attempts' });
      p = await pods.get('default', pname);
      assert.equal(restarts(p), 1);
      assert.equal(p.metadata.resourceVersion, rv);
      await clock.advance(10_000);
      p = await waitPod(pname, (x) => restarts(x) === 2 && backingOff(x), 'second restart after 10 s');
      assert.match(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '', /back-off 20s/);
      await clock.advance(10_000);
      // 10 s into a 20 s back-off: still waiting. Give the worker a few sync periods to (wrongly) act.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(restarts(await pods.get('default', pname)), 2);
      await clock.advance(10_000);
      await waitPod(pname, (x) => restarts(x) === 3 && backingOff(x), 'third restart after 20 more seconds');
    });
  });

  describe('hollow nodes', () => {
    it('register N Ready nodes, keep leases, run and delete bound pods', async () => {
      const hollow = await startHollowNodes({ rest: cluster.rest, count: 3, prefix: 'hollow-t-' });
      try {
        assert.deepEqual(hollow.nodes, ['hollow-t-0', 'hollow-t-1', 'hollow-t-2']);
        for (const n of hollow.nodes) {
          const node = await nodes.get(undefined, n);
          assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
          assert.equal(node.status?.capacity?.pods, '110');
          const lease = await waitFor(() => cluster.rest.resource<Lease>(LEASES).get('kube-node-lease', n).catch(() => undefined), { what: `lease of ${n}` });
          assert.equal(lease.spec?.holderIdentity, n);
        }
        const pname = name('hollow-pod');
        await createPod(pname, { containers: [{ name: 'c', image: 'whatever:1' }] }, 'hollow-t-1');
        const p = await waitPod(pname, (x) => x.status?.phase === 'Running' && cond(x, 'Ready') === 'True', 'Running on a hollow node');
        assert.ok(p.status?.podIP);
        // A merge patch of the status, as a kubelet's: what it says is there, what the server set before stays.
        const node1 = await nodes.get(undefined, 'hollow-t-1');
        assert.equal(p.status?.hostIP, node1.status?.addresses?.find((a) => a.type === 'InternalIP')?.address);
        assert.deepEqual(p.status?.containerStatuses?.map((c) => [c.name, c.ready, c.image, Object.keys(c.state ?? {})]), [['c', true, 'whatever:1', ['running']]]);
        assert.equal(p.spec.containers[0]?.image, 'whatever:1', 'the spec as it was');
        await pods.delete('default', pname, { gracePeriodSeconds: 30 });
        await waitFor(async () => pods.get('default', pname).then(() => false, () => true), { what: 'hollow pod deleted' });
      } finally {
        await hollow.stop();
      }
    });
  });
});
