import assert from 'node:assert/strict';
import { PodInfo } from '../../framework/node-info.js';
import { newState, node, nodeInfo, pod } from '../../../test/support/scheduler-fixtures.js';
import { ERR_REASON, nodePorts } from './index.js';

const withPort = (name: string, hostPort: number, o: { hostIP?: string; protocol?: 'TCP' | 'UDP'; nodeName?: string } = {}) =>
  pod(name, {
    ...(o.nodeName ? { nodeName: o.nodeName } : {}),
    spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, hostPort, ...(o.hostIP ? { hostIP: o.hostIP } : {}), ...(o.protocol ? { protocol: o.protocol } : {}) }] }] },
  });

describe('NodePorts', () => {
  const plugin = nodePorts();
  const busy = nodeInfo(node('n'), [withPort('old', 8080, { nodeName: 'n', hostIP: '10.0.0.1' })]);
  const check = (p: ReturnType<typeof pod>) => {
    const pi = new PodInfo(p);
    const state = newState();
    const pre = plugin.preFilter(state, pi);
    return pre.isSkip() ? pre : plugin.filter(state, pi, busy);
  };

  it('skips pods without host ports', () => assert.ok(check(pod('p')).isSkip()));

  it('rejects a port taken on the same address or on 0.0.0.0', () => {
    const st = check(withPort('p', 8080));
    assert.equal(st.code, 'Unschedulable');
    assert.deepEqual(st.reasons, [ERR_REASON]);
    assert.ok(!check(withPort('p', 8080, { hostIP: '10.0.0.1' })).isSuccess());
  });

  it('admits another port, another protocol, or another specific address', () => {
    assert.ok(check(withPort('p', 8081)).isSuccess());
    assert.ok(check(withPort('p', 8080, { protocol: 'UDP' })).isSuccess());
    assert.ok(check(withPort('p', 8080, { hostIP: '10.0.0.2' })).isSuccess());
  });

  it('frees the port when the pod holding it leaves', () => {
    const ni = nodeInfo(node('n'), [withPort('old', 9000, { nodeName: 'n' })]);
    const p = new PodInfo(withPort('p', 9000));
    assert.ok(!plugin.filter(newState(), p, ni).isSuccess());
    ni.removePod([...ni.pods.keys()][0]!);
    assert.ok(plugin.filter(newState(), p, ni).isSuccess());
  });
});
