import { strict as assert } from 'node:assert';
import { Counter, Histogram, Registry } from 'prom-client';
import { LabeledCounter, LabeledHistogram } from './series.js';

const BUCKETS = [0.005, 0.025, 0.1, 1];
const LABELS = ['verb', 'resource'] as const;

describe('LabeledCounter and LabeledHistogram', () => {
  it('scrape as the same text as prom-client Counter and Histogram given the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counter = new LabeledCounter('requests_total', 'Requests.', [...LABELS, 'code'], ours);
    const histogram = new LabeledHistogram('request_seconds', 'Latency.', LABELS, BUCKETS, ours);
    const promCounter = new Counter({ name: 'requests_total', help: 'Requests.', labelNames: [...LABELS, 'code'], registers: [theirs] });
    const promHistogram = new Histogram({ name: 'request_seconds', help: 'Latency.', labelNames: LABELS, buckets: BUCKETS, registers: [theirs] });
    // Values on the bounds, between them and past the last; label values that need escaping; labels in another order.
    const seen: [Record<(typeof LABELS)[number], string>, number][] = [
      [{ verb: 'POST', resource: 'pods' }, 0.005],
      [{ verb: 'POST', resource: 'pods' }, 0.0051],
      [{ resource: 'pods', verb: 'POST' }, 3],
      [{ verb: 'GET', resource: 'a"b\\c\nd' }, 0],
      [{ verb: 'GET', resource: '' }, 1],
      [{ verb: 'POST', resource: 'pods' }, 0.1],
    ];
    for (const [labels, value] of seen) {
      counter.inc({ ...labels, code: '201' });
      promCounter.inc({ ...labels, code: '201' });
      histogram.observe(labels, value);
      promHistogram.observe(labels, value);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.match(await ours.metrics(), /request_seconds_bucket\{le="0.1",verb="POST",resource="pods"\} 3\n/);
    ours.resetMetrics();
    theirs.resetMetrics();
    assert.equal(await ours.metrics(), await theirs.metrics());
  });
});
