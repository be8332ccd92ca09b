import assert from 'node:assert/strict';
import type { Pod } from '../../../api/index.js';
import { PodInfo } from '../../framework/node-info.js';
import { podRequests } from '../../framework/resources.js';
import { newState, node, nodeInfo, pod } from '../../../test/support/scheduler-fixtures.js';
import { balancedAllocation, nodeResourcesFit, TOO_MANY_PODS } from './index.js';
import { fitsResources, insufficientResources } from './fit.js';

const container = (name: string, cpu: string, memory: string, restartPolicy?: 'Always') => ({
  name,
  image: 'x',
  resources: { requests: { cpu, memory } },
  ...(restartPolicy ? { restartPolicy } : {}),
});

describe('NodeResourcesFit', () => {
  const fit = nodeResourcesFit();

  it('admits a pod whose requests fit in what is left', () => {
    const ni = nodeInfo(node('n', { cpu: '2', memory: '4Gi' }), [pod('a', { cpu: '1', memory: '1Gi', nodeName: 'n' })]);
    assert.ok(fit.filter(newState(), new PodInfo(pod('p', { cpu: '1', memory: '3Gi' })), ni).isSuccess());
  });

  it('decides fit from the node fields as the full check does, and follows pods added and removed', () => {
    const n = node('n', { cpu: '2', memory: '4Gi', pods: 3 });
    n.status!.allocatable!['example.com/gpu'] = '1';
    const ni = nodeInfo(n, [pod('a', { cpu: '1', memory: '1Gi', nodeName: 'n' })]);
    const gpuPod = pod('g', { cpu: '100m' });
    gpuPod.spec.containers[0]!.resources!.requests!['example.com/gpu'] = '1';
    const cases = [pod('fits', { cpu: '1', memory: '3Gi' }), pod('cpu', { cpu: '1001m' }), pod('mem', { memory: '3073Mi' }), pod('none'), gpuPod];
    const check = (): void => {
      for (const p of cases) {
        const pi = new PodInfo(p);
        assert.equal(fitsResources(pi, ni), insufficientResources(pi, ni).length === 0, p.metadata!.name);
      }
    };
    check();
    assert.deepEqual(cases.map((p) => fitsResources(new PodInfo(p), ni)), [true, false, false, true, true]);
    const b = new PodInfo(pod('b', { cpu: '1', memory: '1Gi', nodeName: 'n' }));
    ni.addPod(b);
    check();
    assert.equal(fitsResources(new PodInfo(cases[4]!), ni), false); // no cpu left
    ni.removePod(b.key);
    check();
    assert.equal(fitsResources(new PodInfo(cases[4]!), ni), true);
  });

  it('names every insufficient resource, and Too many pods', () => {
    const ni = nodeInfo(node('n', { cpu: '2', memory: '4Gi', pods: 1 }), [pod('a', { cpu: '1500m', memory: '1Gi', nodeName: 'n' })]);
    const st = fit.filter(newState(), new PodInfo(pod('p', { cpu: '1', memory: '3500Mi' })), ni);
    assert.equal(st.code, 'Unschedulable');
    assert.deepEqual(st.reasons, [TOO_MANY_PODS, 'Insufficient cpu', 'Insufficient memory']);
  });

  it('checks ephemeral-storage and extended resources', () => {
    const ni = nodeInfo(node('n'));
    const p = pod('p', { spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { 'ephemeral-storage': '200Gi', 'example.com/gpu': '1' } } }] } });
    assert.deepEqual(fit.filter(newState(), new PodInfo(p), ni).reasons, ['Insufficient ephemeral-storage', 'Insufficient example.com/gpu']);
  });

  it('counts the largest init container, sidecars and overhead (PodRequests)', () => {
    const spec: Partial<Pod['spec']> = {
      initContainers: [container('init', '3', '100Mi'), container('sidecar', '500m', '50Mi', 'Always'), container('late-init', '1', '1Gi')],
      containers: [container('app', '1', '200Mi')],
      overhead: { cpu: '100m', memory: '10Mi' },
    };
    const r = podRequests(pod('p', { spec }));
    // cpu: max(app 1 + sidecar 0.5, init 3, late-init 1 + sidecar 0.5) + 0.1; memory: max(250Mi, 100Mi, 1Gi+50Mi) + 10Mi
    assert.equal(r.cpu, 3100);
    assert.equal(r.memory, (1024 + 50 + 10) * 1024 * 1024);
    const small = nodeInfo(node('n', { cpu: '3' }));
    assert.deepEqual(fit.filter(newState(), new PodInfo(pod('p', { spec })), small).reasons, ['Insufficient cpu']);
  });

  it('scores LeastAllocated: emptier nodes higher, counting pods without requests at the defaults', () => {
    const p = new PodInfo(pod('p', { cpu: '1', memory: '1Gi' }));
    const empty = nodeInfo(node('e', { cpu: '4', memory: '4Gi' }));
    const half = nodeInfo(node('h', { cpu: '4', memory: '4Gi' }), [pod('a', { cpu: '2', memory: '2Gi', nodeName: 'h' })]);
    assert.equal(fit.score(newState(), p, empty), 75);
    assert.equal(fit.score(newState(), p, half), 25);
    const bare = nodeInfo(node('b', { cpu: '1', memory: '1Gi' }), [pod('x', { nodeName: 'b' })]); // 100m and 200Mi by default
    assert.equal(fit.score(newState(), new PodInfo(pod('q')), bare), Math.floor((80 + Math.floor(((1024 - 400) * 100) / 1024)) / 2));
  });

  it('scores MostAllocated and RequestedToCapacityRatio when configured', () => {
    const p = new PodInfo(pod('p', { cpu: '1', memory: '1Gi' }));
    const ni = nodeInfo(node('n', { cpu: '4', memory: '4Gi' }));
    assert.equal(nodeResourcesFit({ scoringStrategy: { type: 'MostAllocated' } }).score(newState(), p, ni), 25);
    const ratio = nodeResourcesFit({ scoringStrategy: { type: 'RequestedToCapacityRatio', requestedToCapacityRatio: { shape: [{ utilization: 0, score: 0 }, { utilization: 100, score: 10 }] } } });
    assert.equal(ratio.score(newState(), p, ni), 25);
    assert.throws(() => nodeResourcesFit({ scoringStrategy: { type: 'Bogus' } }), /unknown scoringStrategy/);
  });
});

describe('NodeResourcesBalancedAllocation', () => {
  const plugin = balancedAllocation();
  it('prefers the node where cpu and memory fractions are closest', () => {
    const p = new PodInfo(pod('p', { cpu: '1', memory: '1Gi' }));
    const balanced = nodeInfo(node('b', { cpu: '4', memory: '4Gi' }));
    const skewed = nodeInfo(node('s', { cpu: '4', memory: '4Gi' }), [pod('a', { cpu: '2', memory: '0', nodeName: 's' })]);
    assert.equal(plugin.score(newState(), p, balanced), 100);
    assert.equal(plugin.score(newState(), p, skewed), 75); // |0.75 - 0.25| / 2 = 0.25
  });
});
