import assert from 'node:assert/strict';
import type { Pod } from '../framework/types.js';
import { podsToDelete, POD_DELETION_COST } from './pod-ranking.js';

const T0 = Date.parse('2024-01-01T00:00:00Z');
const iso = (s: number): string => new Date(T0 + s * 1000).toISOString().replace('.000Z', 'Z');

function pod(name: string, o: { node?: string; phase?: 'Pending' | 'Running'; readySince?: number; notReady?: boolean; created?: number; restarts?: number; cost?: number } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'ns',
      creationTimestamp: iso(o.created ?? 0),
      ...(o.cost !== undefined ? { annotations: { [POD_DELETION_COST]: String(o.cost) } } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'x' }], ...(o.node ? { nodeName: o.node } : {}) },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.readySince !== undefined || o.notReady ? { conditions: [{ type: 'Ready', status: o.notReady ? 'False' : 'True', lastTransitionTime: iso(o.readySince ?? 0) }] } : {}),
      ...(o.restarts ? { containerStatuses: [{ name: 'c', image: 'x', imageID: '', ready: true, restartCount: o.restarts }] } : {}),
    } as Pod['status'],
  };
}

const names = (ps: Pod[]): string[] => ps.map((p) => p.metadata.name ?? '');

describe('replicaset pod ranking', () => {
  it('deletes unscheduled, then pending, then not-ready pods first', () => {
    const pods = [
      pod('ready', { node: 'n1', readySince: 1 }),
      pod('notready', { node: 'n1', notReady: true }),
      pod('pending', { node: 'n1', phase: 'Pending' }),
      pod('unscheduled', { phase: 'Pending' }),
    ];
    assert.deepEqual(names(podsToDelete(pods, pods, 3)), ['unscheduled', 'pending', 'notready']);
  });

  it('prefers lower deletion cost, then doubled-up nodes', () => {
    const a = pod('a', { node: 'n1', readySince: 1, cost: 10 });
    const b = pod('b', { node: 'n1', readySince: 1 });
    const c = pod('c', { node: 'n2', readySince: 1 });
    const related = [a, b, c, pod('other', { node: 'n1', readySince: 1 })];
    assert.deepEqual(names(podsToDelete([a, b, c], related, 2)), ['b', 'c']);
  });

  it('deletes pods ready for less time, then with more restarts, then newer ones', () => {
    const old = pod('old', { node: 'n', readySince: 10, created: 0 });
    const recent = pod('recent', { node: 'n', readySince: 50, created: 0 });
    assert.deepEqual(names(podsToDelete([old, recent], [], 1)), ['recent']);
    const crashy = pod('crashy', { node: 'n', readySince: 10, restarts: 3 });
    assert.deepEqual(names(podsToDelete([old, crashy], [], 1)), ['crashy']);
    const newer = pod('newer', { node: 'n', notReady: true, created: 100 });
    const older = pod('older', { node: 'n', notReady: true, created: 5 });
    assert.deepEqual(names(podsToDelete([older, newer], [], 1)), ['newer']);
  });

  it('returns every pod when asked for as many', () => {
    const pods = [pod('a'), pod('b')];
    assert.equal(podsToDelete(pods, pods, 5).length, 2);
  });
});
