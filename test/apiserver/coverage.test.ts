// Wire-level checks of API server behaviours no other test pins down, each against what kube-apiserver 1.32 does:
// field selectors on events and secrets (list and watch), Tables of nodes and events, fieldValidation=Ignore, YAML
// bodies, dryRun on update/patch/delete/deletecollection, strategic-merge list keys beyond containers, /scale of
// replicasets and statefulsets, and 404s for a resource addressed at the wrong scope.
import { strict as assert } from 'node:assert';
import { startHarness, type Harness } from './harness.js';

const NS = '/api/v1/namespaces/default';
const APPS = '/apis/apps/v1/namespaces/default';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const SMP = 'application/strategic-merge-patch+json';
const MERGE = 'application/merge-patch+json';

type J = Record<string, unknown>;
const meta = (o: unknown): J => ((o as J).metadata ?? {}) as J;
const spec = (o: unknown): J => ((o as J).spec ?? {}) as J;
const status = (o: unknown): J => ((o as J).status ?? {}) as J;
const items = (o: unknown): J[] => ((o as J).items ?? []) as J[];
const names = (o: unknown): string[] => items(o).map((i) => String(meta(i).name)).sort();
const q = encodeURIComponent;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
/** An RFC 3339 timestamp (seconds precision, as kube stores them) `ms` before now. */
const ago = (ms: number): string => new Date(Math.floor((Date.now() - ms) / 1000) * 1000).toISOString().replace('.000Z', 'Z');

const event = (name: string, involved: J, extra: J = {}): J => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name, labels: { suite: 'coverage' } },
  involvedObject: involved,
  reason: 'Testing',
  message: `about ${String(involved.name)}`,
  type: 'Normal',
  source: { component: 'coverage-test' },
  ...extra,
});

