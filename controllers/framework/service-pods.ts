// What the Endpoints and EndpointSlice controllers share: which pods a service selects and which services select a pod
// (through label indexes, so that a pod change costs the services it belongs to, not a scan of every pod), a service
// port's number on a pod (named ports resolved per pod), and kube's rules for which pods are endpoints.
import { deepEqual } from '../../api/field.js';
import { keyOf, type Informer } from '../../client/informer.js';
import { ensureIndex } from './controller.js';
import { isPodReady, podReadyCondition } from './pods.js';
import type { Pod, Service, ServicePort } from './types.js';

/** Pods indexed by "namespace/key=value" for each label. */
export const POD_LABEL_INDEX = 'namespace-label';
/** Services indexed by "namespace/key=value" for each selector term. */
export const SERVICE_SELECTOR_INDEX = 'namespace-selector';

const pairs = (ns: string, m: Record<string, string> | undefined): string[] => Object.entries(m ?? {}).map(([k, v]) => `${ns}/${k}=${v}`);

export function indexServicesAndPods(services: Informer<Service>, pods: Informer<Pod>): void {
  // Equal labels are one shared object in the cache (client/string-pool.ts): the same on both sides, no reindexing.
  ensureIndex(pods, POD_LABEL_INDEX, (p) => pairs(p.metadata.namespace ?? '', p.metadata.labels), (a, b) => a.metadata.labels === b.metadata.labels);
  ensureIndex(services, SERVICE_SELECTOR_INDEX, (s) => pairs(s.metadata.namespace ?? '', s.spec?.selector), (a, b) => a.spec?.selector === b.spec?.selector);
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}

/** The pods a service's selector matches: read from the smallest label bucket, so the cost is about the endpoints. */
export function podsForService(pods: Informer<Pod>, svc: Service): Pod[] {
  const ns = svc.metadata.namespace ?? '';
  const selector = svc.spec?.selector;
  if (!selector) return [];
  const terms = pairs(ns, selector);
  if (terms.length === 0) return pods.indexer.byIndex('namespace', ns); // {} selects every pod of the namespace
  let smallest: Pod[] | undefined;
  for (const t of terms) {
    const bucket = pods.indexer.byIndex(POD_LABEL_INDEX, t);
    if (!smallest || bucket.length < smallest.length) smallest = bucket;
    if (bucket.length === 0) break;
  }
  return (smallest ?? []).filter((p) => selects(selector, p.metadata.labels));
}

/** The services whose selector matches a pod (getPodServiceMemberships). */
export function servicesForPod(services: Informer<Service>, pod: Pod): Service[] {
  const ns = pod.metadata.namespace ?? '';
  // Most pods' namespaces have no service: every pod event asks, twice (Endpoints and EndpointSlice controllers).
  if (services.indexer.countByIndex('namespace', ns) === 0) return [];
  const candidates = new Map<string, Service>();
  for (const t of pairs(ns, pod.metadata.labels)) for (const s of services.indexer.byIndex(SERVICE_SELECTOR_INDEX, t)) candidates.set(keyOf(s), s);
  // Services with an empty selector select every pod of the namespace; they have no index entry.
  for (const s of services.indexer.byIndex('namespace', ns)) if (s.spec?.selector && Object.keys(s.spec.selector).length === 0) candidates.set(keyOf(s), s);
  return [...candidates.values()].filter((s) => s.spec?.selector && selects(s.spec.selector, pod.metadata.labels));
}

/** What an endpoint is made of: a change elsewhere in a pod (its status' container states, say) changes no endpoint. */
function endpointDigest(p: Pod): string {
  const ports = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].map((c) => c.ports ?? []);
  return JSON.stringify([
    p.status?.podIP, p.status?.podIPs, p.status?.phase, isPodReady(p), podReadyCondition(p)?.lastTransitionTime, p.metadata.deletionTimestamp,
    p.spec?.nodeName, p.spec?.hostname, p.spec?.subdomain, ports,
  ]);
}

