import assert from 'node:assert/strict';
import { normalizeImage, PodInfo } from '../../framework/node-info.js';
import { fakeCluster, newState, node, pod } from '../../../test/support/scheduler-fixtures.js';
import { imageLocality } from './index.js';

describe('ImageLocality', () => {
  const MB = 1024 * 1024;
  const big = { names: ['docker.io/library/postgres:16'], sizeBytes: 500 * MB };
  const { handle, cache } = fakeCluster([node('has', { images: [big] }), node('none'), node('tiny', { images: [{ names: ['busybox:1.36'], sizeBytes: 1 * MB }] })]);
  const plugin = imageLocality({}, handle);
  const p = new PodInfo(pod('p', { spec: { containers: [{ name: 'db', image: 'postgres:16' }] } }));

  it('normalizes image names as a runtime reports them', () => {
    assert.equal(normalizeImage('postgres:16'), 'docker.io/library/postgres:16');
    assert.equal(normalizeImage('nginx'), 'docker.io/library/nginx:latest');
    assert.equal(normalizeImage('ghcr.io/x/y'), 'ghcr.io/x/y:latest');
    assert.equal(normalizeImage('me/app:1'), 'docker.io/me/app:1');
  });

  it('prefers a node that has the image, scaled by size and spread', () => {
    const has = plugin.score(newState(), p, cache.get('has')!);
    // 500 MB on 1 of 3 nodes: 166.7 MB effective, between the 23 MB floor and the 1000 MB ceiling.
    assert.equal(has, Math.floor((100 * (500 * MB / 3 - 23 * MB)) / (1000 * MB - 23 * MB)));
    assert.ok(has > 0);
  });

  it('gives 0 to nodes without the image or with only small images', () => {
    assert.equal(plugin.score(newState(), p, cache.get('none')!), 0);
    assert.equal(plugin.score(newState(), new PodInfo(pod('q')), cache.get('tiny')!), 0);
  });
});
