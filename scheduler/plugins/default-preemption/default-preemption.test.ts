import assert from 'node:assert/strict';
import { PodInfo } from '../../framework/node-info.js';
import { fakeCluster, newState, node, pod } from '../../../test/support/scheduler-fixtures.js';
import { Status } from '../../framework/types.js';
import { nodeResourcesFit } from '../node-resources/index.js';
import { taintToleration } from '../taint-toleration/index.js';
import { defaultPreemption, NOT_ELIGIBLE_POLICY, pickCandidate } from './index.js';

describe('DefaultPreemption', () => {
  const fit = nodeResourcesFit();
  const filters = [taintToleration(), fit];
  const statusesFor = (nodes: string[], st: Status) => new Map(nodes.map((n) => [n, st]));
  const insufficient = Status.unschedulable('Insufficient cpu').withPlugin('NodeResourcesFit');

  it('evicts the fewest, lowest-priority pods on one node and nominates it', async () => {
    const c = fakeCluster(
      [node('n1', { cpu: '2' }), node('n2', { cpu: '2' })],
      [
        pod('n1-low', { cpu: '1', priority: 1, nodeName: 'n1' }),
        pod('n1-low2', { cpu: '1', priority: 1, nodeName: 'n1' }),
        pod('n2-low', { cpu: '1', priority: 1, nodeName: 'n2' }),
        pod('n2-mid', { cpu: '1', priority: 5, nodeName: 'n2' }),
      ],
      filters,
    );
    const plugin = defaultPreemption({}, c.handle);
    const vip = new PodInfo(pod('vip', { cpu: '1', priority: 10 }));
    const r = await plugin.postFilter(newState(), vip, statusesFor(['n1', 'n2'], insufficient));
    assert.ok(r.status.isSuccess());
    // n1 would lose n1-low2 and n2 would lose n2-low (n2-mid, more important, is reprieved): a tie on the highest
    // victim priority, the sum and the count, broken by the latest start time: n2-low was created last.
    assert.deepEqual(c.calls.evicted, [{ victim: 'n2-low', node: 'n2' }]);
    assert.equal(r.nominatedNodeName, 'n2');
  });

  it('prefers the node whose most important victim has the lowest priority', () => {
    const lowVictims = { node: 'a', victims: [new PodInfo(pod('x', { priority: 1 })), new PodInfo(pod('y', { priority: 1 }))] };
    const midVictim = { node: 'b', victims: [new PodInfo(pod('z', { priority: 5 }))] };
    assert.equal(pickCandidate([midVictim, lowVictims])?.node, 'a');
    const fewer = { node: 'c', victims: [new PodInfo(pod('w', { priority: 1 }))] };
    assert.equal(pickCandidate([lowVictims, fewer])?.node, 'c');
  });

  it('reports why preemption cannot help, in Kubernetes words', async () => {
    const c = fakeCluster(
      [node('n1', { cpu: '1' }), node('tainted', { spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } })],
      [pod('peer', { cpu: '1', priority: 10, nodeName: 'n1' })],
      filters,
    );
    const plugin = defaultPreemption({}, c.handle);
    const statuses = new Map([
      ['n1', insufficient],
      ['tainted', Status.unresolvable('node(s) had untolerated taint {k: }')],
    ]);
    const r = await plugin.postFilter(newState(), new PodInfo(pod('p', { cpu: '1', priority: 10 })), statuses);
    assert.equal(r.status.code, 'Unschedulable');
    assert.equal(r.status.message, 'preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.');
    assert.equal(c.calls.evicted.length, 0);
  });

  it('does not preempt when removing every lower-priority pod still would not make room', async () => {
    const c = fakeCluster([node('n1', { cpu: '1' })], [pod('low', { cpu: '500m', priority: 0, nodeName: 'n1' })], filters);
    const r = await defaultPreemption({}, c.handle).postFilter(newState(), new PodInfo(pod('p', { cpu: '2', priority: 10 })), statusesFor(['n1'], insufficient));
    assert.equal(r.status.message, 'preemption: 0/1 nodes are available: 1 Insufficient cpu.');
    assert.equal(c.calls.evicted.length, 0);
  });

  it('respects preemptionPolicy Never', async () => {
    const c = fakeCluster([node('n1', { cpu: '1' })], [pod('low', { cpu: '1', priority: 0, nodeName: 'n1' })], filters);
    const p = new PodInfo(pod('p', { cpu: '1', priority: 10, spec: { preemptionPolicy: 'Never' } }));
    const r = await defaultPreemption({}, c.handle).postFilter(newState(), p, statusesFor(['n1'], insufficient));
    assert.equal(r.status.message, `preemption: ${NOT_ELIGIBLE_POLICY}`);
    assert.equal(c.calls.evicted.length, 0);
  });
});
