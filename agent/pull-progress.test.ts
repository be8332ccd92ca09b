// Pulling events of a long pull: a real docker-registry behind a proxy that holds a layer half sent, ketch's image
// service over a real CRI socket, and the agent's reporter on a fake clock; then a runtime with no progress to give
// (a fake CRI, as containerd answers ImageStatus for an image not yet there).
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { ObjectReference } from '../api/index.js';
import { FakeClock, flushMicrotasks } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import { connectRuntime, decodePullProgress, serveCri, type RuntimeClient, type RuntimeServiceMethods, type ServiceImpl } from './cri/index.js';
import { imageService } from './runtime/image-service.js';
import { ImageStore } from './runtime/image-store.js';
import { PULL_EVENT_AFTER_MS, reportPullProgress } from './pull-progress.js';
import { buildTinyImage, pushImage } from '../test/support/runtime/oci-image.js';
import { startRegistry, type TestRegistry } from '../test/support/runtime/registry.js';
import { startStallingProxy, type StallingProxy } from '../test/support/runtime/stalling-proxy.js';
import { fakeCriImages } from '../test/support/fake-cri-images.js';
import { waitFor } from '../test/support/util.js';

const log = logger('pull-progress-test');
const pod: ObjectReference = { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'p', uid: 'u1' };

/** What the reporter sent, in order. */
class Recorded {
  readonly messages: string[] = [];
  async event(_about: unknown, type: string, reason: string, message: string): Promise<void> {
    assert.equal(type, 'Normal');
    assert.equal(reason, 'Pulling');
    this.messages.push(message);
  }
}

describe('Pulling events with pull progress', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let proxy: StallingProxy;
  let root: string;
  let server: grpc.Server;
  let rt: RuntimeClient;
  let configSize: number;
  let layerSize: number;
  const SENT = 1_000_000;

  before(async () => {
    registry = await startRegistry();
    // 3 MB of random bytes, base64: a gzip layer of about 2.3 MB that cannot shrink much.
    const image = await buildTinyImage([{ 'data/blob': randomBytes(3_000_000).toString('base64') }]);
    try {
      await pushImage(registry.url, 'slow/big', 'v1', image);
      const layer = image.layers[0]!;
      configSize = image.config.length;
      layerSize = layer.data.length;
      proxy = await startStallingProxy(registry.url, layer.digest, SENT);
    } finally {
      await image.dispose();
    }
    root = await mkdtemp(join(tmpdir(), 'ketch-pull-progress-'));
    const store = new ImageStore(join(root, 'images'), { insecureRegistries: [], mirrors: {} }, undefined, new FakeClock());
    await store.init();
    const endpoint = `unix://${join(root, 'cri.sock')}`;
    // Only the ImageService is called here.
    server = await serveCri(endpoint, {} as ServiceImpl<RuntimeServiceMethods>, imageService(store));
    rt = connectRuntime(endpoint, { timeoutMs: 30_000 });
  });

  after(async () => {
    rt?.close();
    server?.forceShutdown();
    await proxy?.stop();
    await registry?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reports the bytes of a pull held open through the CRI, first after 5 s, then at most every 10 s, and stops when it ends', async () => {
    const ref = `${proxy.host}/slow/big:v1`;
    const clock = new FakeClock(0);
    const events = new Recorded();
    const pull = rt.image.pullImage({ image: { image: ref } });
    const handle = reportPullProgress({ clock, runtime: rt, events, log }, pod, ref);
    try {
      await proxy.stalled;
      const total = configSize + layerSize;
      const done = configSize + SENT;
      // The runtime has the config and the first SENT bytes of the layer, and says so in a verbose ImageStatus.
      const seen = await waitFor(
        async () => {
          const p = decodePullProgress((await rt.image.imageStatus({ image: { image: ref }, verbose: true })).info);
          return p?.doneBytes === done ? p : undefined;
        },
        { what: 'the runtime to report the bytes streamed' },
      );
      assert.equal(seen.totalBytes, total);

      await clock.advance(PULL_EVENT_AFTER_MS - 1);
      await flushMicrotasks();
      assert.deepEqual(events.messages, [], 'no event before 5 s');
      await clock.advance(1);
      await waitFor(() => events.messages.length === 1 && clock.pending === 1, { what: 'the first progress event' });
      const pct = Math.floor((100 * done) / total);
      assert.ok(pct > 0 && pct < 100, `a pull half way: ${pct}%`);
      const mb = (n: number): string => (n / 1e6).toFixed(1);
      assert.equal(events.messages[0], `Pulling image "${ref}": ${mb(done)} MB of ${mb(total)} MB (${pct}%), 5s elapsed`);

      await clock.advance(9_999);
      await flushMicrotasks();
      assert.equal(events.messages.length, 1, 'no second event within 10 s');
      await clock.advance(1);
      await waitFor(() => events.messages.length === 2 && clock.pending === 1, { what: 'the second progress event' });
      assert.equal(events.messages[1], `Pulling image "${ref}": ${mb(done)} MB of ${mb(total)} MB (${pct}%), 15s elapsed`);

      proxy.release();
      const { imageRef } = await pull;
      assert.match(imageRef, /^sha256:/);
    } finally {
      handle.cancel();
    }
    await clock.advance(60_000);
    await flushMicrotasks();
    assert.equal(events.messages.length, 2, 'nothing after the pull ended');
    assert.equal(clock.pending, 0);
    const after = await rt.image.imageStatus({ image: { image: ref }, verbose: true });
    assert.ok(after.image, 'the image is there');
    assert.equal(decodePullProgress(after.info), undefined, 'no progress once pulled');
  });

  it('says only the elapsed time with a runtime that reports no progress, spacing events out as the pull drags on', async () => {
    const clock = new FakeClock(0);
    const events = new Recorded();
    // A fake CRI: its ImageStatus of an image not there answers with no image and an empty info map, as containerd does.
    const containerdLike = fakeCriImages(new Map(), []);
    const handle = reportPullProgress({ clock, runtime: containerdLike, events, log }, pod, 'example.com/x:1');
    try {
      const at = async (ms: number, count: number): Promise<void> => {
        await clock.advance(ms);
        await waitFor(() => events.messages.length === count && clock.pending === 1, { what: `event ${count}` });
      };
      await at(PULL_EVENT_AFTER_MS, 1);
      await at(10_000, 2);
      await at(10_000, 3);
      // 25 s in: the next comes after half the elapsed time, 12.5 s, not 10 s.
      await clock.advance(10_000);
      await flushMicrotasks();
      assert.equal(events.messages.length, 3);
      await at(2_500, 4);
      assert.deepEqual(events.messages, [
        'Pulling image "example.com/x:1": 5s elapsed',
        'Pulling image "example.com/x:1": 15s elapsed',
        'Pulling image "example.com/x:1": 25s elapsed',
        'Pulling image "example.com/x:1": 38s elapsed',
      ]);
    } finally {
      handle.cancel();
    }
    assert.equal(clock.pending, 0);
  });
});
