// The real kubectl (v1.32) through a day of work, as one suite run against any API server: the in-process harness
// (test/apiserver/kubectl.test.ts) and a `ketch server` process on each storage backend (test/e2e/kubectl-server.test.ts).
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

export interface KubectlTarget {
  /** The admin kubeconfig the server wrote. */
  kubeconfig: string;
  stop(): Promise<void>;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Defines the scenarios in the calling describe(); start() brings up the server they run against. */
export function kubectlScenarios(start: () => Promise<KubectlTarget>): void {
  let target: KubectlTarget | undefined;
  let home: string;
  let env: NodeJS.ProcessEnv;

  const k = (args: string[], input?: string): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(KUBECTL, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await k(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  /** A failing command's stderr, which must be exactly these lines. */
  const fails = async (args: string[], lines: string[]): Promise<void> => {
    const r = await k(args);
    assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should fail: ${r.stdout}`);
    assert.deepEqual(r.stderr.trimEnd().split('\n'), lines);
  };
  const file = (name: string, text: string): string => {
    const p = join(home, name);
    writeFileSync(p, text);
    return p;
  };
  const deployYaml = (replicas: number, image = 'nginx:1.27'): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  namespace: e2e
  labels: {app: demo}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers:
      - name: app
        image: ${image}
        ports: [{containerPort: 80}]
`;

  before(async function () {
    if (!existsSync(KUBECTL)) throw new Error(`kubectl v1.32 is required at ${KUBECTL}`);
    target = await start();
    home = mkdtempSync(join(tmpdir(), 'ketch-kubectl-home-'));
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECACHEDIR: join(home, 'cache'), KUBECONFIG: target.kubeconfig };
  });
  after(async () => {
    await target?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('kubectl version reports the 1.32 server', async () => {
    assert.match(await ok(['version']), /Server Version: v1\.32\./);
  });

  it('kubectl api-resources lists every kind with short names', async () => {
    const out = await ok(['api-resources']);
    assert.match(out, /deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
    assert.match(out, /pods\s+po\s+v1\s+true\s+Pod/);
    assert.match(out, /leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease/);
  });

  it('kubectl create namespace (protobuf body)', async () => {
    assert.match(await ok(['create', 'namespace', 'e2e']), /namespace\/e2e created/);
    assert.match(await ok(['get', 'ns', 'e2e']), /e2e\s+Active/);
  });

  it('kubectl apply -f twice: created, then configured with the new replica count', async () => {
    assert.match(await ok(['apply', '-f', file('d2.yaml', deployYaml(2))]), /deployment.apps\/demo created/);
    assert.match(await ok(['apply', '-f', file('d3.yaml', deployYaml(3))]), /deployment.apps\/demo configured/);
    assert.match(await ok(['apply', '-f', join(home, 'd3.yaml')]), /deployment.apps\/demo unchanged/);
    assert.equal(await ok(['get', 'deploy', 'demo', '-n', 'e2e', '-o', 'jsonpath={.spec.replicas}/{.metadata.generation}']), '3/2');
    const img = await ok(['apply', '-f', file('d4.yaml', deployYaml(3, 'nginx:1.28'))]);
    assert.match(img, /configured/);
    assert.equal(await ok(['get', 'deploy', 'demo', '-n', 'e2e', '-o', 'jsonpath={.spec.template.spec.containers[*].image}']), 'nginx:1.28');
  });

  it('kubectl apply -f of a multi-document file creates each object', async () => {
    const multi = file(
      'multi.yaml',
      `apiVersion: v1
kind: ConfigMap
metadata: {name: multi-a, namespace: e2e, labels: {set: multi}}
data: {k: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: multi-b, namespace: e2e, labels: {set: multi}}
data: {k: b}
---
apiVersion: v1
kind: Service
metadata: {name: multi-svc, namespace: e2e}
spec:
  selector: {app: demo}
  ports: [{port: 80, targetPort: 80}]
`,
    );
    const out = await ok(['apply', '-f', multi]);
    assert.deepEqual(out.trim().split('\n'), ['configmap/multi-a created', 'configmap/multi-b created', 'service/multi-svc created']);
    assert.equal(await ok(['get', 'cm', '-n', 'e2e', '-l', 'set=multi', '-o', 'jsonpath={.items[*].data.k}']), 'a b');
    assert.match(await ok(['get', 'svc', 'multi-svc', '-n', 'e2e']), /multi-svc\s+ClusterIP\s+10\.\d+\.\d+\.\d+\s+<none>\s+80\/TCP/);
  });

  it('kubectl get deploy / -o yaml / -o wide / -o json', async () => {
    assert.match(await ok(['get', 'deploy', '-n', 'e2e']), /NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\ndemo\s+0\/3\s+0\s+0\s+\d+s/);
    const yaml = await ok(['get', 'deploy', 'demo', '-n', 'e2e', '-o', 'yaml']);
    assert.match(yaml, /kind: Deployment/);
    assert.match(yaml, /kubectl.kubernetes.io\/last-applied-configuration/);
    assert.match(await ok(['get', 'deploy', '-n', 'e2e', '-o', 'wide']), /CONTAINERS\s+IMAGES\s+SELECTOR\n.*app\s+nginx:1.28\s+app=demo/);
    const list = JSON.parse(await ok(['get', 'deploy', '-n', 'e2e', '-o', 'json'])) as { kind: string; items: { metadata: { name: string }; spec: { replicas: number } }[] };
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items.map((d) => [d.metadata.name, d.spec.replicas]), [['demo', 3]]);
  });

  it('kubectl run and get pods -o wide', async () => {
    assert.match(await ok(['run', 'web', '--image=nginx', '-n', 'e2e', '--labels=app=web']), /pod\/web created/);
    const out = await ok(['get', 'pods', '-o', 'wide', '-n', 'e2e']);
    assert.match(out, /NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/);
    assert.match(out, /web\s+0\/1\s+Pending\s+0\s+\d+s\s+<none>\s+<none>/);
    assert.match(await ok(['get', 'po', '-A', '--show-labels']), /e2e\s+web\s+.*app=web/);
    assert.match(await ok(['get', 'ns', '-A']), /default\s+Active[\s\S]*e2e\s+Active[\s\S]*kube-system\s+Active/);
  });

  it('kubectl get --field-selector', async () => {
    assert.equal((await ok(['get', 'pods', '-A', '--field-selector', 'metadata.name=web', '-o', 'name'])).trim(), 'pod/web');
    assert.equal((await ok(['get', 'pods', '-n', 'e2e', '--field-selector', 'status.phase=Pending,metadata.namespace=e2e', '-o', 'name'])).trim(), 'pod/web');
    assert.equal(await ok(['get', 'pods', '-n', 'e2e', '--field-selector', 'status.phase=Running', '-o', 'name']), '');
    await fails(['get', 'pods', '-n', 'e2e', '--field-selector', 'spec.bogus=x'], [
      'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.bogus=x": field label not supported: spec.bogus',
    ]);
  });

  it('kubectl label, annotate', async () => {
    assert.match(await ok(['label', 'pod', 'web', 'tier=front', '-n', 'e2e']), /pod\/web labeled/);
    assert.match(await ok(['annotate', 'pod', 'web', 'note=hello', '-n', 'e2e']), /pod\/web annotated/);
    assert.equal(await ok(['get', 'pod', 'web', '-n', 'e2e', '-o', 'jsonpath={.metadata.labels.tier}/{.metadata.annotations.note}']), 'front/hello');
    assert.match(await ok(['get', 'pods', '-n', 'e2e', '-l', 'tier=front', '-o', 'name']), /^pod\/web$/m);
  });

  it('kubectl patch: strategic, merge and json', async () => {
    await ok(['patch', 'deploy', 'demo', '-n', 'e2e', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.29"}]}}}}']);
    await ok(['patch', 'deploy', 'demo', '-n', 'e2e', '--type=merge', '-p', '{"metadata":{"labels":{"patched":"merge"}}}']);
    await ok(['patch', 'deploy', 'demo', '-n', 'e2e', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]']);
    const out = await ok(['get', 'deploy', 'demo', '-n', 'e2e', '-o', 'jsonpath={.spec.template.spec.containers[*].name}/{.spec.template.spec.containers[*].image}/{.metadata.labels.patched}/{.spec.replicas}']);
    assert.equal(out, 'app/nginx:1.29/merge/4');
  });

  it('kubectl scale deploy --replicas=3 (via /scale)', async () => {
    assert.match(await ok(['scale', 'deploy', 'demo', '-n', 'e2e', '--replicas=3']), /deployment.apps\/demo scaled/);
    assert.equal(await ok(['get', 'deploy', 'demo', '-n', 'e2e', '-o', 'jsonpath={.spec.replicas}']), '3');
  });

  it('kubectl create configmap, secret and deployment (protobuf bodies)', async () => {
    assert.match(await ok(['create', 'configmap', 'cfg', '-n', 'e2e', '--from-literal=a=b', '--from-literal=c=d']), /configmap\/cfg created/);
    assert.equal(await ok(['get', 'cm', 'cfg', '-n', 'e2e', '-o', 'jsonpath={.data.a}{.data.c}']), 'bd');
    assert.match(await ok(['create', 'deployment', 'made', '-n', 'e2e', '--image=busybox', '--replicas=2', '--port=8080']), /deployment.apps\/made created/);
    assert.equal(await ok(['get', 'deploy', 'made', '-n', 'e2e', '-o', 'jsonpath={.spec.replicas}/{.spec.template.spec.containers[0].ports[0].containerPort}']), '2/8080');
    assert.match(await ok(['create', 'secret', 'generic', 'sec', '-n', 'e2e', '--from-literal=user=admin', '--type=example.com/login']), /secret\/sec created/);
    assert.equal(await ok(['get', 'secret', 'sec', '-n', 'e2e', '-o', 'jsonpath={.type} {.data.user}']), `example.com/login ${Buffer.from('admin').toString('base64')}`);
  });

  it('kubectl apply --server-side, with conflicts and --force-conflicts', async () => {
    const ssa = file('ssa.yaml', deployYaml(5).replace('name: demo', 'name: ssa'));
    assert.match(await ok(['apply', '--server-side', '-f', ssa]), /deployment.apps\/ssa serverside-applied/);
    await ok(['scale', 'deploy', 'ssa', '-n', 'e2e', '--replicas=1']);
    const conflict = await k(['apply', '--server-side', '-f', ssa]);
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /Apply failed with 1 conflict: conflict with "kubectl" .*\.spec\.replicas/);
    assert.match(await ok(['apply', '--server-side', '--force-conflicts', '-f', ssa]), /serverside-applied/);
    assert.equal(await ok(['get', 'deploy', 'ssa', '-n', 'e2e', '-o', 'jsonpath={.spec.replicas}']), '5');
  });

  it('kubectl get -w prints changes until it is stopped', async () => {
    const child = spawn(KUBECTL, ['get', 'cm', '-n', 'e2e', '-w'], { env });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const until = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!re.test(out)) {
        if (Date.now() > deadline) throw new Error(`kubectl get -w never printed ${re}: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await until(/cfg\s+2\s+\d+s/);
      await ok(['create', 'configmap', 'watched', '-n', 'e2e', '--from-literal=x=y']);
      await until(/watched\s+1\s+\d+s/);
    } finally {
      child.kill();
    }
  });

  it('kubectl explain pod.spec.containers', async () => {
    const out = await ok(['explain', 'pod.spec.containers']);
    assert.match(out, /KIND:\s+Pod/);
    assert.match(out, /FIELDS:/);
    assert.match(out, /image\s+<string>/);
  });

  it('kubectl describe deploy and pod', async () => {
    const d = await ok(['describe', 'deploy', 'demo', '-n', 'e2e']);
    assert.match(d, /Name:\s+demo/);
    assert.match(d, /Replicas:\s+3 desired/);
    assert.match(d, /Image:\s+nginx:1.29/);
    assert.match(await ok(['describe', 'pod', 'web', '-n', 'e2e']), /Status:\s+Pending/);
  });

  it('kubectl errors print the server Status', async () => {
    await fails(['get', 'pod', 'nope', '-n', 'e2e'], ['Error from server (NotFound): pods "nope" not found']);
    await fails(['create', 'configmap', 'cfg', '-n', 'e2e'], ['error: failed to create configmap: configmaps "cfg" already exists']);
    await fails(['create', '-f', join(home, 'multi.yaml')], [
      'Error from server (AlreadyExists): error when creating "' + join(home, 'multi.yaml') + '": configmaps "multi-a" already exists',
      'Error from server (AlreadyExists): error when creating "' + join(home, 'multi.yaml') + '": configmaps "multi-b" already exists',
      'Error from server (AlreadyExists): error when creating "' + join(home, 'multi.yaml') + '": services "multi-svc" already exists',
    ]);
    const stale = file('stale.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: e2e, resourceVersion: "1"}\ndata: {a: z}\n');
    await fails(['replace', '-f', stale], [
      `Error from server (Conflict): error when replacing "${stale}": Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again`,
    ]);
    await fails(['create', '-f', file('invalid.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: invalid, namespace: e2e}\nspec: {containers: []}\n')], [
      `The Pod "invalid" is invalid: spec.containers: Required value`,
    ]);
    const bad = await k(['apply', '-f', file('bad.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: e2e}\nspec: {containers: []}\n')]);
    assert.match(bad.stderr, /The Pod "bad" is invalid: spec.containers: Required value/);
    const unknown = await k(['apply', '-f', file('unk.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unk, namespace: e2e}\nbogus: 1\n')]);
    assert.match(unknown.stderr, /strict decoding error: unknown field "bogus"/);
    const missingNs = await k(['create', 'configmap', 'x', '-n', 'nosuch']);
    assert.match(missingNs.stderr, /namespaces "nosuch" not found/);
  });

  it('kubectl delete waits for the object to go', async () => {
    assert.match(await ok(['delete', 'pod', 'web', '-n', 'e2e', '--wait']), /pod "web" deleted/);
    await fails(['get', 'pod', 'web', '-n', 'e2e'], ['Error from server (NotFound): pods "web" not found']);
    assert.match(await ok(['delete', 'deploy', 'demo', '-n', 'e2e']), /deployment.apps "demo" deleted/);
    assert.match(await ok(['delete', '-f', join(home, 'ssa.yaml')]), /deployment.apps "ssa" deleted/);
    const left = await ok(['get', 'deploy', '-n', 'e2e', '-o', 'name']);
    assert.equal(left.trim(), 'deployment.apps/made');
  });

  it('kubectl auth whoami and can-i, create token, and that token as the credential', async () => {
    assert.match(await ok(['auth', 'whoami']), /^Username\s+admin$[\s\S]*^Groups\s+\[kubeadm:cluster-admins system:authenticated\]$/m);
    assert.equal((await ok(['auth', 'can-i', 'create', 'deployments', '-n', 'e2e'])).trim(), 'yes');
    assert.equal((await ok(['auth', 'can-i', 'get', '/healthz'])).trim(), 'yes');
    assert.match(await ok(['auth', 'can-i', '--list', '-n', 'e2e']), /^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
    const token = (await ok(['create', 'token', 'default', '-n', 'e2e', '--duration', '15m'])).trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.match(await ok(['--token', token, 'auth', 'whoami']), /^Username\s+system:serviceaccount:e2e:default$/m);
  });

  it('kubectl drain cordons a node and evicts its pods', async () => {
    const manifests = `apiVersion: v1
kind: Node
metadata: {name: drain-me}
---
apiVersion: v1
kind: Pod
metadata: {name: on-drain-me, namespace: e2e}
spec:
  nodeName: drain-me
  containers: [{name: c, image: busybox:1.36}]
`;
    await ok(['apply', '-f', file('drain.yaml', manifests)]);
    const out = await ok(['drain', 'drain-me', '--force', '--grace-period=0', '--timeout=30s']);
    assert.match(out, /evicting pod e2e\/on-drain-me/);
    assert.match(out, /pod\/on-drain-me evicted/);
    assert.match(out, /node\/drain-me drained/);
    await fails(['get', 'pod', 'on-drain-me', '-n', 'e2e'], ['Error from server (NotFound): pods "on-drain-me" not found']);
    assert.equal(await ok(['get', 'node', 'drain-me', '-o', 'jsonpath={.spec.unschedulable}']), 'true');
    await ok(['delete', 'node', 'drain-me']);
  });
}
