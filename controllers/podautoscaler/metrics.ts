// Where the HPA reads pods' resource usage: metrics.k8s.io/v1beta1 PodMetrics, which the API server builds from the
// agents' Summary API (kube's metricsclient.resourceMetricsClient over metrics-server).
import { cpuMillis } from '../../api/quantity.js';
import type { RestClient } from '../../client/rest.js';
import type { PodMetric, PodMetrics } from './replica-calculator.js';

export interface ResourceMetricsSource {
  /** Each matching pod's usage of the resource (summed over its containers, or of one container), in milli-units. */
  podMetrics(namespace: string, labelSelector: string, resource: string, container?: string): Promise<PodMetrics>;
}

export interface PodMetricsItem {
  metadata?: { name?: string };
  timestamp?: string;
  window?: string;
  containers?: { name?: string; usage?: Record<string, string> }[];
}

/** "10s", "1m30s", "500ms" as metav1.Duration prints them, in ms (0 when unreadable). */
function durationMs(s: string | undefined): number {
  let total = 0;
  for (const m of (s ?? '').matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(m[1]) * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const)[m[2] as 'h' | 'm' | 's' | 'ms'];
  return total;
}

/** One pod's sample: undefined when a container lacks the resource (kube leaves such pods out, as missing). */
function sampleOf(item: PodMetricsItem, resource: string, container: string | undefined): PodMetric | undefined {
  const containers = (item.containers ?? []).filter((c) => !container || c.name === container);
  if (!containers.length) return undefined;
  let value = 0;
  for (const c of containers) {
    const q = c.usage?.[resource];
    if (q === undefined) return undefined;
    value += cpuMillis(q);
  }
  return { value, timestampMs: Date.parse(item.timestamp ?? '') || 0, windowMs: durationMs(item.window) };
}

/** The samples of a PodMetrics list (kube's GetResourceMetric); throws when there are none. */
export function podMetricsOf(items: PodMetricsItem[], resource: string, container?: string): PodMetrics {
  const out: PodMetrics = new Map();
  for (const item of items) {
    const sample = sampleOf(item, resource, container);
    if (sample && item.metadata?.name) out.set(item.metadata.name, sample);
  }
  if (!out.size) throw new Error(`no metrics returned from resource metrics API`);
  return out;
}

/** The metrics.k8s.io API of this cluster. */
export class MetricsApiSource implements ResourceMetricsSource {
  constructor(private readonly rest: RestClient) {}

  async podMetrics(namespace: string, labelSelector: string, resource: string, container?: string): Promise<PodMetrics> {
    const list = await this.rest.request<{ items?: PodMetricsItem[] }>('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`, { query: { labelSelector } });
    return podMetricsOf(list.items ?? [], resource, container);
  }
}
