import assert from 'node:assert/strict';
import { SchedulerCache } from './cache.js';
import { PodInfo } from './node-info.js';
import { node, pod } from '../../test/support/scheduler-fixtures.js';

describe('SchedulerCache', () => {
  it('sums requests per node as pods are added, updated and removed', () => {
    const c = new SchedulerCache();
    c.addNode(node('n'));
    const a = pod('a', { cpu: '1', memory: '1Gi', nodeName: 'n' });
    c.addPod(a);
    c.addPod(pod('b', { cpu: '500m', nodeName: 'n' }));
    const ni = c.get('n')!;
    assert.equal(ni.requested.cpu, 1500);
    assert.equal(ni.requested.pods, 2);
    c.updatePod({ ...a, spec: { ...a.spec, containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '2' } } }] } });
    assert.equal(ni.requested.cpu, 2500);
    c.removePod(a);
    assert.equal(ni.requested.cpu, 500);
    assert.equal(ni.requested.pods, 1);
  });

  it('assumes a chosen pod at once, and forgets it if the binding fails', () => {
    const c = new SchedulerCache();
    c.addNode(node('n'));
    const pi = new PodInfo(pod('p', { cpu: '1' }));
    c.assumePod(pi, 'n');
    assert.equal(c.get('n')!.requested.cpu, 1000);
    assert.ok(c.isAssumed(pi.pod));
    assert.throws(() => c.assumePod(pi, 'n'), /already in the cache/);
    c.forgetPod(pi);
    assert.equal(c.get('n')!.requested.cpu ?? 0, 0);
    assert.equal(c.nodeOf(pi.pod), undefined);
  });

  it('confirms an assumed pod when the API reports it bound; forgetting it afterwards does nothing', () => {
    const c = new SchedulerCache();
    c.addNode(node('n'));
    const p = pod('p', { cpu: '1' });
    const pi = new PodInfo(p);
    c.assumePod(pi, 'n');
    c.addPod({ ...p, spec: { ...p.spec, nodeName: 'n' } });
    assert.ok(!c.isAssumed(p));
    c.forgetPod(pi);
    assert.equal(c.get('n')!.requested.cpu, 1000);
  });

  it('keeps pods of a deleted node until they go, but lists only existing nodes', () => {
    const c = new SchedulerCache();
    const n = node('n', { images: [{ names: ['busybox:1.36'], sizeBytes: 1 }] });
    c.addNode(n);
    c.addNode(node('m'));
    const p = pod('p', { nodeName: 'n' });
    c.addPod(p);
    assert.equal(c.imageNodeCount('docker.io/library/busybox:1.36'), 1);
    c.removeNode(n);
    assert.deepEqual(c.list().map((x) => x.name), ['m']);
    assert.equal(c.get('n'), undefined);
    assert.equal(c.imageNodeCount('docker.io/library/busybox:1.36'), 0);
    assert.equal(c.podCount, 1);
    c.removePod(p);
    assert.equal(c.podCount, 0);
  });

  it('counts pods with inter-pod affinity terms', () => {
    const c = new SchedulerCache();
    c.addNode(node('n'));
    const p = pod('p', { nodeName: 'n', spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'k' }] } } } });
    c.addPod(p);
    assert.equal(c.podsWithAffinity, 1);
    assert.equal(c.get('n')!.podsWithRequiredAntiAffinity.size, 1);
    c.removePod(p);
    assert.equal(c.podsWithAffinity, 0);
  });
});
