import assert from 'node:assert/strict';
import { FitError } from './fit-error.js';
import { Status } from './types.js';

describe('FitError', () => {
  it('words the message as Kubernetes does: a sorted histogram of reasons, then the preemption message', () => {
    const statuses = new Map([
      ['a', Status.unschedulable('Insufficient cpu')],
      ['b', Status.unschedulable('Insufficient cpu', 'Insufficient memory')],
      ['gpu', Status.unresolvable('node(s) had untolerated taint {dedicated: gpu}')],
    ]);
    const fe = new FitError(3, statuses);
    assert.equal(fe.message, '0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.');
    fe.postFilterMsg = 'preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.';
    assert.equal(
      fe.message,
      '0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
    );
  });

  it('uses the PreFilter message alone when PreFilter rejected the pod', () => {
    const fe = new FitError(2, new Map([['a', Status.unresolvable('x')]]));
    fe.preFilterMsg = "node(s) didn't match pod affinity rules";
    assert.equal(fe.message, "0/2 nodes are available: node(s) didn't match pod affinity rules.");
  });
});
