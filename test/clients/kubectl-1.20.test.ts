// The oldest kubectl Debian ships (kubernetes-client, v1.20, unpacked by scripts/install-deps.sh beside the 1.32 one)
// against a real API server: what older builds ask for that 1.32 does not. Legacy discovery only (no aggregated),
// Table v1 with v1beta1 offered, JSON and protobuf bodies from typed clients, GET-then-PUT on /scale, errors printed
// from the Status; `apply` and `explain` read /openapi/v2 (client-side validation, strategic-merge metadata, the
// field docs). Its drain evicts only when /apis lists the policy group (it deletes the pods otherwise).
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../apiserver/harness.js';

export const KUBECTL_1_20 = process.env.KUBECTL_1_20 ?? '/opt/ketch/kubectl-1.20/kubectl';

describe('kubectl 1.20 (Debian\'s kubernetes-client) against the API server', function () {
  this.timeout(60_000);
  let h: Harness;
  let home: string;
  let env: NodeJS.ProcessEnv;

  const k = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(KUBECTL_1_20, args, { env, timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const ok = async (args: string[]): Promise<string> => {
    const r = await k(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    if (!existsSync(KUBECTL_1_20)) throw new Error(`kubectl v1.20 is required at ${KUBECTL_1_20} (scripts/install-deps.sh unpacks it)`);
    h = await startHarness();
    home = mkdtempSync(join(tmpdir(), 'ketch-kubectl120-home-'));
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: h.api.adminKubeconfigPath };
  });
  after(async () => {
    await h?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('version: a 1.20 client, the 1.32 server', async () => {
    const v = JSON.parse(await ok(['version', '-o', 'json'])) as { clientVersion: { minor: string }; serverVersion: { major: string; minor: string } };
    assert.equal(v.clientVersion.minor, '20');
    assert.deepEqual([v.serverVersion.major, v.serverVersion.minor], ['1', '32']);
  });

  it('api-resources through legacy discovery', async () => {
    const out = await ok(['api-resources']);
    assert.match(out, /deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
    assert.match(out, /pods\s+po\s+v1\s+true\s+Pod/);
    assert.match(out, /leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease/);
  });

  it('create, get (Table), label, annotate, patch, scale, describe and delete a deployment', async () => {
    assert.match(await ok(['create', 'namespace', 'old']), /namespace\/old created/);
    assert.match(await ok(['create', 'deployment', 'demo', '-n', 'old', '--image=busybox', '--replicas=2']), /deployment.apps\/demo created/);
    assert.match(await ok(['get', 'deploy', '-n', 'old']), /NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\ndemo\s+0\/2\s+0\s+0\s+\d+s/);
    assert.match(await ok(['label', 'deploy', 'demo', 'tier=back', '-n', 'old']), /deployment.apps\/demo labeled/);
    assert.match(await ok(['annotate', 'deploy', 'demo', 'note=old', '-n', 'old']), /deployment.apps\/demo annotated/);
    await ok(['patch', 'deploy', 'demo', '-n', 'old', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"busybox","image":"busybox:1.36"}]}}}}']);
    assert.match(await ok(['scale', 'deploy', 'demo', '-n', 'old', '--replicas=3']), /deployment.apps\/demo scaled/);
    const got = await ok(['get', 'deploy', 'demo', '-n', 'old', '-o', 'jsonpath={.metadata.labels.tier}/{.metadata.annotations.note}/{.spec.template.spec.containers[*].image}/{.spec.replicas}']);
    assert.equal(got, 'back/old/busybox:1.36/3');
    assert.match(await ok(['describe', 'deploy', 'demo', '-n', 'old']), /Replicas:\s+3 desired/);
    assert.match(await ok(['delete', 'deploy', 'demo', '-n', 'old']), /deployment.apps "demo" deleted/);
  });

  it('apply -f twice (validated and merged with /openapi/v2), then explain', async () => {
    const yaml = (replicas: number): string =>
      `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"applied","namespace":"old"},"spec":{"replicas":${replicas},"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`;
    const file = join(home, 'applied.json');
    writeFileSync(file, yaml(1));
    assert.match(await ok(['apply', '-f', file]), /deployment.apps\/applied created/);
    writeFileSync(file, yaml(2));
    assert.match(await ok(['apply', '-f', file]), /deployment.apps\/applied configured/);
    assert.equal(await ok(['get', 'deploy', 'applied', '-n', 'old', '-o', 'jsonpath={.spec.replicas}']), '2');
    writeFileSync(file, yaml(2).replace('"replicas"', '"replicaz"'));
    const invalid = await k(['apply', '-f', file]);
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /unknown field "replicaz"/);
    const explained = await ok(['explain', 'deployment.spec.replicas']);
    assert.match(explained, /KIND:\s+Deployment\nVERSION:\s+apps\/v1\n\nFIELD:\s+replicas <integer>/);
  });

  it('run a pod and get it -o wide; get -o json lists it', async () => {
    assert.match(await ok(['run', 'web', '--image=busybox', '-n', 'old', '--labels=app=web']), /pod\/web created/);
    assert.match(await ok(['get', 'pods', '-o', 'wide', '-n', 'old']), /web\s+0\/1\s+Pending\s+0\s+\d+s\s+<none>\s+<none>/);
    const list = JSON.parse(await ok(['get', 'pods', '-n', 'old', '-l', 'app=web', '-o', 'json'])) as { items: { metadata: { name: string } }[] };
    assert.deepEqual(list.items.map((p) => p.metadata.name), ['web']);
  });

  it('errors: the server\'s Status as kubectl prints it', async () => {
    await ok(['create', 'configmap', 'cfg', '-n', 'old', '--from-literal=a=b']);
    const again = await k(['create', 'configmap', 'cfg', '-n', 'old', '--from-literal=a=b']);
    assert.notEqual(again.code, 0);
    assert.equal(again.stderr.trim(), 'Error from server (AlreadyExists): configmaps "cfg" already exists');
    const missing = await k(['get', 'deploy', 'nope', '-n', 'old']);
    assert.equal(missing.stderr.trim(), 'Error from server (NotFound): deployments.apps "nope" not found');
  });
});
