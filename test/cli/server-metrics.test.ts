// The hosted controller manager's and scheduler's metrics on the API server's /metrics (`ketch server` serves no
// ports of their own): kube's names and labels, for a Deployment whose pod fits on no node.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Deployment, Node } from '../../api/index.js';
import { DEPLOYMENTS, NODES } from '../../client/index.js';
import { runServer, type RunningServer } from '../../cli/commands/server.js';
import { waitFor } from '../support/util.js';

const node: Node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'n1' },
  status: {
    allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    capacity: { cpu: '4', memory: '8Gi', pods: '110' },
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
  },
};

/** One replica asking for more CPU than any node has: created, never bound. */
const deployment: Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'huge', namespace: 'default' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'huge' } },
    template: {
      metadata: { labels: { app: 'huge' } },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100' } } }] },
    },
  },
};

/** GET /metrics as text. */
async function scrape(server: RunningServer): Promise<string> {
  const res = await server.rest.open('GET', '/metrics');
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return text;
}

/** The value of the sample `name{labels}` (labels exactly as written), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

for (const mode of ['threads', 'single-process'] as const) {
  describe(`ketch server /metrics with the hosted components (${mode})`, () => {
    let dir: string;
    let server: RunningServer | undefined;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ketch-server-metrics-'));
      server = await runServer({
        '--data-dir': dir,
        '--secure-port': '0',
        '--bind-address': '127.0.0.1',
        '--snapshot-schedule': '0',
        ...(mode === 'single-process' ? { '--single-process': 'true' } : {}),
      });
    });

    after(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('shows the work queues and the scheduling queue as kube names them', async () => {
      await server!.rest.resource<Node>(NODES).create(undefined, node);
      await server!.rest.resource<Deployment>(DEPLOYMENTS).create('default', deployment);
      const text = await waitFor(
        async () => {
          const t = await scrape(server!);
          const pending = sample(t, 'scheduler_pending_pods{queue="unschedulable"}') === 1;
          return pending && (sample(t, 'workqueue_work_duration_seconds_count{name="replicaset"}') ?? 0) >= 1 ? t : false;
        },
        { timeoutMs: 30_000, what: 'one unschedulable pod and a replicaset sync done, in /metrics' },
      );
      // The API server's own metrics are still there, once each.
      assert.equal(text.split('\n').filter((l) => l === '# TYPE apiserver_request_total counter').length, 1);
      for (const type of ['# TYPE workqueue_depth gauge', '# TYPE workqueue_queue_duration_seconds histogram', '# TYPE scheduler_pending_pods gauge']) {
        assert.equal(text.split('\n').filter((l) => l === type).length, 1, type);
      }
      assert.notEqual(sample(text, 'workqueue_depth{name="replicaset"}'), undefined, 'workqueue_depth{name="replicaset"}');
      assert.ok((sample(text, 'workqueue_adds_total{name="replicaset"}') ?? 0) >= 1, 'the replicaset queue counted its adds');
      assert.ok((sample(text, 'workqueue_adds_total{name="deployment"}') ?? 0) >= 1, 'the deployment queue counted its adds');
      assert.equal(sample(text, 'scheduler_pending_pods{queue="active"}'), 0);
      assert.equal(sample(text, 'scheduler_pending_pods{queue="gated"}'), 0);
      assert.ok((sample(text, 'scheduler_schedule_attempts_total{result="unschedulable",profile="default-scheduler"}') ?? 0) >= 1);
      assert.ok((sample(text, 'scheduler_queue_incoming_pods_total{queue="active",event="PodAdd"}') ?? 0) >= 1);
      assert.ok((sample(text, 'scheduler_queue_incoming_pods_total{queue="unschedulable",event="ScheduleAttemptFailure"}') ?? 0) >= 1);
    });
  });
}
