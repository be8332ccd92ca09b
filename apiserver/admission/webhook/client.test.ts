// The Service resolver: the Service's port, then ready EndpointSlice endpoints, then core/v1 Endpoints.
import assert from 'node:assert/strict';
import type { Obj } from '../../registry/object.js';
import { endpointsResolver, WebhookCallError } from './client.js';

const obj = (o: Record<string, unknown>): Obj => ({ metadata: {}, ...o }) as Obj;
const svc = obj({ spec: { ports: [{ name: 'https', port: 443, targetPort: 8443 }, { name: 'metrics', port: 9090 }] } });

describe('endpointsResolver', () => {
  it('takes a ready EndpointSlice endpoint and the port named like the Service port', async () => {
    const r = endpointsResolver(
      async (resource) => (resource === 'services' ? svc : undefined),
      async () => [
        obj({ endpoints: [{ addresses: ['10.0.0.9'], conditions: { ready: false } }], ports: [{ name: 'https', port: 8443 }] }),
        obj({ endpoints: [{ addresses: ['10.0.0.7'], conditions: { ready: true } }], ports: [{ name: 'metrics', port: 9090 }, { name: 'https', port: 8443 }] }),
      ],
    );
    assert.deepEqual(await r.resolve('ns', 'hooks', 443), { host: '10.0.0.7', port: 8443 });
  });

  it('falls back to core/v1 Endpoints when the Service has no slices', async () => {
    const ep = obj({ subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: 30443 }] }] });
    const r = endpointsResolver(async (resource) => (resource === 'services' ? svc : ep));
    assert.deepEqual(await r.resolve('ns', 'hooks', 443), { host: '127.0.0.1', port: 30443 });
  });

  it("says what is missing as kube's messages do", async () => {
    const none = endpointsResolver(async () => undefined);
    await assert.rejects(none.resolve('ns', 'hooks', 443), (e: Error) => e instanceof WebhookCallError && e.message === 'service "hooks" not found');
    const noEndpoints = endpointsResolver(async (resource) => (resource === 'services' ? svc : undefined));
    await assert.rejects(noEndpoints.resolve('ns', 'hooks', 443), /no endpoints available for service "hooks"/);
    await assert.rejects(noEndpoints.resolve('ns', 'hooks', 80), /no service port 80 found for service "hooks"/);
  });
});
