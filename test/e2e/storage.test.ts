// Persistent volumes end to end on real runc containers: `ketch server` and two `ketch agent` processes (two nodes on
// this host), driven by the real kubectl. A pod writes to a claim of the default local-path class, is deleted, and a
// new pod (scheduled by the volume's node affinity) reads the data, read-only, with a subPath; a pod bound by hand to
// the wrong node for its volume is not started there, while the scheduler puts one on the volume's node; a pod whose
// claim is unbound waits with kubelet's FailedMount until the claim binds; an ephemeral volume comes and goes with
// its pod. Runs under the host-wide e2e lock (fixed pod CIDR 10.77.0.0/16).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBusyboxMirror } from '../support/local-registry.js';
import { nodeCredentialFiles } from '../support/node-credentials.js';
import { freePort, waitFor } from '../support/util.js';
import { bridgeOf, Clients, execResult, mountsUnder, startKetch, type KetchProcess } from './cluster.js';

const CIDR = '10.77.0.0/16';
const NODES = ['st-node-a', 'st-node-b'];

describe('persistent volumes on the node (e2e: local-path, local and hostPath claims on two nodes, runc, kubectl)', function () {
  this.timeout(300_000);
  let dir: string;
  let storage: string;
  let mirror: Awaited<ReturnType<typeof startBusyboxMirror>> | undefined;
  let server: KetchProcess | undefined;
  const agents: KetchProcess[] = [];
  let c: Clients;

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('these tests run containers and bind mounts and must run as root (CI does)');
    dir = mkdtempSync(join(tmpdir(), 'ketch-e2e-storage-'));
    storage = join(dir, 'storage');
    mirror = await startBusyboxMirror();
    const port = await freePort();
    server = await startKetch(['server', '--data-dir', join(dir, 'server'), '--secure-port', String(port), '--bind-address', '127.0.0.1', '--cluster-cidr', CIDR], 'ketch server is up');
    c = new Clients(join(dir, 'server', 'admin.kubeconfig'), dir);
    // Both nodes are this host (node IP 127.0.0.1): the first runs the node's DNS server and service proxy for both.
    const sharedHostNetwork = (node: string): string[] => (node === NODES[0] ? [] : ['--cluster-dns-port', '0', '--no-service-proxy']);
    for (const node of NODES) {
      // Each agent runs as its node with a serving certificate of the cluster CA, which the API server verifies.
      const creds = await nodeCredentialFiles(join(dir, 'server'), node);
      agents.push(
        await startKetch(
          ['agent', ...creds.agentArgs, '--node-name', node, '--root-dir', join(dir, node), '--port', '0', '--address', '127.0.0.1', '--node-ip', '127.0.0.1', '--registry-mirror', `docker.io=${mirror.url}`, '--local-path-root', storage, ...sharedHostNetwork(node)],
          'agent API on port',
        ),
      );
    }
    for (const node of NODES) {
      await c.kubectl('wait', `node/${node}`, '--for=condition=Ready', '--timeout=60s');
      await waitFor(async () => (await c.kubectl('get', 'node', node, '-o', 'jsonpath={.spec.podCIDR}')).startsWith('10.77.'), { timeoutMs: 30_000, what: `a pod CIDR for ${node}` });
    }
    // The class `ketch up` makes, with its volumes under this test's directory.
    await apply(
      'class',
      `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-path, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: rancher.io/local-path
parameters: {nodePath: "${storage}"}
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
`,
    );
  });

  after(async () => {
    if (server && agents.length) await c.kubectl('delete', 'sts', '--all', '--wait=true', '--timeout=60s').catch(() => undefined);
    if (server && agents.length) await c.kubectl('delete', 'pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s').catch(() => undefined);
    for (const a of agents) await a.stop('SIGTERM');
    await server?.stop('SIGTERM');
    for (const node of NODES) await execResult('ip', ['link', 'del', bridgeOf(join(dir, node, 'runtime'))]).catch(() => undefined);
    await mirror?.stop();
    const left = dir ? mountsUnder(dir) : [];
    if (dir && !left.length) rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no mount is left under the test directory');
  });

  async function apply(name: string, yaml: string): Promise<void> {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    await c.kubectl('apply', '-f', file);
  }
  const podField = (pod: string, path: string): Promise<string> => c.kubectl('get', 'pod', pod, '-o', `jsonpath={${path}}`);
  const waitRunning = (pod: string): Promise<unknown> => c.kubectl('wait', `pod/${pod}`, '--for=condition=Ready', '--timeout=120s');
  const logsOf = (pod: string, want: RegExp): Promise<string> =>
    waitFor(async () => {
      const out = await c.kubectl('logs', pod);
      return want.test(out) && out;
    }, { timeoutMs: 30_000, what: `the log of ${pod}` });
  /** The FailedMount events of a pod, as `reason: message` lines. */
  const failedMounts = async (pod: string): Promise<string> =>
    (await c.kubectl('get', 'events', '--field-selector', `involvedObject.name=${pod}`, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}'))
      .split('\n')
      .filter((l) => l.startsWith('FailedMount: '))
      .join('\n');

  it('a pod writes to a claim of the default class, is deleted, and a new pod reads the same data (read-only, subPath)', async () => {
    await apply(
      'writer',
      `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {fsGroup: 2000}
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
  containers:
  - name: c
    image: "busybox:1.36"
    command: [sh, -c, 'echo kept > /data/f && echo nested > /sub/g && echo written; exec sleep 3600']
    volumeMounts: [{name: data, mountPath: /data}, {name: data, mountPath: /sub, subPath: deep/dir}]
`,
    );
    await waitRunning('writer');
    await logsOf('writer', /written/);
    const node = await podField('writer', '.spec.nodeName');
    assert.ok(NODES.includes(node));
    const pv = await c.kubectl('get', 'pvc', 'data', '-o', 'jsonpath={.spec.volumeName}');
    assert.equal(await c.kubectl('get', 'pv', pv, '-o', 'jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}'), node, 'the volume is pinned to the pod\'s node');
    const [volDir] = readdirSync(storage).filter((d) => d.startsWith('pvc-') && d.endsWith('_default_data'));
    assert.ok(volDir, 'the volume directory is on the node');
    assert.equal(readFileSync(join(storage, volDir, 'f'), 'utf8'), 'kept\n');
    assert.equal(readFileSync(join(storage, volDir, 'deep', 'dir', 'g'), 'utf8'), 'nested\n', 'the subPath was made inside the volume');
    assert.equal(await c.kubectl('exec', 'writer', '--', 'stat', '-c', '%g', '/data/f'), '2000\n', 'fsGroup owns the volume');

    await c.kubectl('delete', 'pod', 'writer', '--grace-period=1', '--wait=true', '--timeout=60s');
    assert.deepEqual(mountsUnder(join(dir, node, 'pods')), [], 'the pod\'s mounts are gone with it');
    assert.equal(readFileSync(join(storage, volDir, 'f'), 'utf8'), 'kept\n', 'the data outlives the pod');

    await apply(
      'reader',
      `apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, persistentVolumeClaim: {claimName: data, readOnly: true}}]
  containers:
  - name: c
    image: "busybox:1.36"
    command: [sh, -c, 'cat /data/f /sub/g; if touch /data/new 2>/dev/null; then echo writable; else echo read-only; fi; exec sleep 3600']
    volumeMounts: [{name: data, mountPath: /data}, {name: data, mountPath: /sub, subPath: deep/dir}]
`,
    );
    await waitRunning('reader');
    assert.equal(await podField('reader', '.spec.nodeName'), node, 'the scheduler follows the volume');
    assert.equal(await logsOf('reader', /read-only|writable/), 'kept\nnested\nread-only\n');
    assert.ok(!existsSync(join(storage, volDir, 'new')));
    await c.kubectl('delete', 'pod', 'reader', '--grace-period=1', '--wait=true', '--timeout=60s');
  });

  it('a StatefulSet\'s volumeClaimTemplates give each ordinal its own volume, which its recreated pod finds again', async () => {
    await apply(
      'db',
      `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: "busybox:1.36"
        command: [sh, -c, '[ -f /data/id ] || { hostname > /data/id; cat /proc/sys/kernel/random/uuid >> /data/id; }; cat /data/id; exec sleep 3600']
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`,
    );
    assert.match(await c.kubectl('rollout', 'status', 'sts/db', '--timeout=120s'), /partitioned roll out complete: 2 new pods have been updated/);
    const first = new Map<string, string>();
    for (const pod of ['db-0', 'db-1']) first.set(pod, await logsOf(pod, /^db-\d\n[0-9a-f-]{36}\n$/));
    assert.match(first.get('db-0') ?? '', /^db-0\n/);
    assert.match(first.get('db-1') ?? '', /^db-1\n/);
    assert.notEqual(await c.kubectl('get', 'pvc', 'data-db-0', '-o', 'jsonpath={.spec.volumeName}'), await c.kubectl('get', 'pvc', 'data-db-1', '-o', 'jsonpath={.spec.volumeName}'));
    const uid = await podField('db-0', '.metadata.uid');
    await c.kubectl('delete', 'pod', 'db-0', '--grace-period=1', '--wait=true', '--timeout=60s');
    await waitFor(async () => {
      const now = await c.kubectlResult(['get', 'pod', 'db-0', '-o', 'jsonpath={.metadata.uid} {.status.phase}']);
      return now.code === 0 && !now.stdout.startsWith(uid) && now.stdout.endsWith(' Running');
    }, { timeoutMs: 90_000, what: 'db-0 recreated and Running' });
    assert.equal(await logsOf('db-0', /^db-0\n[0-9a-f-]{36}\n$/), first.get('db-0'), 'the new db-0 reads what the old one wrote');
    await c.kubectl('delete', 'sts', 'db', '--wait=true', '--timeout=60s');
    await c.kubectl('delete', 'pods', '-l', 'app=db', '--grace-period=1', '--wait=true', '--timeout=60s');
  });

  it('a pod put by hand on a node its volume is not on is not started there; the scheduler puts one on the volume\'s node', async () => {
    const [here, there] = NODES as [string, string];
    mkdirSync(join(dir, 'pinned'));
    await apply(
      'pinned',
      `apiVersion: v1
kind: PersistentVolume
metadata: {name: pinned}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  local: {path: "${join(dir, 'pinned')}"}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${there}]}]}]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pinned}
spec: {accessModes: [ReadWriteOnce], storageClassName: manual, volumeName: pinned, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: misplaced}
spec:
  nodeName: ${here}
  terminationGracePeriodSeconds: 1
  volumes: [{name: v, persistentVolumeClaim: {claimName: pinned}}]
  containers:
  - {name: c, image: "busybox:1.36", command: [sleep, "3600"], volumeMounts: [{name: v, mountPath: /v}]}
`,
    );
    const events = await waitFor(async () => {
      const out = await failedMounts('misplaced');
      return /NodeAffinity/.test(out) && out;
    }, { timeoutMs: 30_000, what: 'a FailedMount event for the misplaced pod' });
    assert.match(events, /^FailedMount: MountVolume\.NodeAffinity check failed for volume "pinned" : no matching NodeSelectorTerms$/m);
    assert.equal(await podField('misplaced', '.status.containerStatuses[0].state.waiting.reason'), 'ContainerCreating');
    assert.equal(await podField('misplaced', '.status.phase'), 'Pending');
    assert.deepEqual(mountsUnder(join(dir, here, 'pods')), [], 'nothing was mounted on the wrong node');
    await c.kubectl('delete', 'pod', 'misplaced', '--grace-period=0', '--force', '--wait=true', '--timeout=60s');

    await apply(
      'placed',
      `apiVersion: v1
kind: Pod
metadata: {name: placed}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: v, persistentVolumeClaim: {claimName: pinned}}]
  containers:
  - {name: c, image: "busybox:1.36", command: [sh, -c, 'echo from-pod > /v/out; exec sleep 3600'], volumeMounts: [{name: v, mountPath: /v}]}
`,
    );
    await waitRunning('placed');
    assert.equal(await podField('placed', '.spec.nodeName'), there);
    await waitFor(() => existsSync(join(dir, 'pinned', 'out')), { timeoutMs: 20_000, what: 'the pod\'s write in the local volume' });
    await waitFor(async () => (await c.kubectl('get', 'node', there, '-o', 'jsonpath={.status.volumesInUse}')) === '["kubernetes.io/local-volume/pinned"]', { timeoutMs: 30_000, what: 'the local volume in the node\'s volumesInUse' });
    await c.kubectl('delete', 'pod', 'placed', '--grace-period=1', '--wait=true', '--timeout=60s');
  });

  it('a WaitForFirstConsumer claim binds once its pod is scheduled; it grows; in use it survives `kubectl delete pvc` until the pod is gone; Delete removes its directory, Retain keeps it', async () => {
    const classes = (name: string, reclaim: string): string => `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${name}}
provisioner: rancher.io/local-path
parameters: {nodePath: "${storage}"}
reclaimPolicy: ${reclaim}
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
`;
    await apply(
      'lifecycle',
      `${classes('grow-delete', 'Delete')}---
${classes('grow-retain', 'Retain')}---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: gone}
spec: {accessModes: [ReadWriteOnce], storageClassName: grow-delete, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kept}
spec: {accessModes: [ReadWriteOnce], storageClassName: grow-retain, resources: {requests: {storage: 1Gi}}}
`,
    );
    const claimField = (claim: string, path: string): Promise<string> => c.kubectl('get', 'pvc', claim, '-o', `jsonpath={${path}}`);
    // No consumer yet: the binder says so and neither claim gets a volume.
    for (const claim of ['gone', 'kept']) {
      await waitFor(async () => /^WaitForFirstConsumer: waiting for first consumer to be created before binding$/m.test(
        await c.kubectl('get', 'events', '--field-selector', `involvedObject.name=${claim},involvedObject.kind=PersistentVolumeClaim`, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}'),
      ), { timeoutMs: 30_000, what: `the WaitForFirstConsumer event of ${claim}` });
      assert.equal(await claimField(claim, '.status.phase} {.spec.volumeName'), 'Pending ');
    }
    await apply(
      'lifecycle-user',
      `apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: a, persistentVolumeClaim: {claimName: gone}}, {name: b, persistentVolumeClaim: {claimName: kept}}]
  containers:
  - {name: c, image: "busybox:1.36", command: [sh, -c, 'echo a > /a/f && echo b > /b/f; exec sleep 3600'], volumeMounts: [{name: a, mountPath: /a}, {name: b, mountPath: /b}]}
`,
    );
    await waitRunning('user');
    const node = await podField('user', '.spec.nodeName');
    const volumes = new Map<string, { pv: string; dir: string }>();
    for (const claim of ['gone', 'kept']) {
      assert.equal(await claimField(claim, '.status.phase'), 'Bound');
      const pv = await claimField(claim, '.spec.volumeName');
      assert.equal(await c.kubectl('get', 'pv', pv, '-o', 'jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}'), node, 'the volume carries the pod\'s node');
      const volDir = await waitFor(() => readdirSync(storage).find((d) => d.endsWith(`_default_${claim}`)), { timeoutMs: 10_000, what: `the directory of ${claim}` });
      await waitFor(() => existsSync(join(storage, volDir, 'f')), { timeoutMs: 20_000, what: `the pod's write in ${claim}` });
      volumes.set(claim, { pv, dir: join(storage, volDir) });
    }
    // Expansion: the class allows it, the driver grows the volume, the claim's status shows the new size.
    await c.kubectl('patch', 'pvc', 'gone', '-p', '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}');
    await waitFor(async () => (await claimField('gone', '.status.capacity.storage')) === '2Gi', { timeoutMs: 30_000, what: 'the claim\'s status at 2Gi' });
    assert.equal(await c.kubectl('get', 'pv', volumes.get('gone')!.pv, '-o', 'jsonpath={.spec.capacity.storage}'), '2Gi');
    assert.equal(await claimField('gone', '.status.conditions'), '', 'no resize condition is left');
    // Deleting claims in use: Terminating, held by the protection finalizer, while the pod runs.
    await c.kubectl('delete', 'pvc', 'gone', 'kept', '--wait=false');
    for (const claim of ['gone', 'kept']) {
      assert.notEqual(await claimField(claim, '.metadata.deletionTimestamp'), '', `${claim} is Terminating`);
      assert.equal(await claimField(claim, '.metadata.finalizers'), '["kubernetes.io/pvc-protection"]');
    }
    assert.equal(await podField('user', '.status.phase'), 'Running');
    assert.ok(existsSync(join(volumes.get('gone')!.dir, 'f')), 'the data is there while the pod uses it');
    await c.kubectl('delete', 'pod', 'user', '--grace-period=1', '--wait=true', '--timeout=60s');
    for (const claim of ['gone', 'kept']) {
      await waitFor(async () => (await c.kubectlResult(['get', 'pvc', claim])).code !== 0, { timeoutMs: 60_000, what: `${claim} gone once its pod is gone` });
    }
    // Delete: the volume and its directory go. Retain: the volume stays Released, its directory and data with it.
    await waitFor(async () => (await c.kubectlResult(['get', 'pv', volumes.get('gone')!.pv])).code !== 0, { timeoutMs: 60_000, what: 'the Delete volume gone' });
    await waitFor(() => !existsSync(volumes.get('gone')!.dir), { timeoutMs: 30_000, what: 'the Delete volume\'s directory removed' });
    const kept = volumes.get('kept')!;
    await waitFor(async () => (await c.kubectl('get', 'pv', kept.pv, '-o', 'jsonpath={.status.phase}')) === 'Released', { timeoutMs: 30_000, what: 'the Retain volume Released' });
    assert.equal(readFileSync(join(kept.dir, 'f'), 'utf8'), 'b\n', 'Retain keeps the data');
    // The administrator's part.
    await c.kubectl('delete', 'pv', kept.pv, '--wait=true', '--timeout=60s');
    rmSync(kept.dir, { recursive: true, force: true });
  });

  it('a pod whose claim is unbound waits with FailedMount, and starts once the claim binds', async () => {
    await apply(
      'waiting',
      `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: later}
spec: {accessModes: [ReadWriteOnce], storageClassName: by-hand, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: waiting}
spec:
  nodeName: ${NODES[0]}
  terminationGracePeriodSeconds: 1
  volumes: [{name: v, persistentVolumeClaim: {claimName: later}}]
  containers:
  - {name: c, image: "busybox:1.36", command: [sh, -c, 'ls /v; exec sleep 3600'], volumeMounts: [{name: v, mountPath: /v}]}
`,
    );
    const events = await waitFor(async () => {
      const out = await failedMounts('waiting');
      return /not bound/.test(out) && out;
    }, { timeoutMs: 30_000, what: 'a FailedMount event for the unbound claim' });
    assert.match(events, /^FailedMount: Unable to attach or mount volumes: unmounted volumes=\[v\], unattached volumes=\[v\], failed to process volumes=\[v\]: error processing PVC default\/later: PVC is not bound$/m);
    assert.equal(await podField('waiting', '.status.containerStatuses[0].state.waiting.reason'), 'ContainerCreating');
    const hostDir = join(dir, 'by-hand');
    mkdirSync(hostDir);
    writeFileSync(join(hostDir, 'seen-by-pod'), '');
    await apply(
      'later-pv',
      `apiVersion: v1
kind: PersistentVolume
metadata: {name: later}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: by-hand
  hostPath: {path: "${hostDir}", type: Directory}
`,
    );
    await waitRunning('waiting');
    assert.equal(await logsOf('waiting', /seen-by-pod/), 'seen-by-pod\n');
    await c.kubectl('delete', 'pod', 'waiting', '--grace-period=1', '--wait=true', '--timeout=60s');
  });

  it('an ephemeral volume is a claim of the pod: provisioned, mounted, and its claim deleted with the pod', async () => {
    await apply(
      'scratch',
      `apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: tmp
    ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}
  containers:
  - {name: c, image: "busybox:1.36", command: [sh, -c, 'echo scratch > /tmp/x/f; exec sleep 3600'], volumeMounts: [{name: tmp, mountPath: /tmp/x}]}
`,
    );
    await waitRunning('scratch');
    assert.equal(await c.kubectl('get', 'pvc', 'scratch-tmp', '-o', 'jsonpath={.status.phase} {.metadata.ownerReferences[0].name}'), 'Bound scratch');
    const volDir = await waitFor(() => readdirSync(storage).find((d) => d.endsWith('_default_scratch-tmp')), { timeoutMs: 10_000, what: 'the ephemeral volume directory' });
    await waitFor(() => existsSync(join(storage, volDir, 'f')), { timeoutMs: 20_000, what: 'the write in the ephemeral volume' });
    const pv = await c.kubectl('get', 'pvc', 'scratch-tmp', '-o', 'jsonpath={.spec.volumeName}');
    await c.kubectl('delete', 'pod', 'scratch', '--grace-period=1', '--wait=true', '--timeout=60s');
    // The claim goes with its pod (garbage collector), then its volume (Delete reclaim): the agent of the volume's node,
    // with its node credentials, removes the directory and then the cleanup finalizer (the one PV write NodeRestriction
    // lets a node make).
    await waitFor(async () => (await c.kubectlResult(['get', 'pvc', 'scratch-tmp'])).code !== 0, { timeoutMs: 60_000, what: 'the ephemeral claim gone with its pod' });
    await waitFor(async () => (await c.kubectlResult(['get', 'pv', pv])).code !== 0, { timeoutMs: 60_000, what: 'the ephemeral volume gone after its node cleaned it up' });
    assert.ok(!existsSync(join(storage, volDir)), 'the node removed the volume directory');
  });
});
