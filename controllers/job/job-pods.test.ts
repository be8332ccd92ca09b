import assert from 'node:assert/strict';
import type { Pod } from '../framework/types.js';
import { jobPodEncoder, jobPodTemplate, newJobPod } from './job-pods.js';
import type { Job } from './types.js';
import { INDEX_FAILURE_COUNT_ANNOTATION } from './util.js';

const job = (spec: Partial<Job['spec']> = {}): Job => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'j', namespace: 'ns', uid: 'job-uid' },
  spec: {
    completions: 4,
    template: {
      metadata: { labels: { app: 'x' }, annotations: { note: '"\u0000spec" in a value' } },
      spec: { hostname: 'mine', restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1', env: [{ name: 'A', value: '$& $1 "spec"' }] }] },
    },
    ...spec,
  },
});

describe('job pod bodies', () => {
  it('encode the pods newJobPod builds, Indexed or not, with the template encoded once', () => {
    for (const j of [job(), job({ completionMode: 'Indexed' }), job({ completionMode: 'Indexed', backoffLimitPerIndex: 2 })]) {
      const template = jobPodTemplate(j);
      const body = jobPodEncoder(template, j);
      const replaced: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'old', annotations: { [INDEX_FAILURE_COUNT_ANNOTATION]: '1' } }, spec: { containers: [] }, status: { phase: 'Failed' } };
      for (const ix of j.spec.completionMode === 'Indexed' ? [0, 3] : [undefined]) {
        assert.deepEqual(JSON.parse(body(ix)), JSON.parse(JSON.stringify(newJobPod(template, j, ix))));
        assert.deepEqual(JSON.parse(body(ix, replaced)), JSON.parse(JSON.stringify(newJobPod(template, j, ix, replaced))));
      }
    }
  });

  it('give an Indexed pod its own hostname, and leave the template as it was', () => {
    const j = job({ completionMode: 'Indexed' });
    const template = jobPodTemplate(j);
    const before = structuredClone(template);
    const pod = JSON.parse(jobPodEncoder(template, j)(2)) as Pod;
    assert.equal(pod.spec.hostname, 'j-2');
    assert.equal(pod.metadata.generateName, 'j-2-');
    assert.deepEqual(template, before);
  });
});
