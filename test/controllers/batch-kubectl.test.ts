// The batch kinds through the real kubectl against a real API server (no containers): CronJob served with kube's
// table columns and short name, and `kubectl create job --from=cronjob/NAME`, whose protobuf Job body must arrive whole.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CRONJOBS, JOBS, type CronJob, type Job } from '../../controllers/job/types.js';
import { Clients } from '../e2e/cluster.js';
import { startTestCluster, type TestCluster } from './harness.js';

const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Paris
  concurrencyPolicy: Forbid
  jobTemplate:
    metadata: {labels: {team: a}, annotations: {note: x}}
    spec:
      backoffLimit: 2
      activeDeadlineSeconds: 600
      podFailurePolicy:
        rules:
        - {action: Ignore, onPodConditions: [{type: DisruptionTarget}]}
        - {action: FailJob, onExitCodes: {operator: In, values: [42, 43]}}
      template:
        metadata: {labels: {app: nightly}}
        spec:
          restartPolicy: Never
          serviceAccountName: default
          tolerations: [{key: k, operator: Exists, effect: NoExecute, tolerationSeconds: 0}]
          securityContext: {runAsUser: 0, fsGroup: 2000}
          containers:
          - name: main
            image: busybox:1.36
            command: [sh, -c, "date"]
            env:
            - {name: A, value: b}
            - name: NODE
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
            - name: KEY
              valueFrom: {configMapKeyRef: {name: cm, key: k, optional: true}}
            resources: {limits: {cpu: 100m, memory: 64Mi}, requests: {cpu: 50m}}
            ports: [{containerPort: 8080, name: http}]
            readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 5}
            livenessProbe: {tcpSocket: {port: 8080}}
            volumeMounts: [{name: v, mountPath: /v, readOnly: true}, {name: cfg, mountPath: /cfg}]
          volumes:
          - {name: v, emptyDir: {}}
          - name: cfg
            configMap: {name: cm, items: [{key: k, path: p, mode: 0400}], defaultMode: 0644}
`;

describe('batch kinds with the real kubectl', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let k: Clients;
  let home: string;

  before(async () => {
    cluster = await startTestCluster();
    home = mkdtempSync(join(tmpdir(), 'ketch-kubectl-batch-'));
    k = new Clients(cluster.server.adminKubeconfigPath, home);
  });
  after(async () => {
    await cluster?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('serves CronJobs with kube\'s columns and the short name cj', async () => {
    const file = join(home, 'cj.yaml');
    writeFileSync(file, CRONJOB);
    assert.match(await k.kubectl('create', '-f', file), /cronjob.batch\/nightly created/);
    const table = await k.kubectl('get', 'cj');
    assert.match(table, /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE\n/);
    assert.match(table, /\nnightly\s+0 3 \* \* \*\s+Europe\/Paris\s+False\s+0\s+<none>\s+\d+s\n/);
    assert.match(await k.kubectl('get', 'cronjobs', '-o', 'wide'), /CONTAINERS\s+IMAGES\s+SELECTOR\n.*main\s+busybox:1.36\s+<none>/);
    assert.match(await k.kubectl('api-resources', '--api-group=batch'), /cronjobs\s+cj\s+batch\/v1\s+true\s+CronJob/);
    const bad = await k.kubectlResult(['create', 'cronjob', 'bad', '--image=busybox', '--schedule=* * *']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec.schedule: Invalid value: "\* \* \*": expected exactly 5 fields, found 3/);
    // kubectl create cronjob (a protobuf body) makes what create -f would.
    await k.kubectl('create', 'cronjob', 'made', '--image=busybox:1.36', '--schedule=*/10 * * * *', '--restart=OnFailure', '--', 'date');
    const made = await cluster.rest.resource<CronJob>(CRONJOBS).get('default', 'made');
    assert.equal(made.spec.schedule, '*/10 * * * *');
    assert.deepEqual(made.spec.jobTemplate.spec?.template.spec.containers.map((c) => [c.name, c.image, c.command]), [['made', 'busybox:1.36', ['date']]]);
    assert.equal(made.spec.jobTemplate.spec?.template.spec.restartPolicy, 'OnFailure');
  });

  it('accepts what `kubectl create job --from=cronjob/NAME` sends, the pod template whole', async () => {
    assert.match(await k.kubectl('create', 'job', 'by-hand', '--from=cronjob/nightly'), /job.batch\/by-hand created/);
    const cj = cluster.rest.resource<CronJob>(CRONJOBS);
    const jobs = cluster.rest.resource<Job>(JOBS);
    const source = await cj.get('default', 'nightly');
    const made = await jobs.get('default', 'by-hand');
    assert.equal(made.metadata.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual');
    assert.equal(made.metadata.annotations?.note, 'x');
    assert.equal(made.metadata.labels?.team, 'a');
    const ref = made.metadata.ownerReferences?.[0];
    assert.deepEqual([ref?.kind, ref?.name, ref?.uid, ref?.controller], ['CronJob', 'nightly', source.metadata.uid, true]);
    // The template as stored in the CronJob, field for field; the selector and its labels are the Job's own.
    const want = structuredClone(source.spec.jobTemplate.spec!);
    const got = structuredClone(made.spec);
    delete got.selector;
    for (const key of Object.keys(got.template.metadata?.labels ?? {})) if (/controller-uid|job-name/.test(key)) delete got.template.metadata!.labels![key];
    for (const key of ['completions', 'parallelism', 'completionMode', 'suspend', 'podReplacementPolicy'] as const) delete got[key];
    assert.deepEqual(got, want);
    assert.equal(made.spec.podReplacementPolicy, 'Failed', 'defaulted as a Job with a pod failure policy');
    assert.match(await k.kubectl('get', 'job', 'by-hand'), /by-hand\s+(Running|Suspended)\s+0\/1/);
  });

  it('refuses, with 415 and the field, a protobuf Job with a field it cannot decode', async () => {
    const file = join(home, 'aff.yaml');
    writeFileSync(file, CRONJOB.replace('name: nightly', 'name: affine').replace('          serviceAccountName: default\n', '          serviceAccountName: default\n          affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Exists}]}]}}}\n'));
    await k.kubectl('create', '-f', file);
    const r = await k.kubectlResult(['create', 'job', 'aff', '--from=cronjob/affine']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /PodSpec field 18/);
    const left = await cluster.rest.resource<Job>(JOBS).list('default');
    assert.ok(!left.items.some((j) => j.metadata.name === 'aff'), 'nothing half-decoded was stored');
  });
});
