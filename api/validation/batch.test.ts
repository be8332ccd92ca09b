// Job and CronJob validation with kube's field paths and messages.
import assert from 'node:assert/strict';
import { applyDefaults } from '../defaults.js';
import type { StatusCause } from '../errors.js';
import { examples } from '../../test/support/api-examples.js';
import type { KubeObject } from '../schemas/meta.js';
import { validateObject } from './index.js';

const create = (obj: object): StatusCause[] => validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'create' });
const update = (obj: object, old: object): StatusCause[] =>
  validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'update', old: applyDefaults(structuredClone(old) as KubeObject) });
const sorted = (...l: string[]): string[] => l.sort();
const lines = (causes: StatusCause[]): string[] => causes.map((c) => `${c.field}: ${c.message}`).sort();

describe('batch validation', () => {
  it('defaults a Job as kube does', () => {
    const j = applyDefaults(examples.job());
    assert.equal(j.spec.completions, 1);
    assert.equal(j.spec.parallelism, 1);
    assert.equal(j.spec.completionMode, 'NonIndexed');
    assert.equal(j.spec.podReplacementPolicy, 'TerminatingOrFailed');
    assert.deepEqual(j.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': j.metadata.uid } });
    assert.equal(j.spec.template.metadata?.labels?.['controller-uid'], j.metadata.uid);
    assert.equal(j.spec.template.metadata?.labels?.['job-name'], 'pi');
    const withPolicy = examples.job();
    withPolicy.spec.podFailurePolicy = { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] };
    const d = applyDefaults(withPolicy);
    assert.equal(d.spec.podReplacementPolicy, 'Failed');
    assert.equal(d.spec.podFailurePolicy?.rules[0]?.onPodConditions?.[0]?.status, 'True');
    const perIndex = examples.job();
    Object.assign(perIndex.spec, { completionMode: 'Indexed', completions: 3, backoffLimitPerIndex: 1, backoffLimit: undefined });
    assert.equal(applyDefaults(perIndex).spec.backoffLimit, 2147483647);
  });

  it('checks a generated selector: a selector without manualSelector gets the uid and must select only it', () => {
    const j = examples.job();
    j.spec.selector = { matchLabels: { app: 'pi' } };
    j.spec.template.metadata = { labels: { app: 'pi', 'job-name': 'other' } };
    const d = applyDefaults(structuredClone(j));
    assert.equal(d.spec.selector?.matchLabels?.['batch.kubernetes.io/controller-uid'], j.metadata.uid);
    assert.deepEqual(lines(create(j)), [
      `spec.selector: Invalid value: {"matchLabels":{"app":"pi","batch.kubernetes.io/controller-uid":"${j.metadata.uid}"}}: \`selector\` not auto-generated`,
      `spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"app":"pi", "batch.kubernetes.io/controller-uid":"${j.metadata.uid}", "batch.kubernetes.io/job-name":"pi", "controller-uid":"${j.metadata.uid}", "job-name":"other"}: must be 'pi'`,
    ]);
    const manual = examples.job();
    Object.assign(manual.spec, { manualSelector: true, selector: { matchLabels: { app: 'pi' } }, template: { ...manual.spec.template, metadata: { labels: { app: 'pi' } } } });
    assert.deepEqual(lines(create(manual)), []);
    assert.equal(applyDefaults(structuredClone(manual)).spec.selector?.matchLabels?.['batch.kubernetes.io/controller-uid'], undefined);
  });

  it('checks the pod failure policy', () => {
    const j = examples.job();
    j.spec.podFailurePolicy = {
      rules: [
        { action: 'FailIndex', onExitCodes: { operator: 'In', values: [0, 3, 2, 2] } },
        { action: 'Explode', onExitCodes: { containerName: 'nope', operator: 'Between', values: [] } },
        { action: 'Ignore' },
        { action: 'Count', onExitCodes: { operator: 'In', values: [1] }, onPodConditions: [{ type: 'bad type!', status: 'Maybe' }] },
      ],
    };
    assert.deepEqual(lines(create(j)), sorted(
      'spec.podFailurePolicy.rules[0].action: Forbidden: requires the backoffLimitPerIndex to be set',
      'spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator',
      'spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Invalid value: 2: must be ordered',
      'spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Duplicate value: 2',
      'spec.podFailurePolicy.rules[1].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore"',
      'spec.podFailurePolicy.rules[1].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template',
      'spec.podFailurePolicy.rules[1].onExitCodes.operator: Unsupported value: "Between": supported values: "In", "NotIn"',
      'spec.podFailurePolicy.rules[1].onExitCodes.values: Required value: at least one value is required',
      'spec.podFailurePolicy.rules[2]: Invalid value: "": specifying one of OnExitCodes and OnPodConditions is required',
      'spec.podFailurePolicy.rules[3]: Invalid value: "": specifying both OnExitCodes and OnPodConditions is not supported',
      'spec.podFailurePolicy.rules[3].onPodConditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown"',
      "spec.podFailurePolicy.rules[3].onPodConditions[0].type: Invalid value: \"bad type!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ));
    const onFailure = examples.job();
    onFailure.spec.template.spec.restartPolicy = 'OnFailure';
    onFailure.spec.podFailurePolicy = { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] };
    assert.deepEqual(lines(create(onFailure)), ['spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified']);
  });

  it('checks per-index limits and the success policy', () => {
    const j = examples.job();
    Object.assign(j.spec, { completions: 4, maxFailedIndexes: 5, successPolicy: { rules: [{ succeededIndexes: '0-1' }] } });
    assert.deepEqual(lines(create(j)), sorted(
      'spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified',
      'spec.successPolicy: Invalid value: {"rules":[{"succeededIndexes":"0-1"}]}: requires indexed completion mode',
    ));
    const k = examples.job();
    Object.assign(k.spec, { completionMode: 'Indexed', completions: 4, backoffLimitPerIndex: 1, maxFailedIndexes: 5, successPolicy: { rules: [{ succeededIndexes: '3,1', succeededCount: 9 }, {}, { succeededIndexes: '0-2', succeededCount: 4 }] } });
    assert.deepEqual(lines(create(k)), sorted(
      'spec.maxFailedIndexes: Invalid value: 5: must be less than or equal to completions',
      'spec.successPolicy.rules[0].succeededCount: Invalid value: 9: must be less than or equal to 4 (the number of specified completions)',
      'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "3,1": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1',
      'spec.successPolicy.rules[1]: Required value: at least one of succeededCount or succeededIndexes must be specified',
      'spec.successPolicy.rules[2].succeededCount: Invalid value: 4: must be less than or equal to 3 (the number of indexes in the specified succeededIndexes field)',
    ));
  });

  it('keeps the policies immutable and lets an Indexed Job scale completions with parallelism', () => {
    const old = examples.job();
    Object.assign(old.spec, { completionMode: 'Indexed', completions: 3, parallelism: 3 });
    const next = structuredClone(old);
    Object.assign(next.spec, { completions: 5, parallelism: 5 });
    assert.deepEqual(lines(update(next, old)), []);
    Object.assign(next.spec, { completions: 6, parallelism: 5, podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] }, podReplacementPolicy: 'Failed' });
    assert.deepEqual(lines(update(next, old)), sorted(
      'spec.completions: Invalid value: 6: can only be modified in tandem with spec.parallelism',
      'spec.podFailurePolicy: Invalid value: {"rules":[{"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]}]}: field is immutable',
    ));
  });

  it('accepts a CronJob and defaults it as kube does', () => {
    const cj = applyDefaults(examples.cronJob());
    assert.equal(cj.spec.suspend, false);
    assert.equal(cj.spec.successfulJobsHistoryLimit, 3);
    assert.equal(cj.spec.failedJobsHistoryLimit, 1);
    assert.equal(cj.spec.jobTemplate.spec?.completions, undefined, 'the template is not defaulted as a Job');
    assert.deepEqual(create(examples.cronJob()), []);
  });

  it('checks a CronJob schedule, zone, name and template', () => {
    const cj = examples.cronJob();
    cj.metadata.name = 'x'.repeat(53);
    cj.spec.schedule = '* * * *';
    cj.spec.timeZone = 'Mars/Olympus';
    cj.spec.startingDeadlineSeconds = -1;
    cj.spec.jobTemplate.spec!.manualSelector = true;
    cj.spec.jobTemplate.spec!.template.spec.restartPolicy = 'Always';
    assert.deepEqual(lines(create(cj)), sorted(
      'metadata.name: Invalid value: "' + 'x'.repeat(53) + '": must be no more than 52 characters',
      'spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"',
      'spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
      'spec.schedule: Invalid value: "* * * *": expected exactly 5 fields, found 4: [* * * *]',
      'spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0',
      'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
    ));
    const tz = examples.cronJob();
    tz.spec.schedule = 'TZ=Etc/UTC 0 * * * *';
    assert.deepEqual(lines(create(tz)), ['spec.schedule: Invalid value: "TZ=Etc/UTC 0 * * * *": cannot use both timeZone field and TZ or CRON_TZ in schedule']);
    delete tz.spec.timeZone;
    assert.deepEqual(lines(create(tz)), ['spec.schedule: Invalid value: "TZ=Etc/UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']);
    const local = examples.cronJob();
    local.spec.timeZone = 'Local';
    assert.deepEqual(lines(create(local)), ['spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones']);
  });
});
