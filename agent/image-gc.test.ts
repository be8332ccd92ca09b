// The agent's image garbage collection (kubelet's image GC manager) with a fake CRI image store (a map of images and
// a list of containers: the point is the policy, not the store), a fake disk-usage reader whose free space grows with
// every removal, and an injected clock.
import assert from 'node:assert/strict';
import { FakeClock } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import { fakeCriImages as fakeRuntime } from '../test/support/fake-cri-images.js';
import { ImageGcManager, invalidImageGcPolicy, type ImageGcPolicy } from './image-gc.js';

const MB = 1_000_000;

describe('agent image garbage collection', () => {
  const policy: ImageGcPolicy = { highThresholdPercent: 85, lowThresholdPercent: 80, minAgeMs: 2 * 60_000 };
  const capacity = 1000 * MB;
  let clock: FakeClock;
  let images: Map<string, number>;
  let containers: { imageRef: string }[];
  /** Bytes used on the image filesystem besides the images. */
  let other: number;
  const usage = async (): Promise<{ capacityBytes: number; availableBytes: number }> => ({
    capacityBytes: capacity,
    availableBytes: capacity - other - [...images.values()].reduce((a, b) => a + b, 0),
  });

  beforeEach(() => {
    clock = new FakeClock();
    // 4 images of 100 MB; 'old' and 'lru' unused; 'running' used by a container.
    images = new Map([['old', 100 * MB], ['lru', 100 * MB], ['mid', 100 * MB], ['running', 100 * MB]]);
    containers = [{ imageRef: 'running' }];
    other = 0;
  });

  it('below the high threshold removes nothing, whatever the age', async () => {
    const gc = new ImageGcManager(fakeRuntime(images, containers), policy, usage, clock, logger('test'));
    other = 440 * MB; // 840 MB used: 84 %
    assert.deepEqual(await gc.collect(), []);
    await clock.advance(60 * 60_000);
    assert.deepEqual(await gc.collect(), []);
    assert.equal(images.size, 4);
  });

  it('above the high threshold frees down to the low one, least recently used first, never an image in use or younger than the minimum age', async () => {
    const gc = new ImageGcManager(fakeRuntime(images, containers), policy, usage, clock, logger('test'));
    // Use history: 'mid' was used by a container after 'lru'; 'old' never.
    containers.push({ imageRef: 'lru' });
    await gc.detect(clock.now());
    await clock.advance(30_000);
    containers.splice(1, 1, { imageRef: 'mid' });
    await gc.detect(clock.now());
    containers.splice(1, 1);
    other = 460 * MB; // 860 MB used: 86 % >= 85; 80 % means freeing 60 MB, i.e. one image.

    // First seen 30 s ago: under the 2 minute minimum age, nothing may go.
    assert.deepEqual(await gc.collect(), []);
    assert.equal(images.size, 4);

    await clock.advance(2 * 60_000);
    assert.deepEqual(await gc.collect(), ['old'], 'never used comes first');
    // Fill again: the next one is the least recently used, 'lru'.
    other = 560 * MB; // 860 MB
    assert.deepEqual(await gc.collect(), ['lru']);
    // Far above: everything unused goes, the image of the (exited) container stays.
    other = 780 * MB; // 980 MB
    assert.deepEqual(await gc.collect(), ['mid']);
    assert.deepEqual([...images.keys()], ['running']);
    assert.deepEqual(await gc.collect(), [], 'nothing left to remove');
  });

  it('an image that appears later is judged by when it was first seen', async () => {
    // A low threshold of 50 %: 900 MB used means freeing 400 MB, more than the unused old images hold.
    const gc = new ImageGcManager(fakeRuntime(images, containers), { ...policy, lowThresholdPercent: 50 }, usage, clock, logger('test'));
    await gc.detect(clock.now());
    await clock.advance(5 * 60_000);
    images.set('fresh', 100 * MB);
    other = 400 * MB;
    assert.deepEqual(await gc.collect(), ['old', 'lru', 'mid'], 'the fresh image, first seen now, is kept');
    assert.deepEqual([...images.keys()].sort(), ['fresh', 'running']);
    await clock.advance(2 * 60_000);
    other = 700 * MB;
    assert.deepEqual(await gc.collect(), ['fresh'], 'two minutes later it may go');
  });

  it('refuses thresholds the kubelet refuses', () => {
    assert.match(invalidImageGcPolicy({ ...policy, highThresholdPercent: 101 }) ?? '', /high-threshold/);
    assert.match(invalidImageGcPolicy({ ...policy, lowThresholdPercent: 90 }) ?? '', /must not exceed/);
    assert.match(invalidImageGcPolicy({ ...policy, minAgeMs: -1 }) ?? '', /minimum-gc-age/);
    assert.equal(invalidImageGcPolicy(policy), undefined);
  });
});
