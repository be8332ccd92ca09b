// Pod Security admission against a real API server: namespace labels (enforce, audit, warn, versions), kube's refusal
// message, warnings kubectl prints, audit annotations, workloads checked for warn and audit only, a tightened enforce
// level warning about existing pods, exemptions and the cluster defaults from an AdmissionConfiguration file.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../apiserver/index.js';
import { KUBECTL } from '../support/kubectl-scenarios.js';
import { waitFor } from '../support/util.js';
import { deploymentManifest, grant, podManifest, startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const L = 'pod-security.kubernetes.io';

const privilegedPod = (name: string): J => {
  const p = podManifest(name) as { spec: { containers: J[] } };
  return { ...p, metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } };
};
const namespace = (name: string, labels: Record<string, string>): J => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const warnings = (headers: Record<string, unknown>): string[] => {
  const w = headers.warning;
  const list = w === undefined ? [] : Array.isArray(w) ? w : String(w).split(/,(?=\s*299 )/);
  return list.map((x) => JSON.parse(String(x).trim().replace(/^299 - /, '')) as string);
};

describe('Pod Security admission', function () {
  this.timeout(60_000);
  let h: Harness;
  let dir: string;
  const events: AuditEvent[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-psa-'));
    // Cluster defaults from an AdmissionConfiguration (the plugin's configuration in its own file): warn at baseline
    // everywhere, and one exempt namespace, user and runtime class.
    writeFileSync(join(dir, 'admission.yaml'), 'apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  path: podsecurity.yaml\n');
    writeFileSync(
      join(dir, 'podsecurity.yaml'),
      'apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  warn: baseline\nexemptions:\n  namespaces: [sandbox]\n  usernames: [trusted]\n  runtimeClasses: [kata]\n',
    );
    h = await startHarness({
      admissionControlConfigFile: join(dir, 'admission.yaml'),
      audit: { decide: () => ({ level: 'Metadata', omitStages: ['RequestReceived'], omitManagedFields: false }), process: (e) => events.push(e) },
    });
    const nss: [string, Record<string, string>][] = [
      ['strict', { [`${L}/enforce`]: 'restricted' }],
      ['open', { [`${L}/enforce`]: 'privileged', [`${L}/warn`]: 'privileged' }],
      ['watched', { [`${L}/audit`]: 'restricted', [`${L}/warn`]: 'restricted', [`${L}/warn-version`]: 'v1.24' }],
      ['sandbox', { [`${L}/enforce`]: 'restricted' }],
      ['plain', {}],
    ];
    for (const [n, labels] of nss) {
      const r = await h.call('POST', '/api/v1/namespaces', { body: namespace(n, labels) });
      assert.equal(r.status, 201, r.text);
      if (n === 'sandbox') assert.deepEqual(warnings(r.headers as J), ['namespace "sandbox" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored']);
    }
  });
  after(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a privileged pod in a restricted namespace with kube\'s message, and allows it in a privileged one', async () => {
    const refused = await h.call('POST', '/api/v1/namespaces/strict/pods', { body: privilegedPod('x') });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(
      refused.json.message,
      'pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), ' +
        'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    assert.equal((await h.call('POST', '/api/v1/namespaces/open/pods', { body: privilegedPod('x') })).status, 201);
    // A pod that meets restricted (the token volume the ServiceAccount plugin adds is a projected one: allowed).
    const ok = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'good' },
      spec: {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{ name: 'c', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
      },
    };
    assert.equal((await h.call('POST', '/api/v1/namespaces/strict/pods', { body: ok })).status, 201);
  });

  it('warns (the real kubectl prints it) and records audit annotations below enforcement', async () => {
    events.length = 0;
    const r = await h.call('POST', '/api/v1/namespaces/watched/pods', { body: privilegedPod('w') });
    assert.equal(r.status, 201, r.text);
    // warn-version v1.24: the v1.24 checks (the same here); audit at latest.
    assert.deepEqual(warnings(r.headers as J), [
      'would violate PodSecurity "restricted:v1.24": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    ]);
    const ev = events.find((e) => e.verb === 'create' && e.objectRef?.namespace === 'watched' && e.objectRef.resource === 'pods');
    assert.equal(ev?.annotations?.['pod-security.kubernetes.io/enforce-policy'], 'privileged:latest');
    assert.match(String(ev?.annotations?.['pod-security.kubernetes.io/audit-violations']), /^would violate PodSecurity "restricted:latest": privileged \(container "c"/);
    // kubectl shows the Warning header as "Warning: ...".
    const home = mkdtempSync(join(tmpdir(), 'ketch-psa-kubectl-'));
    try {
      const file = join(home, 'pod.json');
      writeFileSync(file, JSON.stringify({ ...privilegedPod('w2'), metadata: { name: 'w2', namespace: 'plain' } }));
      const out = await new Promise<{ stderr: string; code: number }>((resolve) =>
        execFile(KUBECTL, ['create', '-f', file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: h.api.adminKubeconfigPath } }, (err, _o, stderr) => resolve({ stderr, code: err ? 1 : 0 })),
      );
      assert.equal(out.code, 0, out.stderr);
      // The cluster default (warn: baseline) applies to a namespace without labels.
      assert.match(out.stderr, /^Warning: would violate PodSecurity "baseline:latest": privileged \(container "c" must not set securityContext\.privileged=true\)$/m);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('checks workloads for warn and audit only', async () => {
    const d = deploymentManifest('dep') as { spec: { template: { spec: { containers: J[] } } } };
    d.spec.template.spec.containers = [{ name: 'app', image: 'nginx', securityContext: { privileged: true } }];
    const created = await h.call('POST', '/apis/apps/v1/namespaces/strict/deployments', { body: d });
    assert.equal(created.status, 201, created.text);
    // strict enforces restricted, and warns at restricted too (warn follows an enforce label that is stricter).
    assert.match(warnings(created.headers as J)[0] ?? '', /^would violate PodSecurity "restricted:latest": privileged \(container "app"/);
  });

  it('exempts namespaces, users and runtime classes', async () => {
    const inSandbox = await h.call('POST', '/api/v1/namespaces/sandbox/pods', { body: privilegedPod('s') });
    assert.equal(inSandbox.status, 201, inSandbox.text);
    const byRuntime = await h.call('POST', '/api/v1/namespaces/strict/pods', { body: { ...privilegedPod('k'), spec: { runtimeClassName: 'kata', containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } } });
    assert.equal(byRuntime.status, 201, byRuntime.text);
    // The exempt user (who may create pods in the namespace): the admin acts as it.
    await grant(h, { kind: 'User', name: 'trusted' }, 'system:aggregate-to-edit', 'strict');
    const trusted = await waitFor(async () => {
      const r = await h.call('POST', '/api/v1/namespaces/strict/pods', { body: privilegedPod('t'), headers: { 'Impersonate-User': 'trusted' } });
      return r.status === 403 && /cannot create resource/.test(r.text) ? undefined : r;
    }, { timeoutMs: 5000, what: "trusted's binding" });
    assert.equal(trusted.status, 201, trusted.text);
    // Anyone else is held to the namespace's level: no new privileged pod, and no image change of the exempt user's
    // pod; an update that changes no image is not checked again (isSignificantPodUpdate).
    const other = await h.call('POST', '/api/v1/namespaces/strict/pods', { body: privilegedPod('t2') });
    assert.equal(other.status, 403);
    const merge = { contentType: 'application/merge-patch+json' };
    assert.equal((await h.call('PATCH', '/api/v1/namespaces/strict/pods/t', { body: { metadata: { labels: { a: 'b' } } }, ...merge })).status, 200);
    const image = await h.call('PATCH', '/api/v1/namespaces/strict/pods/t', { body: { spec: { containers: [{ name: 'c', image: 'busybox:1.37' }] } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(image.status, 403, image.text);
    assert.match(String(image.json.message), /^pods "t" is forbidden: violates PodSecurity "restricted:latest": privileged/);
  });

  it('warns about existing pods when a namespace\'s enforce level tightens, and refuses bad labels', async () => {
    const r = await h.call('PATCH', '/api/v1/namespaces/open', { body: { metadata: { labels: { [`${L}/enforce`]: 'baseline' } } }, contentType: 'application/merge-patch+json' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(warnings(r.headers as J), ['existing pods in namespace "open" violate the new PodSecurity enforce level "baseline:latest"', 'x: privileged']);
    const bad = await h.call('POST', '/api/v1/namespaces', { body: namespace('bad', { [`${L}/enforce`]: 'strict', [`${L}/warn-version`]: '1.2' }) });
    assert.equal(bad.status, 422);
    assert.match(String(bad.json.message), /metadata\.labels\[pod-security\.kubernetes\.io\/enforce\]: Invalid value: "strict": must be one of privileged, baseline, restricted/);
    assert.match(String(bad.json.message), /metadata\.labels\[pod-security\.kubernetes\.io\/warn-version\]: Invalid value: "1\.2": must be "latest" or "v1\.x"/);
  });
});
