import assert from 'node:assert/strict';
import { lstat, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_BUSYBOX_TAGS, hasDefaultRoute } from './host-image.js';
import { ImageStore } from './image-store.js';
import { importHostBusybox } from './service.js';

const ROUTE_HEAD = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';
const V6_REJECT = '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n';

describe('host images (busybox from busybox-static, for a node without internet)', () => {
  it('tells a default route from none', () => {
    assert.equal(hasDefaultRoute(`${ROUTE_HEAD}eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`, V6_REJECT), true);
    // Only a pod network and loopback: no way out.
    assert.equal(hasDefaultRoute(`${ROUTE_HEAD}cni0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n`, V6_REJECT), false);
    assert.equal(hasDefaultRoute('', ''), false);
    assert.equal(hasDefaultRoute(ROUTE_HEAD, '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0\n'), true);
  });

  describe('importHostBusybox', () => {
    let root: string;
    beforeEach(async () => (root = await mkdtemp(join(tmpdir(), 'ketch-host-image-'))));
    afterEach(() => rm(root, { recursive: true, force: true }));

    it("puts the host's busybox into the store under the quick start's names, with its applets", async () => {
      assert.deepEqual(await importHostBusybox(root, HOST_BUSYBOX_TAGS), HOST_BUSYBOX_TAGS);
      const store = new ImageStore(root, { insecureRegistries: [], mirrors: {} });
      await store.init();
      const image = await store.get('busybox:1.36');
      assert.deepEqual(image.repoTags.sort(), [...HOST_BUSYBOX_TAGS].sort());
      assert.deepEqual(image.config.Cmd, ['sh']);
      const fs = store.snapshotFs(image.chainIds.at(-1)!);
      assert.ok((await lstat(join(fs, 'bin/busybox'))).isFile());
      assert.equal(await readlink(join(fs, 'bin/sh')), 'busybox');
      assert.equal(await readlink(join(fs, 'usr/bin/wget')), '../../bin/busybox');
    });

    it('leaves the names the store has alone with keepExisting, and imports only the others', async () => {
      await importHostBusybox(root, ['docker.io/library/busybox:1.36']);
      assert.deepEqual(await importHostBusybox(root, HOST_BUSYBOX_TAGS, { keepExisting: true }), ['docker.io/library/busybox:latest']);
      assert.deepEqual(await importHostBusybox(root, HOST_BUSYBOX_TAGS, { keepExisting: true }), []);
    });

    it('fails with the fix when the host has no busybox-static', async () => {
      const { writeHostBusyboxArchive } = await import('./host-image.js');
      await assert.rejects(writeHostBusyboxArchive(join(root, 'x.tar'), ['busybox:1'], join(root, 'no-busybox')), /apt-get install -y busybox-static/);
    });
  });
});
