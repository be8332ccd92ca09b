import assert from 'node:assert/strict';
import type { Pod } from '../api/index.js';
import { containerEnv, ObjectCache } from './pod-config.js';

describe('containerEnv with service variables', () => {
  const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'web' }, spec: { containers: [] } };
  const objects = new ObjectCache({ configMaps: undefined as never, secrets: undefined as never }, 'web');
  const serviceEnv = new Map([
    ['WEB_SERVICE_HOST', '10.96.0.3'],
    ['WEB_SERVICE_PORT', '80'],
    ['KUBERNETES_SERVICE_HOST', '10.96.0.1'],
  ]);

  it("starts from the service variables; the container's own win, and $(VAR) sees the services'", async () => {
    const env = await containerEnv(
      { name: 'c', image: 'busybox', env: [{ name: 'WEB_SERVICE_PORT', value: '8080' }, { name: 'URL', value: 'http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)' }] },
      { pod, hostIP: '192.0.2.1', podIP: '10.42.0.5', objects, hostCapacity: {}, serviceEnv },
    );
    assert.equal(env.get('WEB_SERVICE_PORT'), '8080', "the container's value");
    assert.equal(env.get('KUBERNETES_SERVICE_HOST'), '10.96.0.1');
    assert.equal(env.get('URL'), 'http://10.96.0.3:8080');
    assert.equal([...env.keys()].filter((k) => k === 'WEB_SERVICE_PORT').length, 1);
  });

  it('without service variables the environment is only the container\'s', async () => {
    const env = await containerEnv({ name: 'c', image: 'busybox', env: [{ name: 'A', value: '$(WEB_SERVICE_HOST)' }] }, { pod, hostIP: '', podIP: '', objects, hostCapacity: {} });
    assert.deepEqual([...env], [['A', '$(WEB_SERVICE_HOST)']]);
  });
});