/** GetServicesToUpdateOnPodChange: the services of old and new when labels changed, else of new if its endpoint did. */
export function servicesToUpdateOnPodChange(services: Informer<Service>, old: Pod, cur: Pod): Service[] {
  if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return [];
  if (services.indexer.countByIndex('namespace', cur.metadata.namespace ?? '') === 0) return [];
  const labelsChanged = !deepEqual(old.metadata.labels ?? {}, cur.metadata.labels ?? {});
  const endpointChanged = endpointDigest(old) !== endpointDigest(cur);
  if (!labelsChanged) return endpointChanged ? servicesForPod(services, cur) : [];
  const out = new Map<string, Service>();
  const before = servicesForPod(services, old);
  const after = servicesForPod(services, cur);
  const afterKeys = new Set(after.map(keyOf));
  const beforeKeys = new Set(before.map(keyOf));
  // Services that gained or lost the pod always; those that kept it only when its endpoint changed.
  for (const s of before) if (!afterKeys.has(keyOf(s)) || endpointChanged) out.set(keyOf(s), s);
  for (const s of after) if (!beforeKeys.has(keyOf(s)) || endpointChanged) out.set(keyOf(s), s);
  return [...out.values()];
}

/** Wires pod events to `enqueue(serviceKey)` for the services each change touches. */
export function enqueueServicesOfPods(services: Informer<Service>, pods: Informer<Pod>, enqueue: (svc: Service) => void): void {
  pods.addEventHandler({
    onAdd: (pod) => servicesForPod(services, pod).forEach(enqueue),
    onUpdate: (old, cur) => servicesToUpdateOnPodChange(services, old, cur).forEach(enqueue),
    onDelete: (pod) => servicesForPod(services, pod).forEach(enqueue),
  });
}

/** FindPort: a numeric targetPort as is, a named one looked up in the pod's containers (and restartable init containers). */
export function findPort(pod: Pod, port: ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = port.protocol ?? 'TCP';
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  for (const c of [...(pod.spec?.containers ?? []), ...sidecars]) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** ShouldPodBeInEndpoints: not terminal, has an IP, and (unless includeTerminating) not being deleted. */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  if (!pod.status?.podIP && !(pod.status?.podIPs ?? []).length) return false;
  return includeTerminating || !pod.metadata.deletionTimestamp;
}

/** ShouldSetHostname: a pod with a hostname in the subdomain named after the service gets its DNS name. */
export function shouldSetHostname(pod: Pod, svc: Service): boolean {
  return !!pod.spec?.hostname && pod.spec.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace;
}

/** The pod's IPv4 addresses (status.podIPs, or status.podIP). */
export function podIPv4s(pod: Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((x) => x.ip);
  if (!ips.length && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips.filter((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip));
}

/** Whether the service has a cluster IP (not headless, not ExternalName). */
export const isServiceIPSet = (svc: Service): boolean => !!svc.spec?.clusterIP && svc.spec.clusterIP !== 'None';

/**
 * TriggerTimeTracker: the last-change-trigger-time of a service's endpoints, the earliest time among the changes (pod
 * readiness transitions, the service's creation) not yet reflected in a write. Keeps per service the times it saw;
 * unlike kube's, the times are kept only once the write went through (commit), so a retried write keeps its time.
 */
export class TriggerTimeTracker {
  private readonly state = new Map<string, { service: string; pods: Map<string, string> }>();

  /** The trigger time to write (undefined when nothing with a time changed), and commit() once it is written. */
  compute(svc: Service, pods: Pod[]): { time: string | undefined; commit(): void } {
    const key = keyOf(svc);
    const prev = this.state.get(key);
    const next = { service: svc.metadata.creationTimestamp ?? '', pods: new Map<string, string>() };
    let min: string | undefined;
    const consider = (t: string): void => {
      if (t && (min === undefined || Date.parse(t) < Date.parse(min))) min = t;
    };
    for (const p of pods) {
      const t = podReadyCondition(p)?.lastTransitionTime ?? '';
      next.pods.set(p.metadata.name ?? '', t);
      if (!prev || prev.pods.get(p.metadata.name ?? '') !== t) consider(t);
    }
    if (!prev || prev.service !== next.service) consider(next.service);
    return { time: min, commit: () => void this.state.set(key, next) };
  }

  delete(key: string): void {
    this.state.delete(key);
  }
}
