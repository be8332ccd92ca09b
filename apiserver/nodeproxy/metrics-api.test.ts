// metrics.k8s.io: conversion of the agents' Summary documents into NodeMetrics/PodMetrics, selection, errors, and its
// place in discovery. The summaries come from an injected source here; the e2e quick start runs `kubectl top` against
// real agents.
import { strict as assert } from 'node:assert';
import type { ApiError } from '../../api/errors.js';
import { logger } from '../../lib/logger.js';
import { startTestApiServer, type TestApiServer } from '../../test/support/cluster.js';
import { aggregatedDiscovery, apiGroupList, apiResourceList } from '../handlers/discovery.js';
import { nodeMetrics, podMetrics, type MetricsDeps, type MetricsPod, type SummaryDoc } from './metrics-api.js';

const NODE_REF = { group: '', version: 'v1', resource: 'nodes', namespaced: false };
const T = '2026-11-28T10:00:00Z';
const node = (name: string, labels: Record<string, string> = {}) => ({
  metadata: { name, labels },
  status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: 1 } } },
});
const pod = (ns: string, name: string, nodeName: string, phase = 'Running', labels: Record<string, string> = {}): MetricsPod => ({
  metadata: { name, namespace: ns, uid: `uid-${name}`, labels },
  spec: { nodeName },
  status: { phase },
});

function deps(summaries: Record<string, SummaryDoc | Error>, pods: MetricsPod[]): MetricsDeps & { scraped: string[] } {
  const scraped: string[] = [];
  const nodes = [node('n1', { zone: 'a' }), node('n2', { zone: 'b' }), node('n3', { zone: 'b' })];
  return {
    scraped,
    listNodes: async (sel) => nodes.filter((n) => !sel || sel === `zone=${n.metadata.labels.zone}`),
    listPods: async (ns) => pods.filter((p) => !ns || p.metadata.namespace === ns),
    summary: async (n) => {
      scraped.push(n.metadata.name);
      const s = summaries[n.metadata.name];
      if (!s) throw new Error('no agent');
      if (s instanceof Error) throw s;
      return s;
    },
    now: () => new Date(T),
    log: logger('test'),
  };
}

const usage = (nanoCores: number, bytes: number) => ({ cpu: { time: T, usageNanoCores: nanoCores }, memory: { time: T, workingSetBytes: bytes } });

