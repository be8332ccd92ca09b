// PriorityClasses and priority admission against a real API server: built-in classes, pod priority from the class,
// the global default, and the refusals Kubernetes gives.
import { strict as assert } from 'node:assert';
import { podManifest, startHarness, type Harness } from './harness.js';

const PCS = '/apis/scheduling.k8s.io/v1/priorityclasses';
const PODS = '/api/v1/namespaces/default/pods';

type J = Record<string, unknown>;
const spec = (o: unknown): J => ((o as J).spec ?? {}) as J;
const priorityClass = (name: string, value: number, extra: J = {}): J => ({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...extra });
const podWith = (name: string, s: J): J => {
  const p = podManifest(name);
  return { ...p, spec: { ...spec(p), ...s } };
};

describe('priority classes', function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  it('is served in scheduling.k8s.io/v1 and found by discovery', async () => {
    const doc = await h.call('GET', '/apis/scheduling.k8s.io/v1');
    assert.equal(doc.status, 200);
    const pc = (doc.json.resources as J[]).find((r) => r.name === 'priorityclasses');
    assert.equal(pc?.namespaced, false);
    assert.deepEqual(pc?.shortNames, ['pc']);
    const groups = await h.call('GET', '/apis');
    assert.ok((groups.json.groups as J[]).some((g) => g.name === 'scheduling.k8s.io'));
  });

  it('creates the system classes at start and refuses to delete them', async () => {
    const node = await h.call('GET', `${PCS}/system-node-critical`);
    assert.equal(node.json.value, 2000001000);
    assert.equal(node.json.preemptionPolicy, 'PreemptLowerPriority');
    assert.equal((await h.call('GET', `${PCS}/system-cluster-critical`)).json.value, 2000000000);
    const del = await h.call('DELETE', `${PCS}/system-node-critical`);
    assert.equal(del.status, 403);
    assert.match(String(del.json.message), /this is a system priority class and cannot be deleted/);
  });

  it('validates classes: reserved names, the user maximum, immutable value', async () => {
    const sys = await h.call('POST', PCS, { body: priorityClass('system-mine', 10) });
    assert.equal(sys.status, 422);
    assert.match(String(sys.json.message), /reserved for system use only/);
    const big = await h.call('POST', PCS, { body: priorityClass('too-big', 1_000_000_001) });
    assert.equal(big.status, 422);
    assert.match(String(big.json.message), /maximum allowed value of a user defined priority is 1000000000/);
    assert.equal((await h.call('POST', PCS, { body: priorityClass('high', 1000, { description: 'important' }) })).status, 201);
    const patched = await h.call('PATCH', `${PCS}/high`, { body: { value: 2000 }, contentType: 'application/merge-patch+json' });
    assert.equal(patched.status, 422);
    assert.match(String(patched.json.message), /value: Forbidden: may not be changed in an update/);
  });

  it('gives a pod the priority and preemption policy of the class it names', async () => {
    await h.call('POST', PCS, { body: priorityClass('polite', 500, { preemptionPolicy: 'Never' }) });
    const r = await h.call('POST', PODS, { body: podWith('pc-named', { priorityClassName: 'polite' }) });
    assert.equal(r.status, 201, r.text);
    assert.equal(spec(r.json).priority, 500);
    assert.equal(spec(r.json).preemptionPolicy, 'Never');
  });

  it('keeps the priority when an update leaves it out', async () => {
    const cur = (await h.call('GET', `${PODS}/pc-named`)).json;
    const s = { ...spec(cur) };
    delete s.priority;
    delete s.preemptionPolicy;
    const r = await h.call('PUT', `${PODS}/pc-named`, { body: { ...cur, spec: s, metadata: { ...(cur.metadata as J), labels: { touched: 'yes' } } } });
    assert.equal(r.status, 200, r.text);
    assert.equal(spec(r.json).priority, 500);
    assert.equal(spec(r.json).preemptionPolicy, 'Never');
  });

  it('gives priority 0 without a class, and refuses an unknown class or a priority of the pod’s own', async () => {
    const plain = await h.call('POST', PODS, { body: podManifest('pc-none') });
    assert.equal(spec(plain.json).priority, 0);
    assert.equal(spec(plain.json).priorityClassName, undefined);

    const unknown = await h.call('POST', PODS, { body: podWith('pc-unknown', { priorityClassName: 'nope' }) });
    assert.equal(unknown.status, 403);
    assert.equal(unknown.json.reason, 'Forbidden');
    assert.equal(unknown.json.message, 'pods "pc-unknown" is forbidden: no PriorityClass with name nope was found');

    const own = await h.call('POST', PODS, { body: podWith('pc-own', { priority: 7 }) });
    assert.equal(own.status, 403);
    assert.match(String(own.json.message), /the integer value of priority \(7\) must not be provided in pod spec; priority admission controller computed 0/);
    const mismatch = await h.call('POST', PODS, { body: podWith('pc-mismatch', { priorityClassName: 'high', priority: 999 }) });
    assert.equal(mismatch.status, 403);
    const matching = await h.call('POST', PODS, { body: podWith('pc-matching', { priorityClassName: 'high', priority: 1000 }) });
    assert.equal(matching.status, 201, matching.text);
    const policy = await h.call('POST', PODS, { body: podWith('pc-policy', { priorityClassName: 'polite', preemptionPolicy: 'PreemptLowerPriority' }) });
    assert.equal(policy.status, 403);
    assert.match(String(policy.json.message), /the string value of PreemptionPolicy \(PreemptLowerPriority\) must not be provided/);
  });

  it('uses the one global default class for pods that name none', async () => {
    assert.equal((await h.call('POST', PCS, { body: priorityClass('fallback', 42, { globalDefault: true }) })).status, 201);
    const second = await h.call('POST', PCS, { body: priorityClass('fallback2', 43, { globalDefault: true }) });
    assert.equal(second.status, 403);
    assert.match(String(second.json.message), /PriorityClass fallback is already marked as default. Only one default can exist/);
    const marking = await h.call('PATCH', `${PCS}/high`, { body: { globalDefault: true }, contentType: 'application/merge-patch+json' });
    assert.equal(marking.status, 403);

    const r = await h.call('POST', PODS, { body: podManifest('pc-default') });
    assert.equal(spec(r.json).priority, 42);
    assert.equal(spec(r.json).priorityClassName, 'fallback');
    assert.equal((await h.call('DELETE', `${PCS}/fallback`)).status, 200);
    assert.equal(spec((await h.call('POST', PODS, { body: podManifest('pc-after') })).json).priority, 0);
  });

  it('prints classes as kubectl does', async () => {
    const t = await h.call('GET', `${PCS}/high`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    assert.deepEqual((t.json.columnDefinitions as J[]).map((c) => c.name), ['Name', 'Value', 'Global-Default', 'Age', 'PreemptionPolicy']);
    assert.deepEqual(((t.json.rows as J[])[0]?.cells as unknown[]).filter((_, i) => i !== 3), ['high', 1000, false, 'PreemptLowerPriority']);
  });
});
