// The Kubernetes Python client (Debian's python3-kubernetes) against a real API server: what a service written with
// it does without a running pod. It writes booleans as "True", which kube reads as true; its errors carry the body
// as the server wrote it. The streams (exec, attach, port-forward, an unknown subprotocol) need a pod on a node: they
// are in test/agent/client-streams.test.ts.
import { strict as assert } from 'node:assert';
import { startHarness, type Harness } from '../apiserver/harness.js';
import { runPython } from './python.js';

describe('the Python client (python3-kubernetes) against the API server', function () {
  this.timeout(60_000);
  let h: Harness;
  let kubeconfig: string;

  before(async () => {
    h = await startHarness();
    kubeconfig = h.api.adminKubeconfigPath;
    const ns = await h.call('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'py' } } });
    assert.equal(ns.status, 201, ns.text);
  });
  after(() => h?.stop());

  it('a list, then a watch from its resourceVersion with watch=True: ADDED, MODIFIED and DELETED in order', async () => {
    const r = await runPython<{ listed: number; events: { type: string; name: string; step: string }[] }>('watch.py', [kubeconfig, 'py', 'watched']);
    assert.equal(r.listed, 0);
    assert.deepEqual(r.events, [
      { type: 'ADDED', name: 'watched', step: 'created' },
      { type: 'MODIFIED', name: 'watched', step: 'updated' },
      { type: 'DELETED', name: 'watched', step: 'updated' },
    ]);
  });

  it('a conflicting create: 409 with the Status text kube-apiserver writes', async () => {
    const r = await runPython<{ status: number; reason: string; body: string }>('conflict.py', [kubeconfig, 'py', 'twice']);
    assert.equal(r.status, 409);
    // kube-apiserver's answer to the same request (errors.NewAlreadyExists for configmaps "twice").
    const kube = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"twice\\" already exists","reason":"AlreadyExists","details":{"name":"twice","kind":"configmaps"},"code":409}';
    assert.equal(JSON.stringify(JSON.parse(r.body)), kube);
    assert.equal(r.body, kube, 'the bytes as sent, in the same field order');
  });

  it('booleans written as True and False: watch, allowWatchBookmarks, pretty, orphanDependents', async () => {
    const present = (await h.call('GET', '/api/v1/namespaces/py/configmaps')).json.items as unknown[];
    const r = await runPython<Record<string, unknown>>('booleans.py', [kubeconfig, 'py', 'orphaned']);
    // A watch stream: one ADDED event a line for each config map there, ended by timeoutSeconds=1; not a list.
    assert.deepEqual(r.watchLines, present.map(() => 'ADDED'));
    assert.equal(r.listKind, 'ConfigMapList');
    assert.equal(r.prettyIndented, true);
    assert.equal(r.notPrettyCompact, true);
    assert.equal(r.deleteStatus, 200);
    assert.deepEqual(r.deleteFinalizers, ['orphan']);
  });
});
