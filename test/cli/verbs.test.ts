// The ketch CLI's verbs against a real API server: tables, output formats, apply, delete, label, patch, scale,
// autoscale, wait.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';

const deployment = (name: string, replicas: number, image = 'nginx', labels: Record<string, string> = { app: 'demo' }): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: ${JSON.stringify(labels)}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
      - name: c
        image: ${image}
`;

const configMap = (name: string, data: Record<string, string>, labels: Record<string, string> = { app: 'demo' }): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  labels: ${JSON.stringify(labels)}\ndata: ${JSON.stringify(data)}\n`;

describe('ketch verbs', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  describe('get', () => {
    it('prints the server table with kubectl alignment', async () => {
      const r = await h.ketch(['get', 'ns']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^NAME {2,}STATUS {3}AGE$/);
      assert.ok(lines.some((l) => /^default {3,}Active {3}\d+s$/.test(l)), r.stdout);
      // columns line up: STATUS starts at the same offset on every line
      const at = lines[0]!.indexOf('STATUS');
      assert.ok(lines.every((l) => l.slice(at).match(/^(STATUS|Active)/)), r.stdout);
    });

    it('reports NotFound as kubectl does, with exit code 1', async () => {
      const r = await h.ketch(['get', 'pod', 'x']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim(), 'Error from server (NotFound): pods "x" not found');
      assert.equal(r.stdout, '');
    });

    it('says so when a list is empty, and fails on unknown types', async () => {
      const r = await h.ketch(['get', 'pods', '-n', 'kube-public']);
      assert.equal(r.code, 0);
      assert.equal(r.stderr.trim(), 'No resources found in kube-public namespace.');
      const u = await h.ketch(['get', 'widgets']);
      assert.equal(u.code, 1);
      assert.match(u.stderr, /error: the server doesn't have a resource type "widgets"/);
      const none = await h.ketch(['get']);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /You must specify the type of resource to get/);
      const ctx = await h.ketch(['get', 'ns', '--context', 'nope']);
      assert.equal(ctx.code, 1);
      assert.equal(ctx.stderr.trim(), 'error: context "nope" does not exist in the kubeconfig');
    });

    it('prints yaml, json, name, jsonpath and custom-columns', async () => {
      assert.equal((await h.ketch(['create', 'configmap', 'fmt', '--from-literal', 'k=v'])).code, 0);
      const y = await h.ketch(['get', 'cm', 'fmt', '-o', 'yaml']);
      assert.match(y.stdout, /^apiVersion: v1\ndata:\n {2}k: v\nkind: ConfigMap\nmetadata:\n/);
      assert.match(y.stdout, /creationTimestamp: "\d{4}-/);
      const j = JSON.parse((await h.ketch(['get', 'configmaps', '-o', 'json'])).stdout) as { kind: string; items: { kind: string; metadata: { name: string } }[] };
      assert.equal(j.kind, 'List');
      assert.ok(j.items.some((i) => i.kind === 'ConfigMap' && i.metadata.name === 'fmt'));
      assert.equal((await h.ketch(['get', 'cm', 'fmt', '-o', 'name'])).stdout, 'configmap/fmt\n');
      const jp = await h.ketch(['get', 'cm', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.data.k}{"\\n"}{end}']);
      // Every namespace also holds the cluster CA (kube-root-ca.crt), as in Kubernetes.
      assert.equal(jp.stdout, 'fmt=v\nkube-root-ca.crt=\n');
      const jp2 = await h.ketch(['get', 'ns', '-o', 'jsonpath={.items[?(@.metadata.name=="default")].status.phase}']);
      assert.equal(jp2.stdout, 'Active');
      const cc = await h.ketch(['get', 'cm', 'fmt', '-o', 'custom-columns=NAME:.metadata.name,VALUE:.data.k,MISSING:.data.zz']);
      assert.equal(cc.stdout, 'NAME   VALUE   MISSING\nfmt    v       <none>\n');
      const bad = await h.ketch(['get', 'cm', '-o', 'xml']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /unable to match a printer suitable for the output format "xml"/);
    });

    it('filters with -l and --field-selector, shows labels, and lists across namespaces', async () => {
      await h.ketch(['create', 'ns', 'team-a']);
      await h.ketch(['apply', '-n', 'team-a', '-f', '-'], { stdin: configMap('sel', { a: '1' }, { tier: 'web' }) });
      const l = await h.ketch(['get', 'cm', '-A', '-l', 'tier=web', '--show-labels']);
      assert.equal(l.code, 0, l.stderr);
      assert.match(l.stdout, /^NAMESPACE +NAME +DATA +AGE +LABELS\nteam-a +sel +1 +\d+s +tier=web\n$/);
      const f = await h.ketch(['get', 'cm', '-n', 'team-a', '--field-selector', 'metadata.name=nope']);
      assert.equal(f.stdout, '');
      assert.equal(f.stderr.trim(), 'No resources found in team-a namespace.');
      const multi = await h.ketch(['get', 'cm,ns', '-n', 'team-a']);
      assert.match(multi.stdout, /configmap\/sel/);
      assert.match(multi.stdout, /namespace\/team-a/);
    });

    it('watches (-w) and prints changes as they happen', async () => {
      const w = h.start(['get', 'cm', '-n', 'team-a', '-w']);
      try {
        await waitUntil(() => /sel/.test(w.output()));
        await h.ketch(['create', 'cm', 'watched', '-n', 'team-a']);
        await waitUntil(() => /watched/.test(w.output()));
      } finally {
        w.stop();
      }
    });
  });

  describe('apply', () => {
    it('creates, leaves unchanged, configures and prunes (client-side)', async () => {
      const file = join(h.dir, 'app.yaml');
      writeFileSync(file, configMap('app-cfg', { a: '1' }) + '---\n' + deployment('app', 2));
      let r = await h.ketch(['apply', '-f', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'configmap/app-cfg created\ndeployment.apps/app created\n');
      r = await h.ketch(['apply', '-f', file]);
      assert.equal(r.stdout, 'configmap/app-cfg unchanged\ndeployment.apps/app unchanged\n');
      const last = await h.ketch(['get', 'deploy', 'app', '-o', 'jsonpath={.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}']);
      assert.equal((JSON.parse(last.stdout) as { spec: { replicas: number } }).spec.replicas, 2, JSON.stringify(last));

      // Someone else adds a label; apply keeps it (three-way), changes the image and drops the config map.
      await h.ketch(['label', 'deploy', 'app', 'owner=ops']);
      writeFileSync(file, deployment('app', 3, 'nginx:1.27'));
      r = await h.ketch(['apply', '-f', file, '--prune', '-l', 'app=demo']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'deployment.apps/app configured\nconfigmap/app-cfg pruned\n');
      const got = await h.ketch(['get', 'deploy', 'app', '-o', 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.labels.owner}']);
      assert.equal(got.stdout, '3 nginx:1.27 ops');
      assert.equal((await h.ketch(['get', 'cm', 'app-cfg'])).code, 1);

      // Removing a field from the file removes it from the object.
      writeFileSync(file, deployment('app', 3, 'nginx:1.27', {}).replace('  labels: {}\n', ''));
      r = await h.ketch(['apply', '-f', file]);
      assert.equal(r.stdout, 'deployment.apps/app configured\n');
      const labels = await h.ketch(['get', 'deploy', 'app', '-o', 'jsonpath={.metadata.labels}']);
      assert.deepEqual(JSON.parse(labels.stdout), { owner: 'ops' });
    });

    it('applies from stdin and directories, server-side', async () => {
      const dir = join(h.dir, 'manifests');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'a.yaml'), configMap('ssa-a', { x: '1' }));
      writeFileSync(join(dir, 'b.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa-b' }, data: { y: '2' } }));
      writeFileSync(join(dir, 'ignored.txt'), 'not a manifest');
      const r = await h.ketch(['apply', '--server-side', '-f', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'configmap/ssa-a serverside-applied\nconfigmap/ssa-b serverside-applied\n');
      const mf = await h.ketch(['get', 'cm', 'ssa-a', '-o', 'jsonpath={.metadata.managedFields[0].manager}/{.metadata.managedFields[0].operation}']);
      assert.equal(mf.stdout, 'kubectl/Apply');
      const s = await h.ketch(['apply', '-f', '-'], { stdin: configMap('stdin-cm', { z: '3' }) });
      assert.equal(s.stdout, 'configmap/stdin-cm created\n');
      const bad = await h.ketch(['apply', '-f', '-'], { stdin: 'metadata:\n  name: x\n' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /apiVersion not set, kind not set/);
    });

    it('create fails on existing objects', async () => {
      const r = await h.ketch(['create', '-f', '-'], { stdin: configMap('stdin-cm', {}) });
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim(), 'Error from server (AlreadyExists): configmaps "stdin-cm" already exists');
    });
  });

  describe('delete', () => {
    it('deletes by label and by name, reporting missing ones', async () => {
      for (const n of ['d1', 'd2', 'd3']) await h.ketch(['apply', '-f', '-'], { stdin: configMap(n, {}, { group: n === 'd3' ? 'keep' : 'drop' }) });
      const r = await h.ketch(['delete', 'cm', '-l', 'group=drop']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'configmap "d1" deleted\nconfigmap "d2" deleted\n');
      const left = await h.ketch(['get', 'cm', '-l', 'group', '-o', 'name']);
      assert.equal(left.stdout, 'configmap/d3\n');
      const m = await h.ketch(['delete', 'cm', 'd3', 'missing']);
      assert.equal(m.code, 1);
      assert.equal(m.stdout, 'configmap "d3" deleted\n');
      assert.equal(m.stderr.trim(), 'Error from server (NotFound): configmaps "missing" not found');
      assert.equal((await h.ketch(['delete', 'cm', 'missing', '--ignore-not-found'])).code, 0);
      const none = await h.ketch(['delete', 'cm', '-l', 'group=nothing']);
      assert.equal(none.stderr.trim(), 'No resources found');
    });
  });

  describe('label, annotate, patch', () => {
    it('adds, refuses to overwrite, overwrites and removes labels', async () => {
      await h.ketch(['create', 'cm', 'lab']);
      assert.equal((await h.ketch(['label', 'cm', 'lab', 'a=1', 'b=2'])).stdout, 'configmap/lab labeled\n');
      const clash = await h.ketch(['label', 'cm/lab', 'a=9']);
      assert.equal(clash.code, 1);
      assert.equal(clash.stderr.trim(), "error: 'a' already has a value (1), and --overwrite is false");
      assert.equal((await h.ketch(['label', 'cm/lab', 'a=9', 'b-', '--overwrite'])).stdout, 'configmap/lab labeled\n');
      assert.equal((await h.ketch(['get', 'cm', 'lab', '-o', 'jsonpath={.metadata.labels}'])).stdout, '{"a":"9"}');
      assert.equal((await h.ketch(['annotate', 'cm', 'lab', 'note=hello world'])).stdout, 'configmap/lab annotated\n');
      assert.equal((await h.ketch(['get', 'cm', 'lab', '-o', 'jsonpath={.metadata.annotations.note}'])).stdout, 'hello world');
    });

    it('patches with merge, json and strategic patches', async () => {
      assert.equal((await h.ketch(['patch', 'cm', 'lab', '--type', 'merge', '-p', '{"data":{"k":"v"}}'])).stdout, 'configmap/lab patched\n');
      assert.equal((await h.ketch(['patch', 'cm', 'lab', '--type', 'merge', '-p', '{"data":{"k":"v"}}'])).stdout, 'configmap/lab patched (no change)\n');
      assert.equal((await h.ketch(['patch', 'cm', 'lab', '--type', 'json', '-p', '[{"op":"replace","path":"/data/k","value":"w"}]'])).code, 0);
      assert.equal((await h.ketch(['patch', 'deploy', 'app', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'])).code, 0);
      assert.equal((await h.ketch(['get', 'cm', 'lab', '-o', 'jsonpath={.data.k}'])).stdout, 'w');
      assert.equal((await h.ketch(['get', 'deploy', 'app', '-o', 'jsonpath={.spec.template.spec.containers[*].image}'])).stdout, 'busybox');
      const bad = await h.ketch(['patch', 'cm', 'lab', '--type', 'json', '-p', '[{"op":"replace","path":"/nope/x","value":1}]']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^Error from server/);
    });
  });

  describe('scale and wait', () => {
    it('scales through the scale subresource, honouring --current-replicas', async () => {
      const r = await h.ketch(['scale', 'deploy/app', '--replicas', '5']);
      assert.equal(r.stdout, 'deployment.apps/app scaled\n');
      assert.equal((await h.ketch(['get', 'deploy', 'app', '-o', 'jsonpath={.spec.replicas}'])).stdout, '5');
      const pre = await h.ketch(['scale', 'deploy', 'app', '--replicas', '1', '--current-replicas', '2']);
      assert.equal(pre.code, 1);
      assert.equal(pre.stderr.trim(), 'error: Expected replicas to be 2, was 5');
      const cm = await h.ketch(['scale', 'cm', 'lab', '--replicas', '1']);
      assert.equal(cm.code, 1);
    });

    it('autoscales a workload with a HorizontalPodAutoscaler, as kubectl autoscale', async () => {
      const r = await h.ketch(['autoscale', 'deploy/app', '--min=2', '--max=6', '--cpu-percent=70']);
      assert.equal(r.stdout, 'horizontalpodautoscaler.autoscaling/app autoscaled\n', r.stderr);
      const hpa = JSON.parse((await h.ketch(['get', 'hpa', 'app', '-o', 'json'])).stdout) as { spec: Record<string, unknown> };
      assert.deepEqual(hpa.spec, {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'app' },
        minReplicas: 2,
        maxReplicas: 6,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      });
      assert.match((await h.ketch(['get', 'hpa'])).stdout, /^NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE\napp\s+Deployment\/app\s+cpu: <unknown>\/70%\s+2\s+6\s+0\s+/);
      const v1 = await h.rest.request<{ spec: Record<string, unknown> }>('GET', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/app');
      assert.equal(v1.spec.targetCPUUtilizationPercentage, 70);
      const noMax = await h.ketch(['autoscale', 'deploy/app', '--name=other']);
      assert.equal(noMax.code, 1);
      assert.equal(noMax.stderr.trim(), 'error: --max=MAXPODS is required and must be at least 1, max: -1');
      assert.equal((await h.ketch(['autoscale', 'cm', 'lab', '--max=2'])).code, 1);
      const missing = await h.ketch(['autoscale', 'deploy/none', '--max=2']);
      assert.equal(missing.stderr.trim(), 'Error from server (NotFound): deployments.apps "none" not found');
      await h.ketch(['delete', 'hpa', 'app']);
    });

    it('waits for a condition, for a jsonpath value and for deletion; times out with exit 1', async () => {
      await h.ketch(['create', 'cm', 'w1']);
      await h.rest.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } } });
      const w = h.ketch(['wait', '--for=condition=Ready', 'node/n1', '--timeout=10s']);
      await h.rest.request('PATCH', '/api/v1/nodes/n1/status', {
        body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready' }] } },
        contentType: 'application/merge-patch+json',
      });
      const r = await w;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'node/n1 condition met\n');
      const missing = await h.ketch(['wait', '--for=condition=Ready', 'node/n2', '--timeout=1s']);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr.trim(), 'Error from server (NotFound): nodes "n2" not found');
      const jp = await h.ketch(['wait', '--for=jsonpath={.metadata.name}=w1', 'cm/w1', '--timeout=5s']);
      assert.equal(jp.stdout, 'configmap/w1 condition met\n');
      const t = await h.ketch(['wait', '--for=condition=Bogus', 'node/n1', '--timeout=300ms']);
      assert.equal(t.code, 1);
      assert.equal(t.stderr.trim(), 'error: timed out waiting for the condition on nodes/n1');
      const del = h.ketch(['wait', '--for=delete', 'cm/w1', '--timeout=10s']);
      await h.ketch(['delete', 'cm', 'w1', '--wait=false']);
      assert.equal((await del).stdout, 'configmap/w1 condition met\n');
    });
  });

  describe('edit and completion', () => {
    it('edits in $EDITOR and sends what changed; no change cancels', async () => {
      await h.ketch(['create', 'cm', 'ed', '--from-literal', 'k=before']);
      const r = await h.ketch(['edit', 'cm', 'ed'], { env: { EDITOR: "sed -i 's/k: before/k: after/'" } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'configmap/ed edited\n');
      assert.equal((await h.ketch(['get', 'cm', 'ed', '-o', 'jsonpath={.data.k}'])).stdout, 'after');
      const none = await h.ketch(['edit', 'cm/ed'], { env: { EDITOR: 'true' } });
      assert.equal(none.stdout, 'Edit cancelled, no changes made.\n');
    });

    it('prints completion scripts', async () => {
      const b = await h.ketch(['completion', 'bash']);
      assert.match(b.stdout, /complete -F _ketch ketch/);
      assert.match(b.stdout, /get describe|describe/);
      assert.equal((await h.ketch(['completion', 'fish'])).code, 1);
    });
  });

  describe('as a process', () => {
    it('exits 1 with kubectl\'s message on NotFound and 0 on success, reading KUBECONFIG', async () => {
      const { execFile } = await import('node:child_process');
      const env = { ...process.env, KUBECONFIG: h.kubeconfig };
      // Async: the API server runs in this process and must keep answering.
      const run = (args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(process.execPath, ['--import', 'tsx', 'cli/entry.ts', ...args], { env, encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
            resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
          });
        });
      const nf = await run(['get', 'pod', 'x']);
      assert.equal(nf.status, 1);
      assert.equal(nf.stderr.trim(), 'Error from server (NotFound): pods "x" not found');
      const ok = await run(['get', 'ns', 'default', '-o', 'name']);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout, 'namespace/default\n');
    });
  });

  describe('api-resources and version', () => {
    it('lists resources from discovery', async () => {
      const r = await h.ketch(['api-resources']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^NAME +SHORTNAMES +APIVERSION +NAMESPACED +KIND\n/);
      assert.match(r.stdout, /\npods +po +v1 +true +Pod\n/);
      assert.match(r.stdout, /\ndeployments +deploy +apps\/v1 +true +Deployment\n/);
      const names = await h.ketch(['api-resources', '--namespaced=false', '-o', 'name']);
      assert.ok(names.stdout.split('\n').includes('nodes'));
      assert.ok(!names.stdout.split('\n').includes('pods'));
    });

    it('prints client and server versions', async () => {
      const r = await h.ketch(['version']);
      assert.match(r.stdout, /^Client Version: v\d+\.\d+\.\d+\nServer Version: v1\.\d+/);
    });
  });
});

async function waitUntil(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
