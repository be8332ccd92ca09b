import assert from 'node:assert/strict';
import { objectKey, prefixKey, newUid, nowRFC3339, nowRFC3339Micro } from './keys.js';
import { findByKind } from './resources.js';
import { matchesLabelSelector, parseLabelSelector, formatLabelSelector, SelectorParseError } from './selectors.js';
import { dropNulls, unknownFields, pruneUnknownFields } from './prune.js';
import { podQOSClass } from './qos.js';
import { examples } from '../test/support/api-examples.js';
import { applyDefaults } from './defaults.js';

describe('keys', () => {
  it('builds storage keys', () => {
    const pods = findByKind('v1', 'Pod')!;
    const nodes = findByKind('v1', 'Node')!;
    const deployments = findByKind('apps/v1', 'Deployment')!;
    assert.equal(objectKey(pods, 'default', 'web'), '/registry/core/pods/default/web');
    assert.equal(objectKey(nodes, undefined, 'worker-1'), '/registry/core/nodes/worker-1');
    assert.equal(objectKey(deployments, 'prod', 'api'), '/registry/apps/deployments/prod/api');
    assert.equal(prefixKey(pods), '/registry/core/pods/');
    assert.equal(prefixKey(pods, 'default'), '/registry/core/pods/default/');
  });
  it('makes uids and timestamps', () => {
    assert.match(newUid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(newUid(), newUid());
    const d = new Date(Date.UTC(2024, 0, 2, 15, 4, 5, 123));
    assert.equal(nowRFC3339(d), '2024-01-02T15:04:05Z');
    assert.equal(nowRFC3339Micro(d), '2024-01-02T15:04:05.123000Z');
  });
});

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front', version: '3' };
  it('match labels and expressions', () => {
    assert.ok(matchesLabelSelector({}, labels), 'empty selects everything');
    assert.ok(!matchesLabelSelector(undefined, labels), 'absent selects nothing');
    assert.ok(matchesLabelSelector({ matchLabels: { app: 'web' } }, labels));
    assert.ok(!matchesLabelSelector({ matchLabels: { app: 'db' } }, labels));
    assert.ok(matchesLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, labels));
    assert.ok(matchesLabelSelector({ matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] }, labels));
    assert.ok(!matchesLabelSelector({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, labels));
    assert.ok(matchesLabelSelector({ matchExpressions: [{ key: 'version', operator: 'Gt', values: ['2'] }] }, labels));
  });
  it('parse and format the string form', () => {
    const sel = parseLabelSelector('app=web, tier in (front,back),!canary,version>2,env!=prod,team');
    assert.deepEqual(sel.matchExpressions, [
      { key: 'app', operator: 'In', values: ['web'] },
      { key: 'tier', operator: 'In', values: ['front', 'back'] },
      { key: 'canary', operator: 'DoesNotExist' },
      { key: 'version', operator: 'Gt', values: ['2'] },
      { key: 'env', operator: 'NotIn', values: ['prod'] },
      { key: 'team', operator: 'Exists' },
    ]);
    assert.ok(matchesLabelSelector(sel, { app: 'web', tier: 'back', version: '3', team: 'a' }));
    assert.deepEqual(parseLabelSelector(''), {});
    assert.throws(() => parseLabelSelector('a in b'), SelectorParseError);
    assert.equal(formatLabelSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['b', 'a'] }, { key: 'x', operator: 'DoesNotExist' }] }), 'app=web,tier notin (a,b),!x');
  });
});

describe('prune', () => {
  it('drops nulls recursively', () => {
    assert.deepEqual(dropNulls({ a: null, b: { c: null, d: 1 }, e: [{ f: null }] }), { b: { d: 1 }, e: [{}] });
  });
  it('finds and prunes unknown fields but keeps maps and free-form objects', () => {
    const pod = examples.pod();
    Object.assign(pod, { extra: 1 });
    Object.assign(pod.spec.containers[0]!, { imagePolicy: 'x' });
    pod.metadata.labels!['anything.goes/here'] = 'ok';
    pod.metadata.managedFields = [{ manager: 'kubectl', fieldsV1: { 'f:metadata': {} } }];
    const expected = ['extra', 'spec.containers[0].imagePolicy'];
    assert.deepEqual(unknownFields(pod).sort(), expected);
    assert.deepEqual(pruneUnknownFields(pod).sort(), expected);
    assert.equal('extra' in pod, false);
    assert.deepEqual(unknownFields(pod), []);
    assert.deepEqual(unknownFields({ apiVersion: 'x', kind: 'Y' }), []);
  });
  it('names unknown fields deep in lists, and keys that are no identifiers in brackets', () => {
    const pod = examples.pod();
    const i = pod.spec.containers.length;
    pod.spec.containers.push({ name: 'second', image: 'busybox', ports: [{ containerPort: 80 }, { containerPort: 81, bogus: true } as never] });
    Object.assign(pod, { 'x-y': 1 });
    Object.assign(pod.spec, { 'odd key': { deep: 1 } });
    const expected = ['[x-y]', `spec.containers[${i}].ports[1].bogus`, 'spec[odd key]'];
    assert.deepEqual(unknownFields(pod).sort(), expected);
    assert.deepEqual(pruneUnknownFields(pod).sort(), expected);
    assert.deepEqual(pod.spec.containers[i]!.ports, [{ containerPort: 80 }, { containerPort: 81 }]);
    assert.deepEqual(unknownFields(pod), []);
  });
  it('drops nulls in lists of lists and keeps what is not null', () => {
    const v = { a: [[null, { b: null, c: 0 }], []], d: '', e: false, f: { g: { h: null } } };
    assert.deepEqual(dropNulls(v), { a: [[null, { c: 0 }], []], d: '', e: false, f: { g: {} } });
  });
});

describe('podQOSClass', () => {
  const pod = (resources: object[]) => {
    const p = examples.pod();
    p.spec.initContainers = [];
    p.spec.containers = resources.map((r, i) => ({ name: `c${i}`, image: 'x:1', resources: r }));
    return applyDefaults(p);
  };
  it('classifies pods as Kubernetes does', () => {
    assert.equal(podQOSClass(pod([{}])), 'BestEffort');
    assert.equal(podQOSClass(pod([{ limits: { cpu: '1', memory: '1Gi' } }])), 'Guaranteed');
    assert.equal(podQOSClass(pod([{ requests: { cpu: '1000m', memory: '1Gi' }, limits: { cpu: 1, memory: '1024Mi' } }])), 'Guaranteed');
    assert.equal(podQOSClass(pod([{ requests: { cpu: '500m' }, limits: { cpu: '1', memory: '1Gi' } }])), 'Burstable');
    assert.equal(podQOSClass(pod([{ limits: { cpu: '1', memory: '1Gi' } }, {}])), 'Burstable');
    assert.equal(podQOSClass(pod([{ requests: { memory: '1Gi' } }])), 'Burstable');
  });
});
