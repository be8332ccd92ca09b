// The authorizers fed from the registry's own watches (real stores over in-memory embedded storage), and a feed that
// starts over after a broken watch (a scripted source, so the break is exact).
import assert from 'node:assert/strict';
import { findByKind } from '../../api/resources.js';
import type { KubeObject } from '../../api/schemas/meta.js';
import { FakeClock, flushMicrotasks } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';
import { memoryRegistry, type MemoryRegistry } from '../../test/support/memory-registry.js';
import { waitFor } from '../../test/support/util.js';
import type { Registry, Store } from '../registry/index.js';
import type { Obj } from '../registry/object.js';
import { feed, type EventSource, type SourceEvent } from './feed.js';
import { NodeAuthorizer } from './node/authorizer.js';
import { NodeGraph } from './node/graph.js';
import { RBAC_KINDS, RbacAuthorizer } from './rbac/authorizer.js';
import { rulesReviewStatus, unionRules } from './rules-review.js';
import type { Attributes, UserInfo } from './types.js';

const log = logger('authorization-feed-test');
const G = 'rbac.authorization.k8s.io';

describe('authorization feeds', () => {
  let mem: MemoryRegistry;
  let registry: Registry;
  beforeEach(() => {
    mem = memoryRegistry();
    registry = mem.registry;
  });
  afterEach(() => mem.close());
  const store = (apiVersion: string, kind: string): Store => registry.store(findByKind(apiVersion, kind)!);
  const watchAll = (s: Store) => () => s.watch('', { sendInitialEvents: true, allowWatchBookmarks: true });

  it('keeps the RBAC cache and the node graph in step with the stores', async () => {
    const alice: UserInfo = { name: 'alice', groups: ['system:authenticated'] };
    await store(`${G}/v1`, 'ClusterRole').create('', { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'reader' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] } as Obj);
    const rbac = new RbacAuthorizer();
    const graph = new NodeGraph();
    const feeds = [...RBAC_KINDS.map((k) => feed(k, watchAll(store(`${G}/v1`, k)), rbac.sink(k), log)), feed('pods', watchAll(store('v1', 'Pod')), graph.podSink(), log)];
    try {
      await Promise.all(feeds.map((f) => f.synced));
      const getPods: Attributes = { user: alice, verb: 'get', namespace: 'ns', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', name: '', path: '', resourceRequest: true };
      assert.equal(rbac.authorize(getPods).decision, 'noOpinion');
      const bindings = store(`${G}/v1`, 'RoleBinding');
      const made = await bindings.create('ns', { apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { name: 'b', namespace: 'ns' }, roleRef: { apiGroup: G, kind: 'ClusterRole', name: 'reader' }, subjects: [{ kind: 'User', apiGroup: G, name: 'alice' }] } as Obj);
      // reached(rv): the cache holds the write once it resolves (how the server waits for its bootstrap policy).
      await feeds[RBAC_KINDS.indexOf('RoleBinding')]!.reached(made.metadata.resourceVersion ?? '');
      assert.equal(rbac.authorize(getPods).decision, 'allow');
      await feeds[0]!.reached('1');
      assert.deepEqual(rulesReviewStatus(unionRules([new NodeAuthorizer(graph), rbac], alice, 'ns')), { resourceRules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }], nonResourceRules: [], incomplete: false });
      await bindings.delete('ns', 'b');
      await waitFor(() => rbac.authorize(getPods).decision === 'noOpinion', { what: 'the deletion to reach the cache' });

      await store('v1', 'Pod').create('ns', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }], volumes: [{ name: 'v', secret: { secretName: 's' } }] } } as Obj);
      await waitFor(() => graph.hasPath('n1', 'secret', 'ns', 's'), { what: 'the pod to reach the graph' });
    } finally {
      for (const f of feeds) f.close();
    }
  });

  it('replaces the snapshot after a broken watch', async () => {
    const obj = (name: string): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name }, rules: [] });
    const end: SourceEvent = { type: 'BOOKMARK', object: { metadata: { annotations: { 'k8s.io/initial-events-end': 'true' } } } };
    // A scripted source: the first watch delivers x, then y, then breaks; the second starts from y alone.
    const scripts: SourceEvent[][] = [
      [{ type: 'ADDED', object: obj('x') }, end, { type: 'ADDED', object: obj('y') }, { type: 'ERROR', object: { code: 410 } }],
      [{ type: 'ADDED', object: obj('y') }, end],
    ];
    let calls = 0;
    const source = (): EventSource => {
      const events = scripts[calls++] ?? [];
      return {
        async *[Symbol.asyncIterator]() {
          yield* events;
          if (calls > scripts.length) await new Promise(() => undefined);
        },
        close: () => undefined,
      };
    };
    const rbac = new RbacAuthorizer();
    const clock = new FakeClock();
    const f = feed('clusterroles', source, rbac.sink('ClusterRole'), log, { clock, retryMs: 1000 });
    await f.synced;
    await flushMicrotasks();
    assert.equal(rbac.stats().clusterRoles, 2);
    await clock.advance(1000);
    await waitFor(() => calls === 2 && rbac.stats().clusterRoles === 1, { what: 'the second snapshot' });
    f.close();
  });
});
