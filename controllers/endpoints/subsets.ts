// The core/v1 Endpoints of a service, pure (pkg/controller/endpoint syncService + pkg/api/v1/endpoints RepackSubsets):
// one address per pod under each port mapping it resolves, ready pods in `addresses`, the others in
// `notReadyAddresses` (all in `addresses` with publishNotReadyAddresses), subsets merged by identical ports and sorted,
// at most 1,000 addresses in all.
import { isPodReady } from '../framework/pods.js';
import { findPort, podIPv4s, shouldPodBeInEndpoints, shouldSetHostname } from '../framework/service-pods.js';
import type { EndpointAddress, EndpointPort, EndpointSubset, Pod, Service } from '../framework/types.js';

/** kube's maxCapacity: past this many addresses the Endpoints are cut and annotated. */
export const MAX_ENDPOINT_ADDRESSES = 1000;

function podAddress(pod: Pod, svc: Service): EndpointAddress | undefined {
  const ip = podIPv4s(pod)[0];
  if (!ip) return undefined;
  return {
    ip,
    ...(shouldSetHostname(pod, svc) ? { hostname: pod.spec?.hostname } : {}),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
}

const portsKey = (ports: EndpointPort[]): string =>
  JSON.stringify(ports.map((p) => [p.name ?? '', p.port, p.protocol ?? 'TCP', p.appProtocol ?? '']).sort());

/** LessEndpointAddress: by IP as bytes, then target uid. */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byAddress = (a: EndpointAddress, b: EndpointAddress): number => cmp(a.ip, b.ip) || cmp(a.targetRef?.uid ?? '', b.targetRef?.uid ?? '');

/** The subsets of a service's Endpoints, and whether they were cut to MAX_ENDPOINT_ADDRESSES. */
export function endpointSubsets(svc: Service, pods: Pod[]): { subsets: EndpointSubset[]; truncated: boolean } {
  const tolerateUnready = svc.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  const add = (ports: EndpointPort[], addr: EndpointAddress, ready: boolean): void => {
    const key = portsKey(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, ready: [], notReady: [] }));
    (ready ? g.ready : g.notReady).push(addr);
  };
  const headlessWithoutPorts = (svc.spec?.ports ?? []).length === 0 && svc.spec?.clusterIP === 'None';
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, tolerateUnready)) continue;
    const addr = podAddress(pod, svc);
    if (!addr) continue;
    const ready = tolerateUnready || isPodReady(pod);
    if (headlessWithoutPorts) {
      add([], addr, ready);
      continue;
    }
    // Each port on its own, then repacked: a pod missing a named port still serves the others.
    for (const sp of svc.spec?.ports ?? []) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      add([{ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) }], addr, ready);
    }
  }
  return repack(groups);
}

/** RepackSubsets: addresses with the same set of ports share one subset. */
function repack(groups: Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>): { subsets: EndpointSubset[]; truncated: boolean } {
  // address identity -> its ports, ready or not
  const perAddress = new Map<string, { addr: EndpointAddress; ready: boolean; ports: EndpointPort[] }>();
  for (const g of groups.values()) {
    for (const [list, ready] of [[g.ready, true], [g.notReady, false]] as const) {
      for (const addr of list) {
        const id = `${addr.ip}/${addr.targetRef?.uid ?? ''}/${String(ready)}`;
        const entry = perAddress.get(id) ?? { addr, ready, ports: [] };
        entry.ports.push(...g.ports);
        perAddress.set(id, entry);
      }
    }
  }
  const subsets = new Map<string, EndpointSubset>();
  for (const { addr, ready, ports } of perAddress.values()) {
    const sorted = [...ports].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port);
    const key = portsKey(sorted);
    let s = subsets.get(key);
    if (!s) subsets.set(key, (s = { ...(sorted.length ? { ports: sorted } : {}) }));
    (ready ? (s.addresses ??= []) : (s.notReadyAddresses ??= [])).push(addr);
  }
  const out = [...subsets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, s]) => s);
  for (const s of out) {
    s.addresses?.sort(byAddress);
    s.notReadyAddresses?.sort(byAddress);
  }
  return truncate(out);
}

/** Keeps at most MAX_ENDPOINT_ADDRESSES addresses, ready ones first (truncateEndpoints keeps the mix; simpler here). */
function truncate(subsets: EndpointSubset[]): { subsets: EndpointSubset[]; truncated: boolean } {
  const total = subsets.reduce((n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
  if (total <= MAX_ENDPOINT_ADDRESSES) return { subsets, truncated: false };
  let budget = MAX_ENDPOINT_ADDRESSES;
  const take = (list: EndpointAddress[] | undefined): EndpointAddress[] | undefined => {
    if (!list) return undefined;
    const kept = list.slice(0, Math.max(0, budget));
    budget -= kept.length;
    return kept.length ? kept : undefined;
  };
  const ready = subsets.map((s) => take(s.addresses));
  const cut = subsets
    .map((s, i) => {
      const addresses = ready[i];
      const notReadyAddresses = take(s.notReadyAddresses);
      return { ...(addresses ? { addresses } : {}), ...(notReadyAddresses ? { notReadyAddresses } : {}), ...(s.ports ? { ports: s.ports } : {}) };
    })
    .filter((s) => s.addresses || s.notReadyAddresses);
  return { subsets: cut, truncated: true };
}

/** Subsets equal for the controller's purpose (endpointSubsetsEqualIgnoreResourceVersion). */
export function subsetsEqual(a: EndpointSubset[] | undefined, b: EndpointSubset[] | undefined): boolean {
  const norm = (s: EndpointSubset[] | undefined): string =>
    JSON.stringify(
      (s ?? []).map((x) => [
        (x.addresses ?? []).map((a) => [a.ip, a.hostname, a.nodeName, a.targetRef?.kind, a.targetRef?.namespace, a.targetRef?.name, a.targetRef?.uid]),
        (x.notReadyAddresses ?? []).map((a) => [a.ip, a.hostname, a.nodeName, a.targetRef?.kind, a.targetRef?.namespace, a.targetRef?.name, a.targetRef?.uid]),
        (x.ports ?? []).map((p) => [p.name ?? '', p.port, p.protocol ?? 'TCP', p.appProtocol ?? '']),
      ]),
    );
  return norm(a) === norm(b);
}
