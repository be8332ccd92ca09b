import assert from 'node:assert/strict';
import type { Pod, Taint, Toleration } from '../framework/types.js';
import { evictionTime, tolerates, TAINT_NOT_READY, TAINT_UNREACHABLE } from './taints.js';

const T = Date.parse('2024-01-01T00:00:00Z');
const taint = (key: string, effect: Taint['effect'] = 'NoExecute'): Taint => ({ key, effect, timeAdded: '2024-01-01T00:00:00Z' });
const pod = (tolerations: Toleration[] = []): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [], tolerations } });

describe('node lifecycle taints', () => {
  it('matches tolerations by key, value, operator and effect', () => {
    assert.ok(tolerates({ operator: 'Exists' }, taint('anything')));
    assert.ok(tolerates({ key: 'k', operator: 'Equal', value: 'v' }, { key: 'k', value: 'v', effect: 'NoExecute' }));
    assert.ok(!tolerates({ key: 'k', value: 'w' }, { key: 'k', value: 'v', effect: 'NoExecute' }));
    assert.ok(!tolerates({ key: 'k', operator: 'Exists', effect: 'NoSchedule' }, taint('k')));
  });

  it('evicts after the shortest matching tolerationSeconds, never when tolerated forever', () => {
    assert.equal(evictionTime(pod([{ key: TAINT_UNREACHABLE, operator: 'Exists', tolerationSeconds: 60 }]), [taint(TAINT_UNREACHABLE)]), T + 60_000);
    assert.equal(evictionTime(pod([{ operator: 'Exists' }]), [taint(TAINT_UNREACHABLE)]), undefined);
    assert.equal(evictionTime(pod(), [taint(TAINT_UNREACHABLE, 'NoSchedule')]), undefined);
  });

  it('gives not-ready and unreachable the default 300 s, and evicts at once for other untolerated NoExecute taints', () => {
    assert.equal(evictionTime(pod(), [taint(TAINT_NOT_READY)]), T + 300_000);
    assert.equal(evictionTime(pod(), [taint('example.com/dedicated')]), 0);
  });
});
