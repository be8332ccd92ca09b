// The Job controller against a real API server: completions and parallelism, Indexed Jobs with a failing index, the
// pod failure policy, suspend and resume, the active deadline, and pod tracking through the finalizer. Pods are
// finished by writing their status as a kubelet would.
import assert from 'node:assert/strict';
import { EVENTS, type KubeEvent, type ResourceClient } from '../../client/index.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { PODS, type Pod } from '../../controllers/framework/types.js';
import { JOBS, type Job } from '../../controllers/job/types.js';
import { COMPLETION_INDEX_ANNOTATION, INDEX_FAILURE_COUNT_ANNOTATION, JOB_TRACKING_FINALIZER } from '../../controllers/job/util.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';
import { conditionOf, finishPod, job, startJobController, type RunningControllers } from './job-harness.js';
import type { JobController } from '../../controllers/job/job-controller.js';

describe('job controller', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let ctrl: RunningControllers<JobController>;
  let pods: ResourceClient<Pod>;
  let jobs: ResourceClient<Job>;
  let events: ResourceClient<KubeEvent>;

  before(async () => {
    cluster = await startTestCluster();
    pods = cluster.rest.resource<Pod>(PODS);
    jobs = cluster.rest.resource<Job>(JOBS);
    events = cluster.rest.resource<KubeEvent>(EVENTS);
    ctrl = await startJobController(cluster.rest);
  });
  after(async () => {
    await ctrl?.stop();
    await cluster?.close();
  });

  const podsOf = async (ns: string, name: string): Promise<Pod[]> => (await pods.list(ns, { labelSelector: `batch.kubernetes.io/job-name=${name}` })).items;
  const live = (list: Pod[]): Pod[] => list.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const reasons = async (ns: string, name: string): Promise<string[]> =>
    (await events.list(ns)).items.filter((e) => e.involvedObject.name === name && e.involvedObject.kind === 'Job').map((e) => e.reason);
  const finished = (ns: string, name: string, type: 'Complete' | 'Failed'): Promise<Job> =>
    waitFor(async () => {
      const j = await jobs.get(ns, name);
      return conditionOf(j, type)?.status === 'True' && j;
    }, { what: `job ${name} ${type}` });

  it('runs completions with at most parallelism pods at once, tracked by the finalizer, then Complete', async () => {
    const ns = await createNamespace(cluster.rest);
    const created = await jobs.create(ns, job('batch', { completions: 3, parallelism: 2 }));
    let most = 0;
    let done = 0;
    while (done < 3) {
      const running = await waitFor(async () => {
        const l = live(await podsOf(ns, 'batch'));
        return l.length > 0 && l;
      }, { what: 'a running pod' });
      most = Math.max(most, running.length);
      const pod = running[0]!;
      assert.ok(pod.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER), 'a Job pod carries the tracking finalizer');
      assert.equal(controllerRefOf(pod)?.uid, created.metadata.uid);
      assert.match(pod.metadata.name ?? '', /^batch-[a-z0-9]{5}$/);
      await finishPod(pods, pod, 0);
      done++;
      await waitFor(async () => ((await jobs.get(ns, 'batch')).status?.succeeded ?? 0) >= done, { what: `${done} succeeded` });
    }
    assert.equal(most, 2, 'parallelism bounds the pods at once');
    const j = await finished(ns, 'batch', 'Complete');
    assert.equal(j.status?.succeeded, 3);
    assert.equal(j.status?.failed ?? 0, 0);
    assert.equal(j.status?.active, 0);
    assert.ok(j.status?.completionTime && j.status.startTime);
    assert.equal(conditionOf(j, 'SuccessCriteriaMet')?.reason, 'CompletionsReached');
    assert.equal(conditionOf(j, 'Complete')?.reason, 'CompletionsReached');
    assert.deepEqual(j.status?.uncountedTerminatedPods ?? {}, {});
    const all = await podsOf(ns, 'batch');
    assert.equal(all.length, 3, 'no pod beyond the completions was created');
    for (const p of all) assert.ok(!p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER), 'counted pods lose the finalizer');
    await waitFor(async () => (await reasons(ns, 'batch')).includes('Completed'), { what: 'the Completed event' });
    assert.equal((await reasons(ns, 'batch')).filter((r) => r === 'SuccessfulCreate').length, 3);
  });

  it('runs an Indexed Job: one pod per index with its env, label, annotation and hostname; a failing index fails alone', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('idx', { completions: 3, parallelism: 3, completionMode: 'Indexed', backoffLimitPerIndex: 1 }));
    const seen = new Map<number, number>();
    const result = await waitFor(async () => {
      for (const p of live(await podsOf(ns, 'idx'))) {
        const ix = Number(p.metadata.annotations?.[COMPLETION_INDEX_ANNOTATION]);
        seen.set(ix, (seen.get(ix) ?? 0) + 1);
        assert.equal(p.metadata.labels?.[COMPLETION_INDEX_ANNOTATION], String(ix));
        assert.equal(p.spec.hostname, `idx-${ix}`);
        assert.match(p.metadata.name ?? '', new RegExp(`^idx-${ix}-[a-z0-9]{5}$`));
        const env = p.spec.containers[0]!.env?.find((e) => e.name === 'JOB_COMPLETION_INDEX');
        assert.equal(env?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['batch.kubernetes.io/job-completion-index']");
        await finishPod(pods, p, ix === 1 ? 3 : 0); // index 1 always fails
      }
      const j = await jobs.get(ns, 'idx');
      return conditionOf(j, 'Failed')?.status === 'True' && j;
    }, { what: 'the indexed job to fail', timeoutMs: 15_000 });
    assert.equal(conditionOf(result, 'Failed')?.reason, 'FailedIndexes');
    assert.equal(conditionOf(result, 'FailureTarget')?.reason, 'FailedIndexes');
    assert.equal(result.status?.completedIndexes, '0,2');
    assert.equal(result.status?.failedIndexes, '1');
    assert.equal(result.status?.succeeded, 2);
    assert.equal(result.status?.failed, 2, 'index 1 ran twice: backoffLimitPerIndex 1 allows one retry');
    const index1 = (await podsOf(ns, 'idx')).filter((p) => p.metadata.annotations?.[COMPLETION_INDEX_ANNOTATION] === '1');
    assert.deepEqual(index1.map((p) => p.metadata.annotations?.[INDEX_FAILURE_COUNT_ANNOTATION]).sort(), ['0', '1']);
    const others = (await podsOf(ns, 'idx')).filter((p) => p.metadata.annotations?.[COMPLETION_INDEX_ANNOTATION] !== '1');
    assert.equal(others.length, 2, 'the succeeding indexes ran once each');
  });

  it('fails the Job at once on a FailJob exit code, with the rule in the message', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('pfp', { completions: 2, parallelism: 2, podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] } }));
    const [first, second] = await waitFor(async () => {
      const l = live(await podsOf(ns, 'pfp'));
      return l.length === 2 && l;
    });
    await finishPod(pods, first!, 42);
    const j = await finished(ns, 'pfp', 'Failed');
    assert.equal(conditionOf(j, 'Failed')?.reason, 'PodFailurePolicy');
    assert.match(conditionOf(j, 'Failed')?.message ?? '', new RegExp(`^Container main for pod ${ns}/${first!.metadata.name} failed with exit code 42 matching FailJob rule at index 0$`));
    // The other pod was deleted and counted as failed; no pod keeps the finalizer.
    assert.equal(j.status?.failed, 2);
    await waitFor(async () => (await podsOf(ns, 'pfp')).every((p) => !p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER)), { what: 'finalizers removed' });
    await waitFor(async () => !(await podsOf(ns, 'pfp')).some((p) => p.metadata.name === second!.metadata.name), { what: 'the active pod deleted' });
    await waitFor(async () => (await reasons(ns, 'pfp')).includes('PodFailurePolicy'), { what: 'the Warning event' });
  });

  it('ignores disruptions (Ignore on DisruptionTarget) and counts exit codes (Count) against the backoff limit', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(
      ns,
      job('ign', {
        completions: 1,
        backoffLimit: 1,
        podFailurePolicy: {
          rules: [
            { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
            { action: 'Count', onExitCodes: { operator: 'NotIn', values: [0] } },
          ],
        },
      }),
    );
    const done = new Set<string>();
    const failOne = async (exitCode: number, disrupted: boolean): Promise<void> => {
      const p = await waitFor(async () => live(await podsOf(ns, 'ign')).find((x) => !done.has(x.metadata.uid ?? '')), { what: 'a new pod to fail' });
      done.add(p.metadata.uid ?? '');
      await finishPod(pods, p, exitCode, disrupted ? [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' }] : []);
    };
    // Two disruptions: ignored, not counted, replaced each time.
    await failOne(137, true);
    await failOne(137, true);
    let j = await jobs.get(ns, 'ign');
    assert.equal(j.status?.failed ?? 0, 0, 'ignored failures are not counted');
    assert.equal(conditionOf(j, 'Failed'), undefined);
    // Two counted failures pass backoffLimit 1.
    await failOne(1, false);
    await failOne(1, false);
    j = await finished(ns, 'ign', 'Failed');
    assert.equal(conditionOf(j, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(j.status?.failed, 2);
    assert.equal((await podsOf(ns, 'ign')).length, 4);
  });

  it('suspends (deleting its pods) and resumes, with the Suspended condition and events', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('sus', { completions: 2, parallelism: 2, suspend: true }));
    let j = await waitFor(async () => {
      const x = await jobs.get(ns, 'sus');
      return conditionOf(x, 'Suspended')?.status === 'True' && x;
    }, { what: 'Suspended' });
    assert.equal(conditionOf(j, 'Suspended')?.reason, 'JobSuspended');
    assert.equal(j.status?.startTime, undefined, 'a Job created suspended has not started');
    assert.equal((await podsOf(ns, 'sus')).length, 0);
    await jobs.patch(ns, 'sus', { spec: { suspend: false } });
    await waitFor(async () => live(await podsOf(ns, 'sus')).length === 2, { what: 'pods after resume' });
    j = await waitFor(async () => {
      const x = await jobs.get(ns, 'sus');
      return conditionOf(x, 'Suspended')?.status === 'False' && x.status?.active === 2 && x;
    });
    assert.equal(conditionOf(j, 'Suspended')?.reason, 'JobResumed');
    assert.ok(j.status?.startTime);
    // Suspending again deletes the running pods (their finalizers removed first) and counts none as failed.
    await jobs.patch(ns, 'sus', { spec: { suspend: true } });
    await waitFor(async () => (await podsOf(ns, 'sus')).length === 0, { what: 'pods deleted on suspend' });
    j = await waitFor(async () => {
      const x = await jobs.get(ns, 'sus');
      return conditionOf(x, 'Suspended')?.status === 'True' && x.status?.active === 0 && x;
    });
    assert.equal(conditionOf(j, 'Failed'), undefined);
    const r = await reasons(ns, 'sus');
    assert.ok(r.includes('Suspended') && r.includes('Resumed') && r.includes('SuccessfulDelete'), r.join(','));
  });

  it('fails a Job active longer than activeDeadlineSeconds and deletes its pods', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('ads', { completions: 1, activeDeadlineSeconds: 1 }));
    // The pod lives about a second; status.failed below says it was made (and deleted at the deadline).
    const j = await waitFor(async () => {
      const x = await jobs.get(ns, 'ads');
      return conditionOf(x, 'Failed')?.status === 'True' && x;
    }, { what: 'DeadlineExceeded', timeoutMs: 8000 });
    assert.equal(conditionOf(j, 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(conditionOf(j, 'Failed')?.message, 'Job was active longer than specified deadline');
    assert.equal(j.status?.active, 0);
    assert.equal(j.status?.failed, 1, 'the pod deleted at the deadline counts as failed');
    await waitFor(async () => (await podsOf(ns, 'ads')).length === 0, { what: 'the pod gone' });
  });

  it('counts pods deleted (as pod GC would) while the controller was down: the finalizer kept them', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('gc', { completions: 2, parallelism: 2 }));
    const running = await waitFor(async () => {
      const l = live(await podsOf(ns, 'gc'));
      return l.length === 2 && l;
    });
    await ctrl.stop();
    try {
      for (const p of running) {
        await finishPod(pods, p, 0);
        await pods.delete(ns, p.metadata.name ?? '');
      }
      const left = await podsOf(ns, 'gc');
      assert.equal(left.length, 2, 'deleted pods stay while they hold the tracking finalizer');
      assert.ok(left.every((p) => p.metadata.deletionTimestamp && p.status?.phase === 'Succeeded'));
    } finally {
      ctrl = await startJobController(cluster.rest);
    }
    const j = await finished(ns, 'gc', 'Complete');
    assert.equal(j.status?.succeeded, 2);
    assert.equal(j.status?.failed ?? 0, 0);
    await waitFor(async () => (await podsOf(ns, 'gc')).length === 0, { what: 'the counted pods gone' });
  });

  it('completes an Indexed Job when its successPolicy is met, deleting the rest', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('sp', { completions: 4, parallelism: 4, completionMode: 'Indexed', successPolicy: { rules: [{ succeededIndexes: '0-1' }] } }));
    const l = await waitFor(async () => {
      const x = live(await podsOf(ns, 'sp'));
      return x.length === 4 && x;
    });
    for (const p of l) if (['0', '1'].includes(p.metadata.annotations?.[COMPLETION_INDEX_ANNOTATION] ?? '')) await finishPod(pods, p, 0);
    const j = await finished(ns, 'sp', 'Complete');
    assert.equal(conditionOf(j, 'SuccessCriteriaMet')?.reason, 'SuccessPolicy');
    assert.equal(conditionOf(j, 'SuccessCriteriaMet')?.message, 'Matched rules at index 0');
    assert.equal(j.status?.completedIndexes, '0,1');
    assert.equal(j.status?.succeeded, 2);
    await waitFor(async () => (await podsOf(ns, 'sp')).every((p) => p.status?.phase === 'Succeeded'), { what: 'the other indexes deleted' });
  });

  it('adopts a matching orphan pod (adding the tracking finalizer) and releases one that stops matching', async () => {
    const ns = await createNamespace(cluster.rest);
    const j = await jobs.create(ns, job('adopt', { completions: 1, parallelism: 1, manualSelector: true, selector: { matchLabels: { app: 'adopt' } }, template: { metadata: { labels: { app: 'adopt' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } }));
    await waitFor(async () => (await pods.list(ns)).items.length === 1, { what: 'the pod' });
    const orphan = await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan', labels: { app: 'adopt' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } });
    const adopted = await waitFor(async () => {
      const p = await pods.get(ns, orphan.metadata.name ?? '');
      return controllerRefOf(p)?.uid === j.metadata.uid && p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER) && p;
    }, { what: 'adoption with the finalizer' });
    // Too many pods now: one of the two is deleted (parallelism 1).
    const [kept] = await waitFor(async () => {
      const l = live((await pods.list(ns)).items);
      return l.length === 1 && l;
    }, { what: 'the extra pod deleted' });
    assert.ok(adopted);
    // A pod whose labels stop matching is released, its finalizer removed, and replaced.
    await pods.patch(ns, kept!.metadata.name ?? '', { metadata: { labels: { app: 'elsewhere' } } });
    await waitFor(async () => {
      const p = await pods.get(ns, kept!.metadata.name ?? '');
      return !controllerRefOf(p) && !p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER);
    }, { what: 'release and finalizer removal' });
    await waitFor(async () => live((await pods.list(ns, { labelSelector: 'app=adopt' })).items).length === 1, { what: 'a replacement' });
  });

  it('with podReplacementPolicy Failed waits for a deleted pod to fail before replacing it; by default replaces at once', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('wait', { completions: 1, podReplacementPolicy: 'Failed' }));
    await jobs.create(ns, job('eager', { completions: 1 }));
    const first = async (name: string): Promise<Pod> => waitFor(async () => live(await podsOf(ns, name))[0], { what: `${name}'s pod` });
    const w = await first('wait');
    const e = await first('eager');
    await pods.delete(ns, w.metadata.name ?? '');
    await pods.delete(ns, e.metadata.name ?? '');
    // The eager Job counts its deleted pod as failed and replaces it at once.
    await waitFor(async () => live(await podsOf(ns, 'eager')).some((p) => p.metadata.uid !== e.metadata.uid), { what: 'the eager replacement' });
    // The waiting Job reports it terminating and replaces nothing yet.
    const j = await waitFor(async () => {
      const x = await jobs.get(ns, 'wait');
      return x.status?.terminating === 1 && x;
    }, { what: 'terminating 1' });
    assert.equal(j.status?.active, 0);
    assert.equal(live(await podsOf(ns, 'wait')).length, 0, 'no replacement while the pod terminates');
    assert.equal((await podsOf(ns, 'wait')).length, 1);
    // Once it has failed, the replacement comes.
    await finishPod(pods, await pods.get(ns, w.metadata.name ?? ''), 137);
    await waitFor(async () => live(await podsOf(ns, 'wait')).length === 1, { what: 'the replacement after failure' });
    const after = await waitFor(async () => {
      const x = await jobs.get(ns, 'wait');
      return x.status?.failed === 1 && x.status.terminating === 0 && x;
    });
    assert.equal(after.status?.active, 1);
  });

  it('releases the pods of a deleted Job from the tracking finalizer', async () => {
    const ns = await createNamespace(cluster.rest);
    await jobs.create(ns, job('gone', { completions: 2, parallelism: 2 }));
    await waitFor(async () => live(await podsOf(ns, 'gone')).length === 2, { what: 'the pods' });
    await jobs.delete(ns, 'gone', { propagationPolicy: 'Orphan' });
    await waitFor(async () => (await podsOf(ns, 'gone')).every((p) => !p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER)), { what: 'finalizers removed' });
  });
});
