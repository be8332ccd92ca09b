// Two real-world CRDs, unchanged (cert-manager's Certificate and the Prometheus operator's ServiceMonitor, in
// fixtures/), applied with the real kubectl: valid objects are accepted, invalid ones refused with kube's messages,
// defaults applied, printer columns, categories and explain work.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness } from './harness.js';
import { kubectl, type KubectlResult } from '../support/kubectl.js';

const fixture = (name: string): string => join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name);

const certificate = (spec: string): string => `apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
spec:
${spec}`;

const serviceMonitor = (endpoints: string, selector = '  selector: {matchLabels: {app: web}}\n'): string => `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: web
spec:
${selector}  endpoints:
${endpoints}`;

describe('real-world CRDs with kubectl', function () {
  this.timeout(60_000);
  let h: Harness;
  let k: (args: string[], stdin?: string) => Promise<KubectlResult>;

  before(async () => {
    h = await startHarness();
    k = (args, stdin) => kubectl(h.api.adminKubeconfigPath, args, stdin);
    for (const f of ['cert-manager-certificates.crd.yaml', 'prometheus-servicemonitors.crd.yaml']) {
      const r = await k(['apply', '-f', fixture(f)]);
      assert.equal(r.code, 0, r.stderr);
    }
    const wait = await k(['wait', '--for=condition=established', '--timeout=10s', 'crd/certificates.cert-manager.io', 'crd/servicemonitors.monitoring.coreos.com']);
    assert.equal(wait.code, 0, wait.stderr);
  });
  after(async () => h.stop());

  it("cert-manager's Certificate: a valid one is accepted and printed with its columns", async () => {
    const ok = await k(['apply', '-f', '-'], certificate('  secretName: web-tls\n  dnsNames: [web.example.com]\n  issuerRef: {name: ca, kind: ClusterIssuer}\n  privateKey: {algorithm: ECDSA, size: 256}\n  usages: [digital signature, server auth]\n'));
    assert.equal(ok.code, 0, ok.stderr);
    const get = await k(['get', 'certificates', '-o', 'wide']);
    assert.match(get.stdout, /^NAME\s+READY\s+SECRET\s+ISSUER\s+STATUS\s+AGE\n/);
    assert.match(get.stdout, /\nweb\s+web-tls\s+ca\s+\d+s\n/);
    const byCategory = await k(['get', 'cert-manager', '-o', 'name']);
    assert.equal(byCategory.stdout.trim(), 'certificate.cert-manager.io/web');
    const byShort = await k(['get', 'certs', 'web', '-o', 'jsonpath={.spec.privateKey.algorithm}']);
    assert.equal(byShort.stdout, 'ECDSA');
    const explain = await k(['explain', 'certificate.spec.privateKey.rotationPolicy']);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /RotationPolicy controls how private keys should be regenerated/);
  });

  it("cert-manager's Certificate: invalid ones are refused with kube's messages", async () => {
    const bad = await k(['apply', '-f', '-'], certificate('  issuerRef: {name: ca}\n  privateKey: {algorithm: DSA, size: big}\n  usages: [world domination]\n  revisionHistoryLimit: "1"\n'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /The Certificate "web" is invalid/);
    assert.match(bad.stderr, /spec.secretName: Required value/);
    assert.match(bad.stderr, /spec.privateKey.algorithm: Unsupported value: "DSA": supported values: "RSA", "ECDSA", "Ed25519"/);
    assert.match(bad.stderr, /spec.privateKey.size: Invalid value: "string": spec.privateKey.size in body must be of type integer: "string"/);
    assert.match(bad.stderr, /spec.usages\[0\]: Unsupported value: "world domination": supported values: "signing", "digital signature"/);
    assert.match(bad.stderr, /spec.revisionHistoryLimit: Invalid value: "string": spec.revisionHistoryLimit in body must be of type integer: "string"/);
  });

  it("the Prometheus operator's ServiceMonitor: defaults, int-or-string, refusals with kube's messages", async () => {
    const ok = await k(['apply', '-f', '-'], serviceMonitor('  - port: http\n    interval: 30s\n    targetPort: 8080\n    relabelings:\n    - sourceLabels: [__meta_kubernetes_pod_name]\n      targetLabel: pod\n    bearerTokenSecret: {key: token}\n'));
    assert.equal(ok.code, 0, ok.stderr);
    const got = await h.call('GET', '/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors/web');
    const ep = (got.json.spec as { endpoints: { relabelings: { action: string }[]; bearerTokenSecret: { name: string }; targetPort: number }[] }).endpoints[0];
    assert.equal(ep?.relabelings[0]?.action, 'replace');
    assert.equal(ep?.bearerTokenSecret.name, '');
    assert.equal(ep?.targetPort, 8080);
    const bad = await k(['apply', '-f', '-'], serviceMonitor('  - port: http\n    interval: often\n    scheme: gopher\n    targetPort: [1]\n    relabelings:\n    - sourceLabels: [1bad]\n', ''));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /The ServiceMonitor "web" is invalid/);
    assert.match(bad.stderr, /spec.selector: Required value/);
    assert.match(bad.stderr, /spec.endpoints\[0\].interval: Invalid value: "often": spec.endpoints\[0\].interval in body should match/);
    assert.match(bad.stderr, /spec.endpoints\[0\].scheme: Unsupported value: "gopher": supported values: "http", "https"/);
    assert.match(bad.stderr, /spec.endpoints\[0\].targetPort: Invalid value: "array": spec.endpoints\[0\].targetPort in body must be of type integer,string: "array"/);
    assert.match(bad.stderr, /spec.endpoints\[0\].relabelings\[0\].sourceLabels\[0\]: Invalid value: "1bad": spec.endpoints\[0\].relabelings\[0\].sourceLabels\[0\] in body should match/);
    const smon = await k(['get', 'smon', '-o', 'name']);
    assert.equal(smon.stdout.trim(), 'servicemonitor.monitoring.coreos.com/web');
  });
});
