import assert from 'node:assert/strict';
import type { Pod, Service } from '../framework/types.js';
import { endpointSubsets, MAX_ENDPOINT_ADDRESSES, subsetsEqual } from './subsets.js';

const svc = (extra: Partial<Service['spec']> = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'ns', uid: 'svc' },
  spec: {
    selector: { app: 'web' },
    clusterIP: '10.96.0.20',
    ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }, { name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' }],
    ...extra,
  },
});

function pod(name: string, ip: string, o: { ready?: boolean; httpPort?: number; phase?: 'Running' | 'Succeeded'; deleting?: boolean } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x', ports: o.httpPort ? [{ name: 'http', containerPort: o.httpPort }] : [] }] },
    status: { phase: o.phase ?? 'Running', podIP: ip, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

describe('Endpoints subsets', () => {
  it('puts ready pods in addresses, not-ready ones in notReadyAddresses, and leaves out terminal and terminating pods', () => {
    const { subsets } = endpointSubsets(svc(), [
      pod('a', '10.42.0.10', { httpPort: 8080 }),
      pod('b', '10.42.0.2', { httpPort: 8080, ready: false }),
      pod('c', '10.42.0.3', { httpPort: 8080, phase: 'Succeeded' }),
      pod('d', '10.42.0.4', { httpPort: 8080, deleting: true }),
    ]);
    assert.deepEqual(subsets, [
      {
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9100, protocol: 'TCP' }],
        addresses: [{ ip: '10.42.0.10', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'ns', name: 'a', uid: 'uid-a' } }],
        notReadyAddresses: [{ ip: '10.42.0.2', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'ns', name: 'b', uid: 'uid-b' } }],
      },
    ]);
  });

  it('repacks pods by the ports they resolve: a pod without the named port serves the others', () => {
    const { subsets } = endpointSubsets(svc(), [pod('a', '10.42.0.2', { httpPort: 8080 }), pod('b', '10.42.0.3'), pod('c', '10.42.0.4', { httpPort: 8080 })]);
    assert.deepEqual(
      subsets.map((s) => [s.ports?.map((p) => `${p.name}:${p.port}`), s.addresses?.map((a) => a.ip)]),
      [
        [['http:8080', 'metrics:9100'], ['10.42.0.2', '10.42.0.4']],
        [['metrics:9100'], ['10.42.0.3']],
      ],
    );
  });

  it('publishes not-ready and terminating pods as addresses with publishNotReadyAddresses', () => {
    const { subsets } = endpointSubsets(svc({ publishNotReadyAddresses: true }), [pod('a', '10.42.0.2', { httpPort: 1, ready: false, deleting: true })]);
    assert.equal(subsets[0]?.addresses?.[0]?.ip, '10.42.0.2');
    assert.equal(subsets[0]?.notReadyAddresses, undefined);
  });

  it('cuts past 1,000 addresses and says so; compares subsets by content', () => {
    const pods = Array.from({ length: MAX_ENDPOINT_ADDRESSES + 5 }, (_, i) => pod(`p${i}`, `10.42.${Math.floor(i / 250)}.${(i % 250) + 2}`, { httpPort: 80 }));
    const { subsets, truncated } = endpointSubsets(svc(), pods);
    assert.equal(truncated, true);
    assert.equal(subsets.reduce((n, s) => n + (s.addresses?.length ?? 0), 0), MAX_ENDPOINT_ADDRESSES);
    const small = endpointSubsets(svc(), pods.slice(0, 3));
    assert.equal(small.truncated, false);
    assert.ok(subsetsEqual(small.subsets, structuredClone(small.subsets)));
    assert.ok(!subsetsEqual(small.subsets, endpointSubsets(svc(), pods.slice(0, 2)).subsets));
  });
});
