// Authorization against a real API server with --authorization-mode=Node,RBAC (the default): a pod's service-account
// token holds no rights, a Role grants exactly what it says, RBAC escalation is refused, the access reviews and the real
// kubectl's `auth can-i [--list] [--as]` answer what the server does, impersonation needs the impersonate verb, and a
// node reaches only its own objects (Node authorizer and NodeRestriction).
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../../apiserver/index.js';
import { issueCert, kubeconfigYaml, type CertPair } from '../../apiserver/pki/pki.js';
import { KUBECTL } from '../support/kubectl-scenarios.js';
import { waitFor } from '../support/util.js';
import { grant, podManifest, startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const G = 'rbac.authorization.k8s.io';
const RBAC = `/apis/${G}/v1`;
const ns = (name: string): J => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

describe('authorization (Node, RBAC)', function () {
  this.timeout(60_000);
  let h: Harness;
  let ca: CertPair;
  let home: string;
  /** A client certificate of the cluster CA for a user and groups. */
  const userCert = (name: string, groups: string[] = []): Promise<CertPair> => issueCert(ca, { commonName: name, organizations: groups, usage: 'client' });
  const as = (c: CertPair): { auth: { cert: string; key: string } } => ({ auth: { cert: c.certPem, key: c.keyPem } });

  before(async () => {
    h = await startHarness();
    ca = { certPem: readFileSync(join(h.dataDir, 'pki', 'ca.crt'), 'utf8'), keyPem: readFileSync(join(h.dataDir, 'pki', 'ca.key'), 'utf8') };
    home = mkdtempSync(join(tmpdir(), 'ketch-authz-kubectl-'));
    for (const n of ['team-a', 'team-b']) assert.equal((await h.call('POST', '/api/v1/namespaces', { body: ns(n) })).status, 201);
  });
  after(async () => {
    await h?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const kubectl = (kubeconfig: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECACHEDIR: join(home, 'cache'), KUBECONFIG: kubeconfig };
      execFile(KUBECTL, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
      });
    });
  const kubeconfigOf = (name: string, c: CertPair): string => {
    const file = join(home, `${name}.kubeconfig`);
    writeFileSync(file, kubeconfigYaml({ server: h.api.url, caPem: h.api.caCertPem, user: name, client: c }));
    return file;
  };

  describe("the API server's kubelet client", () => {
    it('is in no group, and may proxy to nodes (system:kubelet-api-admin) but not read Secrets', async () => {
      const pem = readFileSync(join(h.dataDir, 'pki', 'kubelet-client.crt'), 'utf8');
      assert.equal(new X509Certificate(pem).subject, 'CN=kube-apiserver-kubelet-client');
      const review = async (resourceAttributes: J): Promise<boolean> => {
        const r = await h.call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'kube-apiserver-kubelet-client', groups: ['system:authenticated'], resourceAttributes } },
        });
        assert.equal(r.status, 201, r.text);
        return (r.json as { status: { allowed: boolean } }).status.allowed;
      };
      assert.equal(await review({ verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'node-a' }), true);
      assert.equal(await review({ verb: 'create', resource: 'nodes', subresource: 'proxy', name: 'node-a' }), true);
      assert.equal(await review({ verb: 'list', resource: 'secrets', namespace: 'team-a' }), false);
      assert.equal(await review({ verb: 'create', resource: 'pods', namespace: 'team-a' }), false);
    });
  });

  describe('service accounts', () => {
    it("gives a pod's token no rights: 403 listing Secrets and creating pods", async () => {
      const created = await h.call('POST', '/api/v1/namespaces/team-a/pods', { body: podManifest('tokened') });
      assert.equal(created.status, 201, created.text);
      const pod = created.json as { metadata: { uid: string }; spec: { volumes: { name: string; projected?: { sources: J[] } }[] } };
      // The projected kube-api-access volume asks for a bound token of 3607 s (what the agent requests and refreshes).
      const vol = pod.spec.volumes.find((v) => v.name.startsWith('kube-api-access-'));
      assert.deepEqual(vol?.projected?.sources[0], { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } });
      const tr = await h.call('POST', '/api/v1/namespaces/team-a/serviceaccounts/default/token', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'tokened', uid: pod.metadata.uid } } },
      });
      assert.equal(tr.status, 201, tr.text);
      const token = String((tr.json.status as J).token);
      const secrets = await h.call('GET', '/api/v1/namespaces/team-a/secrets', { auth: { token } });
      assert.equal(secrets.status, 403, secrets.text);
      assert.equal(secrets.json.message, 'secrets is forbidden: User "system:serviceaccount:team-a:default" cannot list resource "secrets" in API group "" in the namespace "team-a"');
      const pods = await h.call('POST', '/api/v1/namespaces/team-a/pods', { body: podManifest('from-pod'), auth: { token } });
      assert.equal(pods.status, 403, pods.text);
      assert.equal(pods.json.message, 'pods is forbidden: User "system:serviceaccount:team-a:default" cannot create resource "pods" in API group "" in the namespace "team-a"');
      // Nothing in the bootstrap policy is bound to service accounts as a group but issuer discovery.
      const crbs = (await h.call('GET', `${RBAC}/clusterrolebindings`)).json.items as { metadata: { name: string }; subjects?: { kind: string; name: string }[] }[];
      const toAllAccounts = crbs.filter((b) => (b.subjects ?? []).some((s) => s.kind === 'Group' && s.name.startsWith('system:serviceaccounts'))).map((b) => b.metadata.name);
      assert.deepEqual(toAllAccounts, ['system:service-account-issuer-discovery']);
    });
  });

  describe('RBAC', () => {
    let alice: CertPair;
    before(async () => {
      alice = await userCert('alice', ['dev']);
      const role = { apiVersion: `${G}/v1`, kind: 'Role', metadata: { name: 'pod-getter', namespace: 'team-a' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] };
      assert.equal((await h.call('POST', `${RBAC}/namespaces/team-a/roles`, { body: role })).status, 201);
      const rb = { apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { name: 'alice-gets', namespace: 'team-a' }, roleRef: { apiGroup: G, kind: 'Role', name: 'pod-getter' }, subjects: [{ kind: 'User', apiGroup: G, name: 'alice' }] };
      assert.equal((await h.call('POST', `${RBAC}/namespaces/team-a/rolebindings`, { body: rb })).status, 201);
      for (const n of ['team-a', 'team-b']) assert.equal((await h.call('POST', `/api/v1/namespaces/${n}/pods`, { body: podManifest('p') })).status, 201);
    });

    it('a Role granting get pods in one namespace allows exactly that', async () => {
      // The RBAC cache follows the binding through the watch: poll until it has it.
      await waitFor(async () => ((await h.call('GET', '/api/v1/namespaces/team-a/pods/p', as(alice))).status === 200 ? true : undefined), { timeoutMs: 5000, what: "alice's binding" });
      const status = async (method: string, path: string): Promise<number> => (await h.call(method, path, { ...as(alice), ...(method === 'POST' ? { body: podManifest('q') } : {}) })).status;
      assert.equal(await status('GET', '/api/v1/namespaces/team-a/pods'), 403);
      assert.equal(await status('GET', '/api/v1/namespaces/team-b/pods/p'), 403);
      assert.equal(await status('DELETE', '/api/v1/namespaces/team-a/pods/p'), 403);
      assert.equal(await status('POST', '/api/v1/namespaces/team-a/pods'), 403);
      assert.equal(await status('GET', '/api/v1/namespaces/team-a/pods/p/log'), 403);
      assert.equal(await status('GET', '/api/v1/namespaces/team-a/configmaps/kube-root-ca.crt'), 403);
      assert.equal(await status('GET', '/api/v1/pods'), 403);
      const ssar = await h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'team-a', name: 'p' } } },
        ...as(alice),
      });
      assert.deepEqual(ssar.json.status, { allowed: true, reason: 'RBAC: allowed by RoleBinding "alice-gets/team-a" of Role "pod-getter" to User "alice"' });
    });

    it('refuses a RoleBinding to a role the user does not hold, unless it may bind it', async () => {
      // bob may manage RoleBindings in team-a and get pods there, nothing more.
      const bob = await userCert('bob');
      const role = { apiVersion: `${G}/v1`, kind: 'Role', metadata: { name: 'binder', namespace: 'team-a' }, rules: [{ verbs: ['create', 'get', 'delete'], apiGroups: [G], resources: ['rolebindings'] }, { verbs: ['get'], apiGroups: [''], resources: ['pods'] }] };
      assert.equal((await h.call('POST', `${RBAC}/namespaces/team-a/roles`, { body: role })).status, 201);
      const rb = (name: string, roleRef: J, subject = 'carol'): J => ({ apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { name, namespace: 'team-a' }, roleRef: { apiGroup: G, ...roleRef }, subjects: [{ kind: 'User', apiGroup: G, name: subject }] });
      assert.equal((await h.call('POST', `${RBAC}/namespaces/team-a/rolebindings`, { body: rb('bob-binds', { kind: 'Role', name: 'binder' }, 'bob') })).status, 201);
      const post = (body: J): Promise<{ status: number; json: J; text: string }> => h.call('POST', `${RBAC}/namespaces/team-a/rolebindings`, { body, ...as(bob) });
      await waitFor(async () => ((await h.call('GET', `${RBAC}/namespaces/team-a/rolebindings/bob-binds`, as(bob))).status === 200 ? true : undefined), { timeoutMs: 5000, what: "bob's binding" });

      const escalating = await post(rb('carol-edits', { kind: 'ClusterRole', name: 'system:aggregate-to-view' }));
      assert.equal(escalating.status, 403, escalating.text);
      assert.match(
        String(escalating.json.message),
        /^rolebindings\.rbac\.authorization\.k8s\.io "carol-edits" is forbidden: user "bob" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\[""\], Resources:\["bindings"\], Verbs:\["get" "list" "watch"\]\}/,
      );
      // A role whose rules bob holds (get pods) may be bound.
      assert.equal((await post(rb('carol-gets', { kind: 'Role', name: 'pod-getter' }))).status, 201);
      // With `bind` on the role, bob may bind what he does not hold.
      const bindRole = { apiVersion: `${G}/v1`, kind: 'Role', metadata: { name: 'may-bind-view', namespace: 'team-a' }, rules: [{ verbs: ['bind'], apiGroups: [G], resources: ['clusterroles'], resourceNames: ['system:aggregate-to-view'] }] };
      assert.equal((await h.call('POST', `${RBAC}/namespaces/team-a/roles`, { body: bindRole })).status, 201);
      assert.equal((await h.call('POST', `${RBAC}/namespaces/team-a/rolebindings`, { body: rb('bob-may-bind', { kind: 'Role', name: 'may-bind-view' }, 'bob') })).status, 201);
      await waitFor(async () => ((await post(rb('carol-views', { kind: 'ClusterRole', name: 'system:aggregate-to-view' }))).status === 201 ? true : undefined), { timeoutMs: 5000, what: 'bind to be allowed' });
      // Nor may bob write a Role with rules he does not hold.
      const wider = await h.call('POST', `${RBAC}/namespaces/team-a/roles`, { body: { ...role, metadata: { name: 'wider', namespace: 'team-a' } }, ...as(bob) });
      assert.equal(wider.status, 403);
    });

    it('kubectl auth can-i and --list answer what the bindings say', async () => {
      const cfg = kubeconfigOf('alice', alice);
      const list = await kubectl(cfg, ['auth', 'can-i', '--list', '-n', 'team-a']);
      assert.equal(list.code, 0, list.stderr);
      const lines = list.stdout.trimEnd().split('\n').map((l) => l.trim().split(/\s+/));
      assert.deepEqual(lines[0], ['Resources', 'Non-Resource', 'URLs', 'Resource', 'Names', 'Verbs']);
      assert.ok(lines.some((l) => l.join(' ') === 'pods [] [] [get]'), list.stdout);
      assert.ok(lines.some((l) => l.join(' ') === 'selfsubjectaccessreviews.authorization.k8s.io [] [] [create]'), list.stdout);
      assert.ok(!lines.some((l) => l[0] === 'secrets' || l[0] === '*.*'), list.stdout);
      // team-b: no pods line.
      const other = await kubectl(cfg, ['auth', 'can-i', '--list', '-n', 'team-b']);
      assert.ok(!other.stdout.includes('pods '), other.stdout);
      assert.equal((await kubectl(cfg, ['auth', 'can-i', 'get', 'pods', '-n', 'team-a'])).stdout.trim(), 'yes');
      const no = await kubectl(cfg, ['auth', 'can-i', 'list', 'pods', '-n', 'team-a']);
      assert.equal(no.stdout.trim(), 'no');
      assert.equal(no.code, 1);
      // The admin asks as alice (impersonation), and alice may not impersonate the admin.
      const admin = h.api.adminKubeconfigPath;
      assert.equal((await kubectl(admin, ['auth', 'can-i', 'get', 'pods', '-n', 'team-a', '--as', 'alice'])).stdout.trim(), 'yes');
      assert.equal((await kubectl(admin, ['auth', 'can-i', 'delete', 'pods', '-n', 'team-a', '--as', 'alice'])).stdout.trim(), 'no');
      const asList = await kubectl(admin, ['auth', 'can-i', '--list', '-n', 'team-a', '--as', 'alice', '--as-group', 'dev']);
      assert.ok(asList.stdout.split('\n').some((l) => /^pods\s+\[\]\s+\[\]\s+\[get\]/.test(l.trim())), asList.stdout);
      const sneaky = await kubectl(cfg, ['get', 'pods', '-n', 'team-a', '--as', 'admin', '--as-group', 'system:masters']);
      assert.notEqual(sneaky.code, 0);
      assert.match(sneaky.stderr, /users "admin" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope/);
    });

    it('impersonation, once allowed, acts as the impersonated user and groups', async () => {
      const imp = await userCert('impersonator');
      const role = { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'impersonate-alice' }, rules: [{ verbs: ['impersonate'], apiGroups: [''], resources: ['users'], resourceNames: ['alice'] }] };
      assert.equal((await h.call('POST', `${RBAC}/clusterroles`, { body: role })).status, 201);
      await grant(h, { kind: 'User', name: 'impersonator' }, 'impersonate-alice');
      const whoami = (headers: Record<string, string>): Promise<{ status: number; json: J }> =>
        h.call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, headers, ...as(imp) });
      const r = await waitFor(async () => {
        const x = await whoami({ 'Impersonate-User': 'alice' });
        return x.status === 201 ? x : undefined;
      }, { timeoutMs: 5000, what: 'the impersonation binding' });
      assert.deepEqual((r.json.status as J).userInfo, { username: 'alice', groups: ['system:authenticated'] });
      // Groups need their own permission; a group without a user is refused outright.
      assert.equal((await whoami({ 'Impersonate-User': 'alice', 'Impersonate-Group': 'system:masters' })).status, 403);
      assert.equal((await whoami({ 'Impersonate-Group': 'dev' })).status, 500);
      assert.equal((await whoami({ 'Impersonate-User': 'bob' })).status, 403);
      assert.equal((await h.call('GET', '/api/v1/namespaces/team-a/pods/p', { headers: { 'Impersonate-User': 'alice' }, ...as(imp) })).status, 200);
    });
  });

  describe('Node authorizer and NodeRestriction', () => {
    let nodeA: CertPair;
    const node = (name: string): J => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
    const boundPod = (name: string, nodeName: string, secret: string): J => {
      const p = podManifest(name) as { spec: J };
      return { ...p, spec: { ...p.spec, nodeName, volumes: [{ name: 's', secret: { secretName: secret } }] } };
    };
    before(async () => {
      nodeA = await userCert('system:node:node-a', ['system:nodes']);
      for (const s of ['secret-a', 'secret-b']) {
        assert.equal((await h.call('POST', '/api/v1/namespaces/team-a/secrets', { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: s }, stringData: { k: s } } })).status, 201);
      }
      assert.equal((await h.call('POST', '/api/v1/namespaces/team-a/pods', { body: boundPod('on-a', 'node-a', 'secret-a') })).status, 201);
      assert.equal((await h.call('POST', '/api/v1/namespaces/team-a/pods', { body: boundPod('on-b', 'node-b', 'secret-b') })).status, 201);
      assert.equal((await h.call('POST', '/api/v1/nodes', { body: node('node-b') })).status, 201);
    });

    it("reads the Secret of its own pod, not one used only by another node's pod", async () => {
      await waitFor(async () => ((await h.call('GET', '/api/v1/namespaces/team-a/secrets/secret-a', as(nodeA))).status === 200 ? true : undefined), { timeoutMs: 5000, what: 'the node graph' });
      const other = await h.call('GET', '/api/v1/namespaces/team-a/secrets/secret-b', as(nodeA));
      assert.equal(other.status, 403);
      assert.equal(other.json.message, `secrets "secret-b" is forbidden: User "system:node:node-a" cannot get resource "secrets" in API group "" in the namespace "team-a": no relationship found between node 'node-a' and this object`);
      assert.equal((await h.call('GET', '/api/v1/namespaces/team-a/secrets', as(nodeA))).status, 403);
      // Its pods by field selector, and a token for its pod's account bound to that pod, but not for another's.
      assert.equal((await h.call('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a', as(nodeA))).status, 200);
      assert.equal((await h.call('GET', '/api/v1/pods', as(nodeA))).status, 403);
      const podB = (await h.call('GET', '/api/v1/namespaces/team-a/pods/on-b')).json as { metadata: { uid: string } };
      const tokenFor = (name: string, uid: string): Promise<{ status: number; json: J }> =>
        h.call('POST', '/api/v1/namespaces/team-a/serviceaccounts/default/token', {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, uid } } },
          ...as(nodeA),
        });
      const podA = (await h.call('GET', '/api/v1/namespaces/team-a/pods/on-a')).json as { metadata: { uid: string } };
      assert.equal((await tokenFor('on-a', podA.metadata.uid)).status, 201);
      const stolen = await tokenFor('on-b', podB.metadata.uid);
      assert.equal(stolen.status, 403);
      assert.match(String(stolen.json.message), /node requested token bound to a pod scheduled on a different node/);
    });

    it('writes only its own Node, and neither its labels under node-restriction nor its pod CIDR', async () => {
      assert.equal((await h.call('POST', '/api/v1/nodes', { body: node('node-a'), ...as(nodeA) })).status, 201);
      const merge = { contentType: 'application/merge-patch+json', ...as(nodeA) };
      const other = await h.call('PATCH', '/api/v1/nodes/node-b', { body: { metadata: { labels: { x: 'y' } } }, ...merge });
      assert.equal(other.status, 403);
      assert.equal(other.json.message, 'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"');
      assert.equal((await h.call('PATCH', '/api/v1/nodes/node-b/status', { body: { status: { capacity: { pods: '10' } } }, ...merge })).status, 403);
      assert.equal((await h.call('PATCH', '/api/v1/nodes/node-a', { body: { metadata: { labels: { 'topology.kubernetes.io/zone': 'z1' } } }, ...merge })).status, 200);
      const restricted = await h.call('PATCH', '/api/v1/nodes/node-a', { body: { metadata: { labels: { 'node-restriction.kubernetes.io/role': 'db' } } }, ...merge });
      assert.equal(restricted.status, 403);
      const cidr = await h.call('PATCH', '/api/v1/nodes/node-a', { body: { spec: { podCIDR: '10.42.9.0/24', podCIDRs: ['10.42.9.0/24'] } }, ...merge });
      assert.equal(cidr.status, 403);
      assert.equal(cidr.json.message, 'nodes "node-a" is forbidden: node "node-a" is not allowed to modify spec.podCIDR or spec.podCIDRs');
      // Once the controller manager (here the admin) has set it, the node cannot change it either (validation answers
      // first, as in kube: a pod CIDR is immutable once set).
      assert.equal((await h.call('PATCH', '/api/v1/nodes/node-a', { body: { spec: { podCIDR: '10.42.1.0/24', podCIDRs: ['10.42.1.0/24'] } }, contentType: 'application/merge-patch+json' })).status, 200);
      assert.equal((await h.call('PATCH', '/api/v1/nodes/node-a', { body: { spec: { podCIDR: '10.42.2.0/24', podCIDRs: ['10.42.2.0/24'] } }, ...merge })).status, 422);
      assert.equal(((await h.call('GET', '/api/v1/nodes/node-a')).json.spec as J).podCIDR, '10.42.1.0/24');
      // It reads its own Node by name and by a metadata.name field selector, and no other by name.
      assert.equal((await h.call('GET', '/api/v1/nodes/node-a', as(nodeA))).status, 200);
      assert.equal((await h.call('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dnode-a', as(nodeA))).status, 200);
      assert.equal((await h.call('GET', '/api/v1/nodes/node-b', as(nodeA))).status, 403);
      // And deletes only pods bound to itself.
      assert.equal((await h.call('DELETE', '/api/v1/namespaces/team-a/pods/on-b', as(nodeA))).status, 403);
    });

    it('only removes the local-path cleanup finalizer of a deleted PersistentVolume pinned to itself', async () => {
      const FIN = 'local-path.ketch.io/cleanup';
      const pv = (name: string, host: string): J => ({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name, finalizers: [FIN] },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: 'local-path',
          hostPath: { path: `/var/lib/ketch/storage/${name}`, type: 'DirectoryOrCreate' },
          nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [host] }] }] } },
        },
      });
      for (const [name, host] of [['pv-a', 'node-a'], ['pv-b', 'node-b']] as const) {
        assert.equal((await h.call('POST', '/api/v1/persistentvolumes', { body: pv(name, host) })).status, 201);
        // Deleted by the PV controller (here the admin): the finalizer keeps it until its node has removed the directory.
        assert.equal((await h.call('DELETE', `/api/v1/persistentvolumes/${name}`)).status, 200);
      }
      // The agent's informer lists and watches them, and updates one; patch, create and delete are not granted.
      const listed = await h.call('GET', '/api/v1/persistentvolumes', as(nodeA));
      assert.equal(listed.status, 200, listed.text);
      const byName = (name: string): J => structuredClone((listed.json.items as J[]).find((o) => (o.metadata as J).name === name)) as J;
      const put = (o: J): Promise<{ status: number; json: J; text: string }> => h.call('PUT', `/api/v1/persistentvolumes/${String((o.metadata as J).name)}`, { body: o, ...as(nodeA) });
      const dropped = (o: J): J => ({ ...o, metadata: { ...(o.metadata as J), finalizers: ((o.metadata as J).finalizers as string[]).filter((f) => f !== FIN) } });
      const refusedWith = async (o: J, why: string): Promise<void> => {
        const r = await put(o);
        assert.equal(r.status, 403, r.text);
        assert.equal(r.json.reason, 'Forbidden');
        const name = String((o.metadata as J).name);
        assert.equal(r.json.message, `persistentvolumes "${name}" is forbidden: node "node-a" is not allowed to modify persistentvolume "${name}": ${why}`);
      };
      const nothingElse = `nodes may only remove the ${FIN} finalizer, and change nothing else`;
      const a = byName('pv-a');
      await refusedWith(dropped(byName('pv-b')), 'the volume is not pinned to node "node-a" by its kubernetes.io/hostname node affinity');
      // A volume's source (its path) is immutable for everyone (validation answers first, 422); the mutable rest of the
      // spec is not a node's to change either.
      const moved = await put({ ...dropped(a), spec: { ...(a.spec as J), hostPath: { path: '/etc', type: 'DirectoryOrCreate' } } });
      assert.equal(moved.status, 422, moved.text);
      await refusedWith({ ...dropped(a), spec: { ...(a.spec as J), persistentVolumeReclaimPolicy: 'Retain' } }, nothingElse);
      await refusedWith({ ...dropped(a), metadata: { ...(dropped(a).metadata as J), labels: { owner: 'node-a' } } }, nothingElse);
      await refusedWith({ ...a, metadata: { ...(a.metadata as J), finalizers: [FIN, 'example.com/keep'] } }, nothingElse);
      const patched = await h.call('PATCH', '/api/v1/persistentvolumes/pv-a', { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json', ...as(nodeA) });
      assert.equal(patched.status, 403, patched.text);
      const created = await h.call('POST', '/api/v1/persistentvolumes', { body: pv('pv-new', 'node-a'), ...as(nodeA) });
      assert.equal(created.status, 403, created.text);
      assert.equal((await h.call('DELETE', '/api/v1/persistentvolumes/pv-a', as(nodeA))).status, 403);
      // What the agent does: the finalizer goes (pv-protection's stays, for its controller); node B's volume keeps it.
      const cleaned = await put(dropped(a));
      assert.equal(cleaned.status, 200, cleaned.text);
      const finalizersOf = async (name: string): Promise<unknown> => ((await h.call('GET', `/api/v1/persistentvolumes/${name}`)).json.metadata as J).finalizers;
      assert.deepEqual(await finalizersOf('pv-a'), ['kubernetes.io/pv-protection']);
      assert.deepEqual(await finalizersOf('pv-b'), [FIN, 'kubernetes.io/pv-protection']);
      const b = (await h.call('GET', '/api/v1/persistentvolumes/pv-b')).json as { spec: { hostPath: { path: string } } };
      assert.equal(b.spec.hostPath.path, '/var/lib/ketch/storage/pv-b');
    });
  });

  describe('admin identities (kubeadm 1.29+)', () => {
    it('admin.kubeconfig holds cluster-admin through the kubeadm:cluster-admins binding; super-admin.kubeconfig is system:masters', async () => {
      const admin = h.api.adminKubeconfigPath;
      const whoami = await kubectl(admin, ['auth', 'whoami']);
      assert.match(whoami.stdout, /^Username\s+admin$[\s\S]*^Groups\s+\[kubeadm:cluster-admins system:authenticated\]$/m, whoami.stderr);
      const list = await kubectl(admin, ['auth', 'can-i', '--list']);
      assert.match(list.stdout, /^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m, list.stderr);
      const ssar = await h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'delete', resource: 'nodes' } } },
      });
      assert.deepEqual(ssar.json.status, { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"' });
      const superAdmin = h.api.superAdminKubeconfigPath;
      assert.equal(statSync(superAdmin).mode & 0o777, 0o600);
      const su = await kubectl(superAdmin, ['auth', 'whoami']);
      assert.match(su.stdout, /^Username\s+kubernetes-super-admin$[\s\S]*^Groups\s+\[system:masters system:authenticated\]$/m, su.stderr);
    });

    it('loses its rights with the binding (super-admin keeps them), and the next API server start restores it', async () => {
      const CRB = `${RBAC}/clusterrolebindings/kubeadm:cluster-admins`;
      const binding = (await h.call('GET', CRB)).json as { roleRef: J; subjects: J[]; metadata: { labels: Record<string, string> } };
      assert.deepEqual(binding.roleRef, { apiGroup: G, kind: 'ClusterRole', name: 'cluster-admin' });
      assert.deepEqual(binding.subjects, [{ kind: 'Group', apiGroup: G, name: 'kubeadm:cluster-admins' }]);
      assert.equal(binding.metadata.labels['kubernetes.io/bootstrapping'], 'rbac-defaults');
      assert.equal((await h.call('DELETE', CRB, { auth: 'super-admin' })).status, 200);
      const denied = await waitFor(async () => {
        const r = await h.call('GET', '/api/v1/namespaces/team-a/pods');
        return r.status === 403 ? r : undefined;
      }, { timeoutMs: 5000, what: 'the admin to lose cluster-admin' });
      assert.equal(denied.json.message, 'pods is forbidden: User "admin" cannot list resource "pods" in API group "" in the namespace "team-a"');
      assert.equal((await h.call('GET', '/api/v1/namespaces/team-a/pods', { auth: 'super-admin' })).status, 200);
      // The next start (here a second API server on the same store, as in an HA control plane) reconciles the bootstrap
      // policy and puts the binding back; this server's cache follows, and the admin is allowed again.
      const dataDir = mkdtempSync(join(tmpdir(), 'ketch-authz-second-'));
      cpSync(h.dataDir, dataDir, { recursive: true });
      const second = await startApiServer({ dataDir, securePort: 0, bindAddress: '127.0.0.1', storage: h.storage, kubernetesService: false });
      try {
        assert.equal((await h.call('GET', CRB, { auth: 'super-admin' })).status, 200);
        await waitFor(async () => ((await h.call('GET', '/api/v1/namespaces/team-a/pods')).status === 200 ? true : undefined), { timeoutMs: 5000, what: 'the admin to hold cluster-admin again' });
      } finally {
        await second.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
