import assert from 'node:assert/strict';
import { formatEndpointSlices } from './describe.js';

describe('describe svc: Endpoints as kubectl formats them from EndpointSlices', () => {
  const slice = (ports: Array<{ name?: string; port: number }>, endpoints: Array<{ ip: string; ready?: boolean }>): Record<string, unknown> => ({
    ports,
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true } })),
  });

  it('lists the ready addresses with the named port, three at most and a count of the rest', () => {
    const s = slice([{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }, { ip: '10.0.0.3' }]);
    assert.equal(formatEndpointSlices([s], 'http'), '10.0.0.1:8080,10.0.0.3:8080');
    assert.equal(formatEndpointSlices([s], 'metrics'), '10.0.0.1:9090,10.0.0.3:9090');
    const many = slice([{ port: 80 }], ['1', '2', '3', '4', '5'].map((n) => ({ ip: `10.0.1.${n}` })));
    assert.equal(formatEndpointSlices([many, slice([{ port: 80 }], [{ ip: '10.0.2.1' }])], ''), '10.0.1.1:80,10.0.1.2:80,10.0.1.3:80 + 3 more...');
  });

  it('prints <none> without slices, and bare addresses for a headless service without ports', () => {
    assert.equal(formatEndpointSlices([], 'http'), '<none>');
    assert.equal(formatEndpointSlices([slice([], [{ ip: '10.0.0.9' }])], ''), '10.0.0.9');
    assert.equal(formatEndpointSlices([slice([{ name: 'http', port: 80 }], [{ ip: '10.0.0.9', ready: false }])], 'http'), '');
  });
});
