// Needs root and mount(8): run under the host-wide e2e lock (it mounts tmpfs in a directory of its own).
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, type ConfigMap, type Pod } from '../api/index.js';
import type { ResourceClient, RestClient } from '../client/index.js';
import { ContainerConfigError, type ConfigSources, ObjectCache } from './pod-config.js';
import { isMountPoint } from './volume-files.js';
import { VolumeManager } from './volumes.js';

/** ConfigMaps as the API would answer, each after a delay (so that a tmpfs mount is still under way when a read fails). */
function configMapSource(maps: Record<string, Record<string, string>>, delayMs: number): ConfigSources {
  const get = async (_ns: string, name: string): Promise<ConfigMap> => {
    await new Promise((r) => setTimeout(r, delayMs));
    const data = maps[name];
    if (!data) throw new ApiError(404, 'NotFound', `configmaps "${name}" not found`);
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
  };
  return { configMaps: { get } as unknown as ResourceClient<ConfigMap>, secrets: {} as never };
}

const podWith = (sources: NonNullable<NonNullable<Pod['spec']['volumes']>[number]['projected']>['sources']): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'uid-1' },
    spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'v', projected: { sources } }] },
  }) as Pod;

describe('pod volumes (tmpfs and content)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ketch-volumes-'));
  });
  afterEach(async () => {
    await new VolumeManager(root).tearDown('uid-1');
    rmSync(root, { recursive: true, force: true });
  });

  it('writes a projected volume\'s sources, read at once, on a tmpfs, in the order the pod lists them', async () => {
    const volumes = new VolumeManager(root);
    const pod = podWith([{ configMap: { name: 'a' } }, { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } }, { configMap: { name: 'b' } }]);
    const objects = new ObjectCache(configMapSource({ a: { x: 'from a' }, b: { y: 'from b' } }, 50), 'default');
    const dirs = await volumes.setUp({ pod, hostIP: '192.0.2.1', podIP: '', objects, rest: {} as RestClient });
    const dir = dirs.get('v') ?? '';
    assert.ok(await isMountPoint(dir), 'the volume is a tmpfs');
    assert.deepEqual(['x', 'name', 'y'].map((f) => readFileSync(join(dir, f), 'utf8')), ['from a', 'p', 'from b']);
    assert.equal(readlinkSync(join(dir, 'x')), '..data/x');
  });

  it('reports a failed read only once the tmpfs mount under way has settled, and the teardown removes it', async () => {
    const volumes = new VolumeManager(root);
    const pod = podWith([{ configMap: { name: 'missing' } }]);
    // The read fails at once; the mount (a process) takes longer.
    const objects = new ObjectCache(configMapSource({}, 0), 'default');
    await assert.rejects(volumes.setUp({ pod, hostIP: '192.0.2.1', podIP: '', objects, rest: {} as RestClient }), (err: unknown) => err instanceof ContainerConfigError && /configmap "missing" not found/.test(err.message));
    const dir = join(volumes.podDir('uid-1'), 'volumes', 'v');
    assert.ok(await isMountPoint(dir), 'the mount had settled when the error came');
    await volumes.tearDown('uid-1');
    assert.equal(await isMountPoint(dir), false);
  });
});
