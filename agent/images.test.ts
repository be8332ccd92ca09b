// The agent's image endpoints (what `ketch image` calls on each node) over a fake CRI image store: routing, in-use
// marking, rm refusing an image a container uses unless forced, prune keeping the images in use.
import assert from 'node:assert/strict';
import { fakeCriImages } from '../test/support/fake-cri-images.js';
import { ImageRequestError, serveImages, type NodeImage } from './images.js';

describe('agent image endpoints', () => {
  let images: Map<string, number>;
  let containers: { imageRef: string }[];
  const call = (method: string, path: string, query = ''): Promise<unknown> =>
    serveImages(fakeCriImages(images, containers), method, path.split('/').filter(Boolean), new URLSearchParams(query));

  beforeEach(() => {
    images = new Map([['a', 10], ['b', 20], ['c', 30]]);
    containers = [{ imageRef: 'b' }];
  });

  it('lists the images with the ones containers use marked', async () => {
    const list = (await call('GET', '/images')) as { items: NodeImage[] };
    assert.deepEqual(list.items.map((i) => [i.id, i.size, i.inUse]), [['a', 10, false], ['b', 20, true], ['c', 30, false]]);
  });

  it('removes an unused image by tag, refuses one in use (409) unless forced, and says 404 for one absent', async () => {
    assert.deepEqual(await call('DELETE', '/images', 'image=example.com/a:1'), { removed: 'a' });
    await assert.rejects(call('DELETE', '/images', 'image=b'), (e: unknown) => e instanceof ImageRequestError && e.code === 409 && /used by a container/.test(e.message));
    assert.ok(images.has('b'));
    assert.deepEqual(await call('DELETE', '/images', 'image=b&force=true'), { removed: 'b' });
    await assert.rejects(call('DELETE', '/images', 'image=zzz'), (e: unknown) => e instanceof ImageRequestError && e.code === 404);
    await assert.rejects(call('DELETE', '/images'), (e: unknown) => e instanceof ImageRequestError && e.code === 400);
  });

  it('prunes every image no container uses', async () => {
    assert.deepEqual(await call('POST', '/images/prune'), { removed: ['a', 'c'], reclaimedBytes: 40 });
    assert.deepEqual([...images.keys()], ['b']);
  });

  it('pulls and reports status; other paths and methods are not its business', async () => {
    assert.deepEqual(await call('POST', '/images/pull', 'image=example.com/d:1'), { imageRef: 'd' });
    assert.deepEqual(((await call('GET', '/images/status', 'image=d')) as { image: NodeImage }).image.id, 'd');
    assert.equal(await call('PUT', '/images'), undefined);
    assert.equal(await call('GET', '/stats/summary'), undefined);
  });
});
