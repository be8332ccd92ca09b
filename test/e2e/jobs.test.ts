// End to end on real runc containers (`ketch up`, the real kubectl): a Job of 5 completions with parallelism 2 runs
// busybox to completion and `kubectl wait --for=condition=complete` returns; a CronJob creates a Job that completes.
// No fake clock here: the CronJob is given a past lastScheduleTime through its status subresource, so the controller
// finds a missed schedule time at once and makes it up (kube's one catch-up), instead of the test waiting a minute.
import assert from 'node:assert/strict';
import { waitFor } from '../support/util.js';
import { UpCluster } from './cluster.js';

const JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: five}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: work, image: "busybox:1.36", command: [sh, -c, "echo done by $HOSTNAME"]}
`;

const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata: {name: every-minute}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: tick, image: "busybox:1.36", command: [sh, -c, "echo tick"]}
`;

describe('jobs and cronjobs (e2e on runc with kubectl)', function () {
  this.timeout(300_000);
  let cluster: UpCluster;

  before(async () => {
    cluster = await UpCluster.create({ clusterCidr: '10.63.0.0/16' });
    await cluster.start();
  });
  after(async () => {
    await cluster?.stop().catch(() => undefined); // dispose() below kills it if it did not stop
    const left = cluster?.leftovers();
    await cluster?.dispose();
    if (left) assert.deepEqual({ mounts: left.mounts, sandboxes: left.sandboxes }, { mounts: [], sandboxes: [] }, 'nothing left mounted');
  });

  const apply = async (yaml: string): Promise<void> => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(cluster.dir, `m-${Date.now()}.yaml`);
    writeFileSync(file, yaml);
    await cluster.kubectl('apply', '-f', file);
  };

  it('runs a Job of 5 completions, 2 at a time, and kubectl wait --for=condition=complete returns', async () => {
    await apply(JOB);
    const r = await cluster.kubectlResult(['wait', '--for=condition=complete', 'job/five', '--timeout=180s'], 200_000);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n${await cluster.kubectl('get', 'pods', '-o', 'wide')}`);
    assert.match(r.stdout, /job.batch\/five condition met/);
    assert.equal(await cluster.kubectl('get', 'job', 'five', '-o', 'jsonpath={.status.succeeded}/{.status.failed}'), '5/');
    const phases = (await cluster.kubectl('get', 'pods', '-l', 'batch.kubernetes.io/job-name=five', '-o', 'jsonpath={.items[*].status.phase}')).split(' ');
    assert.deepEqual(phases, ['Succeeded', 'Succeeded', 'Succeeded', 'Succeeded', 'Succeeded']);
    const finalizers = await cluster.kubectl('get', 'pods', '-l', 'batch.kubernetes.io/job-name=five', '-o', 'jsonpath={.items[*].metadata.finalizers}');
    assert.doesNotMatch(finalizers, /job-tracking/, 'every pod was counted and released');
    const pod = (await cluster.kubectl('get', 'pods', '-l', 'batch.kubernetes.io/job-name=five', '-o', 'jsonpath={.items[0].metadata.name}')).trim();
    assert.equal((await cluster.kubectl('logs', pod)).trim(), `done by ${pod}`);
    assert.match(await cluster.kubectl('get', 'job', 'five'), /five\s+Complete\s+5\/5\s+\d+s/);
  });

  it('a CronJob creates a Job, which runs to completion', async () => {
    await apply(CRONJOB);
    const past = new Date(Date.now() - 150_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await cluster.kubectl('patch', 'cronjob', 'every-minute', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { lastScheduleTime: past } }));
    const job = await waitFor(
      async () => {
        const names = (await cluster.kubectl('get', 'jobs', '-o', 'jsonpath={.items[*].metadata.name}')).split(' ');
        return names.find((n) => n.startsWith('every-minute-'));
      },
      { timeoutMs: 60_000, what: 'the CronJob to create a Job' },
    );
    assert.match(job, /^every-minute-\d+$/);
    const owner = await cluster.kubectl('get', 'job', job, '-o', 'jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}');
    assert.equal(owner, 'CronJob/every-minute');
    const r = await cluster.kubectlResult(['wait', '--for=condition=complete', `job/${job}`, '--timeout=120s'], 150_000);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const table = await cluster.kubectl('get', 'cronjob', 'every-minute');
    assert.match(table, /every-minute\s+\* \* \* \* \*\s+<none>\s+False\s+[01]\s+\d+s/);
  });
});