describe('apiserver coverage', function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  const create = async (path: string, body: unknown): Promise<J> => {
    const r = await h.call('POST', path, { body });
    assert.equal(r.status, 201, `POST ${path}: ${r.text}`);
    return r.json;
  };

  describe('field selectors', () => {
    before(async () => {
      await create(`${NS}/events`, event('fs-p1', { kind: 'Pod', namespace: 'default', name: 'p1', apiVersion: 'v1' }));
      await create(`${NS}/events`, event('fs-p2', { kind: 'Pod', namespace: 'default', name: 'p2', apiVersion: 'v1' }, { reason: 'Killing' }));
      // A cluster-scoped object's events live in default with an empty involvedObject.namespace.
      await create(`${NS}/events`, event('fs-n1', { kind: 'Node', name: 'n1', apiVersion: 'v1' }));
      await create(`${NS}/secrets`, { metadata: { name: 'fs-opaque', labels: { suite: 'coverage' } }, type: 'Opaque', data: { k: b64('v') } });
      await create(`${NS}/secrets`, {
        metadata: { name: 'fs-basic', labels: { suite: 'coverage' } },
        type: 'kubernetes.io/basic-auth',
        data: { username: b64('u'), password: b64('p') },
      });
      await create(`${NS}/secrets`, {
        metadata: { name: 'fs-docker', labels: { suite: 'coverage' } },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': b64('{"auths":{}}') },
      });
    });

    const listEvents = async (fs: string, path = `${NS}/events`): Promise<string[]> => {
      const r = await h.call('GET', `${path}?labelSelector=suite%3Dcoverage&fieldSelector=${q(fs)}`);
      assert.equal(r.status, 200, r.text);
      return names(r.json);
    };

    it('lists events by involvedObject.name, .kind and .namespace, and by reason', async () => {
      assert.deepEqual(await listEvents('involvedObject.name=p1'), ['fs-p1']);
      assert.deepEqual(await listEvents('involvedObject.kind=Node'), ['fs-n1']);
      assert.deepEqual(await listEvents('involvedObject.kind=Pod'), ['fs-p1', 'fs-p2']);
      assert.deepEqual(await listEvents('involvedObject.namespace=default'), ['fs-p1', 'fs-p2']);
      assert.deepEqual(await listEvents('involvedObject.namespace='), ['fs-n1']);
      assert.deepEqual(await listEvents('involvedObject.kind=Pod,involvedObject.name!=p1'), ['fs-p2']);
      assert.deepEqual(await listEvents('reason=Killing', '/api/v1/events'), ['fs-p2'], 'across namespaces too');
      assert.deepEqual(await listEvents('involvedObject.name=nobody'), []);
    });

    it('watches events with an involvedObject field selector: only matching events arrive', async () => {
      const w = await h.watch(`${NS}/events?watch=1&fieldSelector=${q('involvedObject.name=wp')}`);
      try {
        assert.equal(w.status, 200);
        await create(`${NS}/events`, event('fs-w-other', { kind: 'Pod', namespace: 'default', name: 'other' }));
        await create(`${NS}/events`, event('fs-w-1', { kind: 'Pod', namespace: 'default', name: 'wp' }));
        const first = await w.next(3000);
        assert.equal(first?.type, 'ADDED');
        assert.equal(meta(first?.object).name, 'fs-w-1', 'the event about another object is not sent');
        const other = await h.call('GET', `${NS}/events/fs-w-other`);
        await h.call('PUT', `${NS}/events/fs-w-other`, { body: { ...other.json, message: 'changed' } });
        await create(`${NS}/events`, event('fs-w-2', { kind: 'Node', name: 'wp' }));
        const second = await w.next(3000);
        assert.equal(second?.type, 'ADDED');
        assert.equal(meta(second?.object).name, 'fs-w-2');
      } finally {
        w.close();
      }
    });

    it('selects secrets by type with = and !=', async () => {
      const sel = async (fs: string): Promise<string[]> => {
        const r = await h.call('GET', `${NS}/secrets?labelSelector=suite%3Dcoverage&fieldSelector=${q(fs)}`);
        assert.equal(r.status, 200, r.text);
        return names(r.json);
      };
      assert.deepEqual(await sel('type=Opaque'), ['fs-opaque']);
      assert.deepEqual(await sel('type!=Opaque'), ['fs-basic', 'fs-docker']);
      assert.deepEqual(await sel('type=kubernetes.io/dockerconfigjson'), ['fs-docker']);
    });

    it('answers 400 BadRequest naming the field for an unsupported field selector, on list and on watch', async () => {
      const r = await h.call('GET', `${NS}/events?fieldSelector=${q('involvedObject.bogus=x')}`);
      assert.equal(r.status, 400);
      assert.equal(r.json.kind, 'Status');
      assert.equal(r.json.reason, 'BadRequest');
      assert.match(String(r.json.message), /field label not supported: involvedObject\.bogus/);
      const s = await h.call('GET', `${NS}/secrets?fieldSelector=${q('data.k=x')}`);
      assert.equal(s.status, 400);
      assert.match(String(s.json.message), /field label not supported: data\.k/);
      const w = await h.watch(`${NS}/secrets?watch=1&fieldSelector=${q('data.k=x')}`);
      w.close();
      assert.equal(w.status, 400, 'a watch with an unsupported field selector is refused before it starts');
    });
  });

  describe('tables', () => {
    it('renders nodes with NAME STATUS ROLES AGE VERSION (and the wide columns)', async () => {
      await create('/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'tbl-node', labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/worker': '' } },
        spec: { unschedulable: true },
      });
      const st = await h.call('PATCH', '/api/v1/nodes/tbl-node/status', {
        body: {
          status: {
            conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: ago(0), lastTransitionTime: ago(0) }],
            addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'Hostname', address: 'tbl-node' }],
            nodeInfo: {
              machineID: 'm1',
              systemUUID: 's1',
              bootID: 'b1',
              kernelVersion: '6.1.0',
              osImage: 'Debian GNU/Linux 12',
              containerRuntimeVersion: 'containerd://1.7.0',
              kubeletVersion: 'v1.32.0',
              kubeProxyVersion: '',
              operatingSystem: 'linux',
              architecture: 'amd64',
            },
          },
        },
        contentType: MERGE,
      });
      assert.equal(st.status, 200, st.text);
      const r = await h.call('GET', '/api/v1/nodes/tbl-node', { accept: TABLE });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.kind, 'Table');
      assert.equal(r.json.apiVersion, 'meta.k8s.io/v1');
      const cols = r.json.columnDefinitions as J[];
      assert.deepEqual(
        cols.map((c) => c.name),
        ['Name', 'Status', 'Roles', 'Age', 'Version', 'Internal-IP', 'External-IP', 'OS-Image', 'Kernel-Version', 'Container-Runtime'],
      );
      assert.deepEqual(cols.map((c) => c.priority ?? 0), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
      const rows = r.json.rows as J[];
      assert.equal(rows.length, 1);
      const cells = rows[0]?.cells as unknown[];
      assert.deepEqual(cells.slice(0, 3), ['tbl-node', 'Ready,SchedulingDisabled', 'control-plane,worker']);
      assert.match(String(cells[3]), /^\d+s$/);
      assert.deepEqual(cells.slice(4), ['v1.32.0', '10.0.0.5', '<none>', 'Debian GNU/Linux 12', '6.1.0', 'containerd://1.7.0']);
    });

    it("renders events with kube's columns: LAST SEEN TYPE REASON OBJECT [SUBOBJECT SOURCE] MESSAGE [FIRST SEEN COUNT NAME]", async () => {
      await create(
        `${NS}/events`,
        event(
          'tbl-ev',
          { kind: 'Pod', namespace: 'default', name: 'web-1', fieldPath: 'spec.containers{app}' },
          {
            type: 'Warning',
            reason: 'BackOff',
            message: 'Back-off restarting failed container',
            source: { component: 'kubelet', host: 'n1' },
            count: 3,
            firstTimestamp: ago(20 * 3600_000),
            lastTimestamp: ago(30 * 60_000),
          },
        ),
      );
      const r = await h.call('GET', `${NS}/events?fieldSelector=${q('metadata.name=tbl-ev')}`, { accept: TABLE });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.kind, 'Table');
      const cols = r.json.columnDefinitions as J[];
      // kubectl get events shows the priority-0 columns; -o wide shows all.
      assert.deepEqual(
        cols.filter((c) => !c.priority).map((c) => c.name),
        ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
      );
      const rows = r.json.rows as J[];
      assert.equal(rows.length, 1);
      const cells = rows[0]?.cells as unknown[];
      assert.equal(cells.length, cols.length);
      assert.deepEqual(Object.fromEntries(cols.map((c, i) => [c.name, cells[i]])), {
        'Last Seen': '30m',
        Type: 'Warning',
        Reason: 'BackOff',
        Object: 'pod/web-1',
        Subobject: 'spec.containers{app}',
        Source: 'kubelet, n1',
        Message: 'Back-off restarting failed container',
        'First Seen': '20h',
        // printEvent appends int64(count): a JSON number in the cells.
        Count: 3,
        Name: 'tbl-ev',
      });
      // The order of the wide columns, as kube-apiserver's printers declare them (kubectl get events -o wide).
      assert.deepEqual(
        cols.map((c) => c.name),
        ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject', 'Source', 'Message', 'First Seen', 'Count', 'Name'],
      );
    });
  });

  describe('node status', () => {
    it('accepts a node status with only some nodeInfo fields (kube requires no node status field)', async () => {
      await create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'partial-info' } });
      const r = await h.call('PATCH', '/api/v1/nodes/partial-info/status', {
        body: { status: { nodeInfo: { kubeletVersion: 'v1.32.0' } } },
        contentType: MERGE,
      });
      assert.equal(r.status, 200, r.text);
      assert.equal((status(r.json).nodeInfo as J).kubeletVersion, 'v1.32.0');
    });
  });

  describe('request bodies', () => {
    it('accepts unknown fields silently with fieldValidation=Ignore and drops them', async () => {
      const r = await h.call('POST', `${NS}/configmaps?fieldValidation=Ignore`, {
        body: { metadata: { name: 'fv-ignore', labels: { a: 'b' } }, data: { k: 'v' }, bogus: 1, spec: { x: 1 } },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.headers.warning, undefined, 'no Warning header with Ignore');
      assert.equal(r.json.bogus, undefined);
      const g = await h.call('GET', `${NS}/configmaps/fv-ignore`);
      assert.equal(g.status, 200);
      assert.equal(g.json.bogus, undefined);
      assert.equal(g.json.spec, undefined);
      assert.deepEqual(g.json.data, { k: 'v' });
      assert.deepEqual(meta(g.json).labels, { a: 'b' });
      const u = await h.call('PUT', `${NS}/configmaps/fv-ignore?fieldValidation=Ignore`, { body: { ...g.json, data: { k: 'w' }, extra: true } });
      assert.equal(u.status, 200, u.text);
      assert.equal(u.headers.warning, undefined);
      assert.equal(u.json.extra, undefined);
    });

    it('creates from a YAML body and answers 400 BadRequest for malformed YAML', async () => {
      const yaml = ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: from-yaml', '  labels:', '    src: yaml', 'data:', '  a: "1"', '  b: |', '    multi', '    line', ''].join('\n');
      const r = await h.call('POST', `${NS}/configmaps`, { raw: yaml, contentType: 'application/yaml' });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.kind, 'ConfigMap');
      assert.deepEqual(r.json.data, { a: '1', b: 'multi\nline\n' });
      const g = await h.call('GET', `${NS}/configmaps/from-yaml`);
      assert.deepEqual(g.json.data, { a: '1', b: 'multi\nline\n' });
      assert.deepEqual(meta(g.json).labels, { src: 'yaml' });
      const bad = await h.call('POST', `${NS}/configmaps`, { raw: 'metadata: {name: broken\ndata: [1, 2\n', contentType: 'application/yaml' });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.kind, 'Status');
      assert.equal(bad.json.reason, 'BadRequest');
      assert.equal((await h.call('GET', `${NS}/configmaps/broken`)).status, 404);
    });
  });

  describe('dryRun=All', () => {
    let before0: J;
    before(async () => {
      before0 = await create(`${NS}/configmaps`, { metadata: { name: 'dry-obj', labels: { dry: 'x' } }, data: { k: 'v' } });
      await create(`${NS}/configmaps`, { metadata: { name: 'dry-obj-2', labels: { dry: 'x' } }, data: { k: 'v' } });
    });

    const unchanged = async (): Promise<void> => {
      const g = await h.call('GET', `${NS}/configmaps/dry-obj`);
      assert.equal(g.status, 200, 'still there');
      assert.deepEqual(g.json.data, { k: 'v' });
      assert.deepEqual(meta(g.json).labels, { dry: 'x' });
      assert.equal(meta(g.json).resourceVersion, meta(before0).resourceVersion);
    };

    it('PUT answers the updated object but stores nothing', async () => {
      const r = await h.call('PUT', `${NS}/configmaps/dry-obj?dryRun=All`, { body: { ...before0, data: { k: 'changed' } } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data, { k: 'changed' });
      await unchanged();
    });

    it('merge PATCH answers the patched object but stores nothing', async () => {
      const r = await h.call('PATCH', `${NS}/configmaps/dry-obj?dryRun=All`, { body: { metadata: { labels: { dry: 'patched' } }, data: { k2: 'v2' } }, contentType: MERGE });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data, { k: 'v', k2: 'v2' });
      assert.equal(meta(r.json).labels && (meta(r.json).labels as J).dry, 'patched');
      await unchanged();
    });

    it('DELETE answers success but the object stays', async () => {
      const r = await h.call('DELETE', `${NS}/configmaps/dry-obj?dryRun=All`);
      assert.equal(r.status, 200, r.text);
      if (r.json.kind === 'Status') assert.equal(r.json.status, 'Success');
      else assert.equal(meta(r.json).name, 'dry-obj');
      await unchanged();
    });

    it('deletecollection answers the would-be-deleted items but they stay', async () => {
      const r = await h.call('DELETE', `${NS}/configmaps?labelSelector=dry%3Dx&dryRun=All`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.kind, 'ConfigMapList');
      assert.deepEqual(names(r.json), ['dry-obj', 'dry-obj-2']);
      const l = await h.call('GET', `${NS}/configmaps?labelSelector=dry%3Dx`);
      assert.deepEqual(names(l.json), ['dry-obj', 'dry-obj-2']);
      await unchanged();
    });
  });

  describe('strategic merge patch list keys', () => {
    const template = (podSpec: J): J => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: podSpec } },
    });
    const podSpecOf = (d: unknown): J => spec(spec(d).template);

    it('merges initContainers by name', async () => {
      const d = template({
        initContainers: [
          { name: 'i1', image: 'busybox:1', command: ['true'] },
          { name: 'i2', image: 'busybox:1', command: ['sleep', '1'] },
        ],
        containers: [{ name: 'app', image: 'nginx:1' }],
      });
      await create(`${APPS}/deployments`, { ...d, metadata: { name: 'smp-init' } });
      const r = await h.call('PATCH', `${APPS}/deployments/smp-init`, {
        body: { spec: { template: { spec: { initContainers: [{ name: 'i2', image: 'busybox:2' }] } } } },
        contentType: SMP,
      });
      assert.equal(r.status, 200, r.text);
      const ics = podSpecOf(r.json).initContainers as J[];
      assert.deepEqual(
        ics.map((c) => [c.name, c.image, c.command]),
        [
          ['i1', 'busybox:1', ['true']],
          ['i2', 'busybox:2', ['sleep', '1']],
        ],
      );
      assert.deepEqual((podSpecOf(r.json).containers as J[]).map((c) => c.name), ['app']);
    });

    it('merges a container volumeMounts by mountPath', async () => {
      const d = template({
        volumes: [
          { name: 'v1', emptyDir: {} },
          { name: 'v2', emptyDir: {} },
        ],
        containers: [
          {
            name: 'app',
            image: 'nginx:1',
            volumeMounts: [
              { name: 'v1', mountPath: '/a' },
              { name: 'v2', mountPath: '/b' },
            ],
          },
        ],
      });
      await create(`${APPS}/deployments`, { ...d, metadata: { name: 'smp-vm' } });
      const r = await h.call('PATCH', `${APPS}/deployments/smp-vm`, {
        body: { spec: { template: { spec: { containers: [{ name: 'app', volumeMounts: [{ mountPath: '/b', readOnly: true }] }] } } } },
        contentType: SMP,
      });
      assert.equal(r.status, 200, r.text);
      const c = (podSpecOf(r.json).containers as J[])[0] as J;
      assert.equal(c.image, 'nginx:1');
      assert.deepEqual(
        (c.volumeMounts as J[]).map((m) => [m.name, m.mountPath, m.readOnly ?? false]),
        [
          ['v1', '/a', false],
          ['v2', '/b', true],
        ],
      );
    });

    it('merges pod status conditions by type through /status', async () => {
      await create(`${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'smp-cond' }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } });
      const t = ago(0);
      const first = await h.call('PATCH', `${NS}/pods/smp-cond/status`, {
        body: {
          status: {
            conditions: [
              { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
              { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: t },
            ],
          },
        },
        contentType: SMP,
      });
      assert.equal(first.status, 200, first.text);
      const r = await h.call('PATCH', `${NS}/pods/smp-cond/status`, {
        body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: null }] } },
        contentType: SMP,
      });
      assert.equal(r.status, 200, r.text);
      const conds = status(r.json).conditions as J[];
      assert.deepEqual(
        conds.map((c) => [c.type, c.status, c.reason]),
        [
          ['PodScheduled', 'True', undefined],
          ['Ready', 'True', undefined],
        ],
      );
      assert.equal(conds[1]?.lastTransitionTime, t, 'fields the patch does not name are kept');
      const g = await h.call('GET', `${NS}/pods/smp-cond`);
      assert.deepEqual((status(g.json).conditions as J[]).map((c) => [c.type, c.status]), [
        ['PodScheduled', 'True'],
        ['Ready', 'True'],
      ]);
    });

    it('merges service spec.ports by port', async () => {
      await create(`${NS}/services`, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'smp-svc' },
        spec: {
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 8080 },
            { name: 'https', port: 443, targetPort: 8443 },
          ],
        },
      });
      const r = await h.call('PATCH', `${NS}/services/smp-svc`, { body: { spec: { ports: [{ port: 443, targetPort: 9443 }] } }, contentType: SMP });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        (spec(r.json).ports as J[]).map((p) => [p.name, p.port, p.targetPort, p.protocol]),
        [
          ['http', 80, 8080, 'TCP'],
          ['https', 443, 9443, 'TCP'],
        ],
      );
    });
  });

  describe('scale subresource of replicasets and statefulsets', () => {
    const rs = (name: string): J => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name },
      spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } } },
    });
    const sts = (name: string): J => ({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name },
      spec: {
        replicas: 2,
        serviceName: name,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } },
      },
    });

    for (const [resource, manifest] of [
      ['replicasets', rs],
      ['statefulsets', sts],
    ] as const) {
      it(`serves autoscaling/v1 Scale for ${resource} and changes spec.replicas by PUT and PATCH`, async () => {
        const name = `scale-${resource}`;
        const obj = await create(`${APPS}/${resource}`, manifest(name));
        const s = await h.call('GET', `${APPS}/${resource}/${name}/scale`);
        assert.equal(s.status, 200, s.text);
        assert.equal(s.json.kind, 'Scale');
        assert.equal(s.json.apiVersion, 'autoscaling/v1');
        assert.equal(meta(s.json).name, name);
        assert.equal(meta(s.json).namespace, 'default');
        assert.equal(meta(s.json).uid, meta(obj).uid);
        assert.equal(spec(s.json).replicas, 2);
        assert.equal(status(s.json).selector, `app=${name}`);
        assert.equal(status(s.json).replicas, 0);

        const put = await h.call('PUT', `${APPS}/${resource}/${name}/scale`, { body: { ...s.json, spec: { replicas: 4 } } });
        assert.equal(put.status, 200, put.text);
        assert.equal(spec(put.json).replicas, 4);
        assert.equal(spec((await h.call('GET', `${APPS}/${resource}/${name}`)).json).replicas, 4);

        const patch = await h.call('PATCH', `${APPS}/${resource}/${name}/scale`, { body: { spec: { replicas: 1 } }, contentType: MERGE });
        assert.equal(patch.status, 200, patch.text);
        assert.equal(spec(patch.json).replicas, 1);
        const after = await h.call('GET', `${APPS}/${resource}/${name}`);
        assert.equal(spec(after.json).replicas, 1);
        assert.equal(meta(after.json).generation, 3, 'each replicas change is a spec change');
      });
    }
  });

  describe('scope in the URL', () => {
    it('answers 404 Status for a cluster-scoped kind under a namespace', async () => {
      await create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'scope-node' } });
      for (const path of [`${NS}/nodes`, `${NS}/nodes/scope-node`]) {
        const r = await h.call('GET', path);
        assert.equal(r.status, 404, `GET ${path}: ${r.text}`);
        assert.equal(r.json?.kind, 'Status', `GET ${path}: ${r.text}`);
        assert.equal(r.json.reason, 'NotFound');
      }
    });

    it('answers 404 Status for a namespaced item without its namespace', async () => {
      await create(`${NS}/configmaps`, { metadata: { name: 'scope-cm' } });
      for (const path of ['/api/v1/pods/x', '/api/v1/configmaps/scope-cm']) {
        const r = await h.call('GET', path);
        assert.equal(r.status, 404, `GET ${path}: ${r.text}`);
        assert.equal(r.json?.kind, 'Status', `GET ${path}: ${r.text}`);
      }
    });
  });
});
