// Labeled counters and histograms for the request path, scraped through prom-client's Registry with the text its own
// Counter and Histogram give, but without their work on every observation (label validation, a hash of the sorted
// labels, a copy of the label object): a series is found by its label values joined into one string. The API server
// observes a request and one or more storage calls for every request, so that work is paid per write.
import type { Metric, Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

/** One series' key: its label values in the metric's label order (label values never hold NUL). */
function keyOf<L extends string>(names: readonly L[], labels: Labels<L>): string {
  let key = '';
  for (const n of names) key += `${labels[n]}\u0000`;
  return key;
}

/** The labels of a new series, in the metric's label order (as prom-client prints them). */
function pick<L extends string>(names: readonly L[], labels: Labels<L>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = labels[n];
  return out;
}

/** What prom-client's Registry reads from a metric at a scrape (its Counter and Histogram give the same). */
interface Scraped {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
  aggregator: 'sum';
}

abstract class Series<L extends string, S> {
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    // The registry keeps any object that answers get() and reset(), as it keeps its own metrics.
    registry.registerMetric(this as unknown as Metric);
  }

  protected at(labels: Labels<L>, make: (labels: Record<string, string>) => S): S {
    const key = keyOf(this.labelNames, labels);
    let s = this.series.get(key);
    if (s === undefined) this.series.set(key, (s = make(pick(this.labelNames, labels))));
    return s;
  }

  abstract get(): Scraped;

  reset(): void {
    this.series.clear();
  }
}

/** A counter, as prom-client's Counter prints it. */
export class LabeledCounter<L extends string> extends Series<L, { labels: Record<string, string>; value: number }> {
  inc(labels: Labels<L>): void {
    this.at(labels, (l) => ({ labels: l, value: 0 })).value++;
  }

  get(): Scraped {
    return { name: this.name, help: this.help, type: 'counter', values: [...this.series.values()].map((s) => ({ value: s.value, labels: s.labels })), aggregator: 'sum' };
  }
}

interface HistogramSeries {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative): the first bound at least the value. */
  counts: number[];
  sum: number;
  count: number;
}

/** A histogram with fixed bucket bounds, as prom-client's Histogram prints it (le first, then the labels). */
export class LabeledHistogram<L extends string> extends Series<L, HistogramSeries> {
  constructor(name: string, help: string, labelNames: readonly L[], private readonly buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
  }

  observe(labels: Labels<L>, value: number): void {
    const s = this.at(labels, (l) => ({ labels: l, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        s.counts[i]!++;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }

  get(): Scraped {
    const values: Scraped['values'] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: bucket });
      });
      values.push(
        { labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket },
        { labels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: s.labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}
