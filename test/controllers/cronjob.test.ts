// The CronJob controller against a real API server with a fake clock: Jobs at schedule times, Forbid and Replace,
// history, missed runs while the controller was down (one catch-up, the deadline, the too-many-missed event).
import assert from 'node:assert/strict';
import { EVENTS, loadClientConfig, RestClient, type KubeEvent, type ResourceClient } from '../../client/index.js';
import { Registry } from 'prom-client';
import { CREATION_SKEW_METRIC, CronJobController } from '../../controllers/cronjob/cronjob-controller.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { CRONJOBS, JOBS, type CronJob, type Job } from '../../controllers/job/types.js';
import { FakeClock } from '../../lib/clock.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';
import { runControllers, type RunningControllers } from './job-harness.js';

const MINUTE = 60_000;

function cronJob(name: string, spec: Partial<CronJob['spec']> = {}): CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name },
    spec: {
      schedule: '* * * * *',
      jobTemplate: { metadata: { labels: { from: name } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36' }] } } } },
      ...spec,
    },
  };
}

describe('cronjob controller (fake clock)', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let jobs: ResourceClient<Job>;
  let cronJobs: ResourceClient<CronJob>;
  let events: ResourceClient<KubeEvent>;
  let clock: FakeClock;
  let ctrl: RunningControllers<CronJobController> | undefined;

  before(async () => {
    cluster = await startTestCluster();
    jobs = cluster.rest.resource<Job>(JOBS);
    cronJobs = cluster.rest.resource<CronJob>(CRONJOBS);
    events = cluster.rest.resource<KubeEvent>(EVENTS);
  });
  beforeEach(async () => {
    clock = new FakeClock(Date.now());
    ctrl = await runControllers(cluster.rest, (ctx) => new CronJobController(ctx), clock);
  });
  afterEach(async () => ctrl?.stop());
  after(async () => cluster?.close());

  /** Moves the fake clock to `seconds` past the next minute boundary (the schedule time of '* * * * *'). */
  const toNextMinute = async (seconds = 1): Promise<number> => {
    const boundary = Math.ceil((clock.now() + 1) / MINUTE) * MINUTE;
    await clock.advance(boundary + seconds * 1000 - clock.now());
    return boundary;
  };
  const jobsOf = async (ns: string): Promise<Job[]> => (await jobs.list(ns)).items.filter((j) => !j.metadata.deletionTimestamp);
  const reasons = async (ns: string): Promise<string[]> => (await events.list(ns)).items.filter((e) => e.involvedObject.kind === 'CronJob').map((e) => e.reason);
  const complete = (j: Job): Promise<Job> =>
    jobs.patch(j.metadata.namespace, j.metadata.name ?? '', { status: { startTime: j.metadata.creationTimestamp, completionTime: new Date(clock.now()).toISOString().replace(/\.\d+Z$/, 'Z'), conditions: [{ type: 'Complete', status: 'True' }] } }, 'merge', { sub: 'status' });

  it('creates a Job at each schedule time, named by it, and with Forbid starts none while one runs', async () => {
    const ns = await createNamespace(cluster.rest);
    const cj = await cronJobs.create(ns, cronJob('tick', { concurrencyPolicy: 'Forbid' }));
    assert.equal(cj.spec.successfulJobsHistoryLimit, 3, 'defaults');
    const t1 = await toNextMinute();
    const [first] = await waitFor(async () => {
      const l = await jobsOf(ns);
      return l.length === 1 && l;
    }, { what: 'the first job' });
    assert.equal(first!.metadata.name, `tick-${t1 / MINUTE}`);
    assert.equal(controllerRefOf(first!)?.uid, cj.metadata.uid);
    assert.equal(first!.metadata.labels?.from, 'tick');
    assert.equal(first!.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], new Date(t1).toISOString().replace('.000Z', 'Z'));
    const st = await waitFor(async () => {
      const s = (await cronJobs.get(ns, 'tick')).status;
      return s?.active?.length === 1 && s;
    });
    assert.equal(st.active![0]!.name, first!.metadata.name);
    assert.equal(st.lastScheduleTime, new Date(t1).toISOString().replace('.000Z', 'Z'));

    // Forbid: the next minute comes while the first Job runs.
    const t2 = await toNextMinute();
    await waitFor(async () => (await reasons(ns)).includes('JobAlreadyActive'), { what: 'JobAlreadyActive' });
    assert.equal((await jobsOf(ns)).length, 1);

    // The first finishes: it leaves status.active, and the skipped time (still within its deadline, none being set)
    // runs now, late, as kube does.
    await complete(first!);
    const st2 = await waitFor(async () => {
      const s = (await cronJobs.get(ns, 'tick')).status;
      return s?.active?.length === 1 && s.active[0]!.name === `tick-${t2 / MINUTE}` && s;
    }, { what: 'the skipped time run once the first finished' });
    assert.ok(st2.lastSuccessfulTime);
    assert.equal(st2.lastScheduleTime, new Date(t2).toISOString().replace('.000Z', 'Z'));
    assert.ok((await reasons(ns)).includes('SawCompletedJob'));
    assert.equal((await jobsOf(ns)).length, 2);
  });

  it('with Replace deletes the running Job and starts the new one', async () => {
    const ns = await createNamespace(cluster.rest);
    await cronJobs.create(ns, cronJob('rep', { concurrencyPolicy: 'Replace' }));
    const t1 = await toNextMinute();
    await waitFor(async () => (await jobsOf(ns)).length === 1, { what: 'the first job' });
    const t2 = await toNextMinute();
    const l = await waitFor(async () => {
      const x = await jobsOf(ns);
      return x.length === 1 && x[0]!.metadata.name === `rep-${t2 / MINUTE}` && x;
    }, { what: 'the replacement job only' });
    const st = await waitFor(async () => {
      const s = (await cronJobs.get(ns, 'rep')).status;
      return s?.active?.length === 1 && s.active[0]!.uid === l[0]!.metadata.uid && s;
    });
    assert.equal(st.active![0]!.name, `rep-${t2 / MINUTE}`);
    assert.notEqual(t1, t2);
    const r = await reasons(ns);
    assert.ok(r.includes('SuccessfulDelete') && r.filter((x) => x === 'SuccessfulCreate').length === 2, r.join(','));
  });

  it('keeps successfulJobsHistoryLimit finished Jobs', async () => {
    const ns = await createNamespace(cluster.rest);
    await cronJobs.create(ns, cronJob('hist', { successfulJobsHistoryLimit: 1 }));
    for (let i = 1; i <= 3; i++) {
      await toNextMinute();
      const j = await waitFor(async () => (await jobsOf(ns)).find((x) => !x.status?.conditions?.length), { what: `job ${i}` });
      await complete(j);
      await waitFor(async () => !(await cronJobs.get(ns, 'hist')).status?.active?.length, { what: `job ${i} seen complete` });
    }
    await waitFor(async () => (await jobsOf(ns)).length === 1, { what: 'history trimmed to one' });
  });

  it('after the controller was down, runs only the most recent missed time; none past startingDeadlineSeconds', async () => {
    const ns = await createNamespace(cluster.rest);
    await cronJobs.create(ns, cronJob('missed'));
    await cronJobs.create(ns, cronJob('late', { startingDeadlineSeconds: 10 }));
    await ctrl!.stop();
    ctrl = undefined;
    await clock.advance(5 * MINUTE); // five schedule times pass with no controller
    const downAt = clock.now();
    const lastMissed = Math.floor(downAt / MINUTE) * MINUTE;
    if (downAt - lastMissed <= 10_000) await clock.advance(15_000); // make the last time older than 'late's deadline
    ctrl = await runControllers(cluster.rest, (ctx) => new CronJobController(ctx), clock);
    const l = await waitFor(async () => {
      const x = await jobsOf(ns);
      return x.length >= 1 && x;
    }, { what: 'the catch-up job' });
    await waitFor(async () => ctrl!.controller.queue.length === 0 && (await jobsOf(ns)).length === 1);
    assert.deepEqual(l.map((j) => j.metadata.name), [`missed-${Math.floor(clock.now() / MINUTE)}`], 'one job, for the latest missed time; none for "late"');
  });

  it('says too many missed start times past 100, and still runs the latest', async () => {
    const ns = await createNamespace(cluster.rest);
    await cronJobs.create(ns, cronJob('many'));
    await ctrl!.stop();
    ctrl = undefined;
    await clock.advance(150 * MINUTE);
    ctrl = await runControllers(cluster.rest, (ctx) => new CronJobController(ctx), clock);
    await waitFor(async () => (await reasons(ns)).includes('TooManyMissedTimes'), { what: 'TooManyMissedTimes' });
    const l = await waitFor(async () => {
      const x = await jobsOf(ns);
      return x.length === 1 && x;
    });
    assert.equal(l[0]!.metadata.name, `many-${Math.floor(clock.now() / MINUTE)}`);
  });

  /** The controller's own client, recording its requests but events' (the informers' lists and watches are not single reads). */
  const recordingClient = (): { rest: RestClient; calls: string[] } => {
    const rest = new RestClient(loadClientConfig({ kubeconfig: cluster.server.adminKubeconfigPath }));
    const calls: string[] = [];
    const request = rest.request.bind(rest);
    rest.request = <T>(method: string, path: string, opts?: Parameters<RestClient['request']>[2]): Promise<T> => {
      if (!path.includes('/events')) calls.push(`${method} ${path}`);
      return request<T>(method, path, opts);
    };
    return { rest, calls };
  };

  it('at a schedule time writes the Job and one status, and reads neither the CronJob nor the Job back', async () => {
    const ns = await createNamespace(cluster.rest);
    await ctrl!.stop();
    const { rest, calls } = recordingClient();
    ctrl = await runControllers(rest, (ctx) => new CronJobController(ctx), clock);
    await cronJobs.create(ns, cronJob('lean'));
    const t = await toNextMinute();
    await waitFor(async () => (await cronJobs.get(ns, 'lean')).status?.active?.length === 1, { what: 'the Job in status.active' });
    // The syncs that the Job's add event and the status write's own event cause come and find nothing to do.
    await waitFor(async () => ctrl!.controller.queue.length === 0 && ctrl!.informers.for<Job>(JOBS).indexer.get(`${ns}/lean-${t / MINUTE}`) !== undefined);
    const cj = `/apis/batch/v1/namespaces/${ns}/cronjobs/lean`;
    const mine = calls.filter((c) => c.includes(`/namespaces/${ns}/`));
    assert.deepEqual(mine, [`POST /apis/batch/v1/namespaces/${ns}/jobs`, `PUT ${cj}/status`], mine.join('\n'));
  });

  it('with CronJobs due at once, creates all their Jobs before any status write, and records the creation skew', async () => {
    const ns = await createNamespace(cluster.rest);
    await ctrl!.stop();
    const { rest, calls } = recordingClient();
    const registry = new Registry();
    // One worker: the order of its writes is the order of the syncs.
    ctrl = await runControllers(rest, (ctx) => new CronJobController({ ...ctx, metrics: registry }, { workers: 1 }), clock);
    const names = ['due-a', 'due-b', 'due-c'];
    for (const n of names) await cronJobs.create(ns, cronJob(n));
    await waitFor(async () => names.every((n) => ctrl!.informers.for<CronJob>(CRONJOBS).indexer.get(`${ns}/${n}`)), { what: 'the CronJobs in the cache' });
    await toNextMinute(1);
    await waitFor(async () => (await cronJobs.list(ns)).items.every((c) => c.status?.active?.length === 1), { what: 'every Job in status.active' });
    // "POST jobs", "PUT status": the verb and the last path segment of this namespace's requests.
    const writes = calls.filter((c) => c.includes(`/namespaces/${ns}/`)).map((c) => `${c.split(' ')[0]} ${c.split('/').pop()}`);
    assert.deepEqual(writes.slice(0, 6), ['POST jobs', 'POST jobs', 'POST jobs', 'PUT status', 'PUT status', 'PUT status'], writes.join('\n'));
    const skew = (await registry.getSingleMetricAsString(CREATION_SKEW_METRIC)).split('\n');
    assert.ok(skew.includes(`${CREATION_SKEW_METRIC}_count 3`), skew.join('\n'));
    // The clock stood 1 s past the schedule time while the Jobs were created.
    assert.ok(skew.includes(`${CREATION_SKEW_METRIC}_bucket{le="1"} 3`), skew.join('\n'));
  });

  it('starts nothing while suspended', async () => {
    const ns = await createNamespace(cluster.rest);
    await cronJobs.create(ns, cronJob('sus', { suspend: true }));
    await toNextMinute();
    await toNextMinute();
    // The controller has synced the CronJob at both times (its status write would show a run): nothing was created.
    await waitFor(async () => ctrl!.controller.queue.length === 0);
    assert.equal((await jobsOf(ns)).length, 0);
    await cronJobs.patch(ns, 'sus', { spec: { suspend: false } });
    await toNextMinute();
    await waitFor(async () => (await jobsOf(ns)).length === 1, { what: 'a job once resumed' });
  });
});
