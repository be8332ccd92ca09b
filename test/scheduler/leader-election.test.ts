// Two schedulers with leader election: only the holder of the Lease binds pods; when it stops, the other takes over.
import assert from 'node:assert/strict';
import { LEASES, type Lease } from '../../client/index.js';
import { startScheduler, type RunningScheduler } from '../../scheduler/index.js';
import { waitFor } from '../support/util.js';
import { makeNode, makePod, startTestCluster, withoutUid, type TestCluster } from './cluster.js';

describe('scheduler leader election (integration)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  const running: RunningScheduler[] = [];

  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    for (const s of running) await s.stop();
    await cluster?.close();
  });

  it('schedules only while holding the kube-system/kube-scheduler Lease, and hands over when stopped', async () => {
    const config = { leaderElection: { leaseDuration: '2s', renewDeadline: '1500ms', retryPeriod: '200ms' } };
    const leases = cluster.rest.resource<Lease>(LEASES);
    const now = new Date().toISOString().replace('Z', '000Z');
    await leases.create('kube-system', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'kube-scheduler', namespace: 'kube-system' },
      spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now },
    });
    const first = await startScheduler({ rest: cluster.rest, leaderElect: true, identity: 'first', config });
    running.push(first);
    await cluster.nodes.create(undefined, makeNode('n1'));
    await cluster.pods.create('default', withoutUid(makePod('a')));
    // Not leading: the pod waits in the active queue, nobody pops it.
    await waitFor(() => first.scheduler.queue.pending.active === 1, { what: 'pod a queued' });
    assert.equal((await cluster.pods.get('default', 'a')).spec.nodeName, undefined);

    const held = await leases.get('kube-system', 'kube-scheduler');
    await leases.update({ ...held, spec: { ...held.spec, renewTime: '2000-01-01T00:00:00.000000Z', leaseDurationSeconds: 1 } });
    assert.equal(await waitFor(async () => (await cluster.pods.get('default', 'a')).spec.nodeName, { what: 'pod a bound once first leads' }), 'n1');
    assert.equal((await leases.get('kube-system', 'kube-scheduler')).spec?.holderIdentity, 'first');

    const second = await startScheduler({ rest: cluster.rest, leaderElect: true, identity: 'second', config });
    running.push(second);
    await first.stop();
    running.shift();
    await waitFor(async () => (await leases.get('kube-system', 'kube-scheduler')).spec?.holderIdentity === 'second', { what: 'second to take over' });
    await cluster.pods.create('default', withoutUid(makePod('b')));
    assert.equal(await waitFor(async () => (await cluster.pods.get('default', 'b')).spec.nodeName, { what: 'pod b bound by the new leader' }), 'n1');
  });
});