describe('metrics.k8s.io', () => {
  it('turns node summaries into NodeMetrics (nanocores, KiB) and leaves out nodes whose agent fails', async () => {
    const d = deps({ n1: { node: usage(250_000_000, 512 * 1024 * 1024) }, n2: new Error('connection refused') }, []);
    const items = (await nodeMetrics(d)) as { metadata: { name: string; labels?: object }; usage: { cpu: string; memory: string }; window: string; timestamp: string }[];
    assert.deepEqual(items.map((i) => i.metadata.name), ['n1']);
    assert.deepEqual(items[0]!.usage, { cpu: '250000000n', memory: '524288Ki' });
    assert.deepEqual(items[0]!.metadata.labels, { zone: 'a' });
    assert.equal(items[0]!.timestamp, T);
    assert.equal(items[0]!.window, '10s');
    assert.deepEqual(d.scraped.sort(), ['n1', 'n2', 'n3']);
  });

  it('stops scraping at its deadline: nodes not reached in 10 s are left out', async () => {
    let t = Date.parse(T);
    const many = Array.from({ length: 20 }, (_, i) => node(`m${i}`));
    const scraped: string[] = [];
    const d: MetricsDeps = {
      listNodes: async () => many,
      listPods: async () => [],
      summary: async (n) => {
        scraped.push(n.metadata.name);
        await new Promise((r) => setImmediate(r));
        t += 11_000; // each agent answers slowly
        return { node: usage(1, 1024) };
      },
      now: () => new Date(t),
      log: logger('test'),
    };
    const items = await nodeMetrics(d);
    assert.equal(scraped.length, 16, 'the first 16 (the concurrency) started before the deadline passed; the rest were skipped');
    assert.equal(items.length, 16);
  });

  it('selects nodes by label and by name', async () => {
    const d = deps({ n1: { node: usage(1, 1024) }, n2: { node: usage(2, 2048) }, n3: { node: usage(3, 3072) } }, []);
    assert.deepEqual(((await nodeMetrics(d, 'zone=b')) as { metadata: { name: string } }[]).map((i) => i.metadata.name), ['n2', 'n3']);
    assert.deepEqual(((await nodeMetrics(d, undefined, 'n3')) as { metadata: { name: string } }[]).map((i) => i.metadata.name), ['n3']);
  });

  it('gives PodMetrics per container for running pods, scraping only the nodes that run them, matched by uid', async () => {
    const pods = [pod('default', 'web-1', 'n1', 'Running', { app: 'web' }), pod('default', 'web-2', 'n2', 'Pending', { app: 'web' }), pod('other', 'db', 'n1')];
    const d = deps(
      {
        n1: {
          node: usage(1, 1),
          pods: [
            { podRef: { namespace: 'default', name: 'web-1', uid: 'uid-web-1' }, containers: [{ name: 'web', ...usage(5_000_000, 4 * 1024 * 1024) }, { name: 'side', ...usage(0, 2048) }] },
            { podRef: { namespace: 'other', name: 'db', uid: 'an-older-pod-of-that-name' }, containers: [{ name: 'db', ...usage(1, 1024) }] },
          ],
        },
      },
      pods,
    );
    const items = (await podMetrics(d, '')) as { metadata: { name: string; namespace: string }; containers: { name: string; usage: object }[] }[];
    assert.deepEqual(items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`), ['default/web-1'], 'the Pending pod and the stale uid are left out');
    assert.deepEqual(items[0]!.containers, [
      { name: 'web', usage: { cpu: '5000000n', memory: '4096Ki' } },
      { name: 'side', usage: { cpu: '0n', memory: '2Ki' } },
    ]);
    assert.deepEqual(d.scraped, ['n1'], 'n2 runs no running pod of the selection, n3 none at all');
    assert.deepEqual(await podMetrics(d, 'default', undefined, undefined, 'nope'), []);
  });

  it('is in discovery: /apis, the aggregated document and the resource list, with get and list only', () => {
    const groups = (apiGroupList() as { groups: { name: string; preferredVersion: { version: string } }[] }).groups;
    assert.equal(groups.find((g) => g.name === 'metrics.k8s.io')?.preferredVersion.version, 'v1beta1');
    const agg = aggregatedDiscovery(false) as { items: { metadata: { name: string }; versions: { resources: { resource: string; scope: string; verbs: string[] }[] }[] }[] };
    const m = agg.items.find((i) => i.metadata.name === 'metrics.k8s.io');
    assert.deepEqual(m?.versions[0]?.resources.map((r) => `${r.resource}:${r.scope}:${r.verbs.join(',')}`), ['nodes:Cluster:get,list', 'pods:Namespaced:get,list']);
    const list = apiResourceList('metrics.k8s.io', 'v1beta1') as { groupVersion: string; resources: { name: string; kind: string }[] };
    assert.equal(list.groupVersion, 'metrics.k8s.io/v1beta1');
    assert.deepEqual(list.resources.map((r) => r.kind), ['NodeMetrics', 'PodMetrics']);
    // The core group still comes first, so "pods" means core/v1 pods.
    assert.equal((aggregatedDiscovery(true) as { items: { metadata: { name: string } }[] }).items[0]?.metadata.name, '');
  });
});

describe('metrics.k8s.io on a real API server', function () {
  this.timeout(30_000);
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer();
    await api.rest.resource(NODE_REF).create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'no-agent' } });
  });
  after(async () => api?.stop());

  it('lists nodes without a reachable agent as no items, and answers bad requests with a Status', async () => {
    const list = await api.rest.request<{ kind: string; apiVersion: string; items: unknown[] }>('GET', '/apis/metrics.k8s.io/v1beta1/nodes');
    assert.deepEqual([list.kind, list.apiVersion, list.items.length], ['NodeMetricsList', 'metrics.k8s.io/v1beta1', 0]);
    const pods = await api.rest.request<{ kind: string; items: unknown[] }>('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods');
    assert.deepEqual([pods.kind, pods.items.length], ['PodMetricsList', 0]);
    const status = async (method: string, path: string): Promise<{ code: number; reason: string }> => {
      try {
        await api.rest.request(method, path);
      } catch (err) {
        const e = err as ApiError;
        return { code: e.code, reason: e.reason };
      }
      throw new Error(`${method} ${path} succeeded`);
    };
    assert.deepEqual(await status('GET', '/apis/metrics.k8s.io/v1beta1/nodes/no-agent'), { code: 404, reason: 'NotFound' });
    assert.deepEqual(await status('POST', '/apis/metrics.k8s.io/v1beta1/nodes'), { code: 405, reason: 'MethodNotAllowed' });
    assert.deepEqual(await status('GET', '/apis/metrics.k8s.io/v1beta1/nodes?watch=true'), { code: 400, reason: 'BadRequest' });
    assert.deepEqual(await status('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/nodes'), { code: 404, reason: 'NotFound' });
  });
});
