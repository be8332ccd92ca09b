// The EndpointSlice reconciler (k8s.io/endpointslice reconciler.go), pure: from a service, the pods it selects and its
// existing slices, the slices to create, update and delete. Endpoints are grouped by their port mapping (named ports
// can resolve differently per pod); an endpoint that did not change stays in its slice, a slice whose endpoints did
// not change is not written, new endpoints fill the slices being written anyway before any other, and a service
// without endpoints keeps one empty placeholder slice.
import { HEADLESS_SERVICE_LABEL, LAST_CHANGE_TRIGGER_TIME_ANNOTATION, TOPOLOGY_ZONE_LABEL } from '../../api/annotations.js';
import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME } from '../../api/schemas/discovery.js';
import { isPodReady } from '../framework/pods.js';
import { findPort, isServiceIPSet, podIPv4s, shouldPodBeInEndpoints, shouldSetHostname } from '../framework/service-pods.js';
import type { Endpoint, EndpointSlice, EndpointSlicePort, Node, Pod, Service } from '../framework/types.js';

export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
export const DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100;

export interface ReconcileInput {
  service: Service;
  pods: Pod[];
  /** The node of a pod by name (for its zone); undefined when the node is not known. */
  node: (name: string) => Node | undefined;
  /** The service's slices managed by this controller (any owner: slices of an older service of that name go). */
  existing: EndpointSlice[];
  maxEndpointsPerSlice?: number;
  /** RFC 3339; written on every slice created or updated (removed when undefined). */
  triggerTime?: string;
}

export interface ReconcileResult {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
  /** Pods left out because their node is not known yet: the service should be synced again. */
  skippedPods: string[];
}

const RESERVED = new Set([LABEL_SERVICE_NAME, LABEL_MANAGED_BY, HEADLESS_SERVICE_LABEL]);

/** The endpoint a pod is for a service (podToEndpoint). */
export function podToEndpoint(pod: Pod, node: Node | undefined, svc: Service): Endpoint {
  const serving = isPodReady(pod);
  const terminating = !!pod.metadata.deletionTimestamp;
  const ready = svc.spec?.publishNotReadyAddresses === true || (serving && !terminating);
  const zone = node?.metadata.labels?.[TOPOLOGY_ZONE_LABEL];
  return {
    addresses: podIPv4s(pod).slice(0, 1),
    conditions: { ready, serving, terminating },
    ...(shouldSetHostname(pod, svc) ? { hostname: pod.spec?.hostname } : {}),
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    ...(zone ? { zone } : {}),
  };
}

/** getEndpointPorts: each service port resolved on this pod; a named port the pod lacks is left out. */
export function endpointPorts(svc: Service, pod: Pod): EndpointSlicePort[] {
  const out: EndpointSlicePort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    out.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
  }
  return out;
}

/** A key for a set of ports, independent of order (NewPortMapKey). */
export function portMapKey(ports: EndpointSlicePort[] | undefined): string {
  const norm = (ports ?? []).map((p) => [p.name ?? '', p.port ?? 0, p.protocol ?? 'TCP', p.appProtocol ?? '']);
  return JSON.stringify(norm.sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1])));
}

/** What identifies an endpoint (hashEndpoint): its addresses, hostname and target. */
export function endpointKey(ep: Endpoint): string {
  return JSON.stringify([[...ep.addresses].sort(), ep.hostname ?? '', ep.targetRef?.namespace ?? '', ep.targetRef?.name ?? '']);
}

/** Everything else about an endpoint, in a fixed order (EndpointsEqualBeyondHash). */
function endpointDetail(ep: Endpoint): string {
  const c = ep.conditions ?? {};
  const t = ep.targetRef ?? {};
  return JSON.stringify([c.ready, c.serving, c.terminating, ep.nodeName, ep.zone, ep.hints, t.kind, t.uid, ep.deprecatedTopology]);
}

/** The slice's labels: the service's own ones plus the reserved ones; and whether the service's own ones changed. */
function sliceLabels(slice: EndpointSlice | undefined, svc: Service): { labels: Record<string, string>; changed: boolean } {
  const own = Object.fromEntries(Object.entries(svc.metadata.labels ?? {}).filter(([k]) => !RESERVED.has(k)));
  const had = Object.fromEntries(Object.entries(slice?.metadata.labels ?? {}).filter(([k]) => !RESERVED.has(k)));
  const changed = JSON.stringify(Object.entries(own).sort()) !== JSON.stringify(Object.entries(had).sort());
  const labels: Record<string, string> = { ...own, [LABEL_SERVICE_NAME]: svc.metadata.name ?? '', [LABEL_MANAGED_BY]: CONTROLLER_NAME };
  if (!isServiceIPSet(svc)) labels[HEADLESS_SERVICE_LABEL] = '';
  return { labels, changed };
}

const ownedBy = (slice: EndpointSlice, svc: Service): boolean =>
  (slice.metadata.ownerReferences ?? []).some((r) => r.uid === svc.metadata.uid && r.kind === 'Service' && r.apiVersion === 'v1');

/** The address type the service's endpoints get: only IPv4 here (pods have IPv4 addresses). */
function addressTypeOf(svc: Service): string {
  const families = svc.spec?.ipFamilies;
  if (families?.length) return families[0] === 'IPv6' ? 'IPv6' : 'IPv4';
  return svc.spec?.clusterIP?.includes(':') ? 'IPv6' : 'IPv4';
}

function newSlice(svc: Service, ports: EndpointSlicePort[], addressType: string): EndpointSlice {
  const name = svc.metadata.name ?? '';
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${name}-`,
      namespace: svc.metadata.namespace,
      labels: sliceLabels(undefined, svc).labels,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    addressType,
    endpoints: [],
    ports,
  };
}

/** The endpoints each port mapping should have, in pod-name order (the order new endpoints are placed in). */
function desiredEndpoints(input: ReconcileInput): { byPortMap: Map<string, { ports: EndpointSlicePort[]; endpoints: Map<string, Endpoint> }>; skippedPods: string[] } {
  const { service: svc } = input;
  const byPortMap = new Map<string, { ports: EndpointSlicePort[]; endpoints: Map<string, Endpoint> }>();
  const skippedPods: string[] = [];
  const headlessWithoutPorts = (svc.spec?.ports ?? []).length === 0 && svc.spec?.clusterIP === 'None';
  const pods = [...input.pods].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ports = headlessWithoutPorts ? [] : endpointPorts(svc, pod);
    const key = portMapKey(ports);
    let group = byPortMap.get(key);
    if (!group) byPortMap.set(key, (group = { ports, endpoints: new Map() }));
    const nodeName = pod.spec?.nodeName;
    const node = nodeName ? input.node(nodeName) : undefined;
    // A pod on a node not yet known is left out (and retried), unless the service publishes every address.
    if (nodeName && !node && svc.spec?.publishNotReadyAddresses !== true) {
      skippedPods.push(pod.metadata.name ?? '');
      continue;
    }
    const ep = podToEndpoint(pod, node, svc);
    if (ep.addresses.length) group.endpoints.set(endpointKey(ep), ep);
  }
  return { byPortMap, skippedPods };
}

interface PortMapPlan {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
}

/** reconcileByPortMapping: keep unchanged endpoints in place, fill slices being written first, then new slices. */
function reconcilePortMap(svc: Service, existing: EndpointSlice[], desired: Map<string, Endpoint>, ports: EndpointSlicePort[], addressType: string, max: number): PortMapPlan {
  const toUpdate = new Map<string, EndpointSlice>();
  const unchanged = new Map<string, EndpointSlice>();
  const toDelete: EndpointSlice[] = [];
  // 1. Drop endpoints no longer desired and refresh those that changed.
  for (const slice of existing) {
    const kept: Endpoint[] = [];
    let changed = false;
    for (const ep of slice.endpoints ?? []) {
      const key = endpointKey(ep);
      const want = desired.get(key);
      if (!want) continue;
      kept.push(want);
      if (endpointDetail(want) !== endpointDetail(ep)) changed = true;
      desired.delete(key);
    }
    const { labels, changed: labelsChanged } = sliceLabels(slice, svc);
    if (changed || kept.length !== (slice.endpoints ?? []).length) {
      if (kept.length === 0) toDelete.push(slice);
      else toUpdate.set(slice.metadata.name ?? '', { ...slice, metadata: { ...slice.metadata, labels }, endpoints: kept });
    } else if (labelsChanged) {
      toUpdate.set(slice.metadata.name ?? '', { ...slice, metadata: { ...slice.metadata, labels } });
    } else {
      unchanged.set(slice.metadata.name ?? '', slice);
    }
  }
  const remaining = [...desired.values()];
  // 2. Fill the slices that are written anyway, fullest first.
  for (const slice of [...toUpdate.values()].sort((a, b) => b.endpoints.length - a.endpoints.length)) {
    while (remaining.length && slice.endpoints.length < max) slice.endpoints.push(remaining.shift()!);
  }
  // 3. The rest: into the one unchanged slice they fit best, or new slices.
  const create: EndpointSlice[] = [];
  while (remaining.length) {
    let target: EndpointSlice | undefined;
    if (remaining.length < max) {
      let best = max;
      for (const s of unchanged.values()) {
        const diff = max - (remaining.length + s.endpoints.length);
        if (diff >= 0 && diff < best) {
          best = diff;
          target = s;
        }
      }
    }
    if (target) {
      unchanged.delete(target.metadata.name ?? '');
      target = { ...target, endpoints: [...target.endpoints] };
      toUpdate.set(target.metadata.name ?? '', target);
    } else {
      target = newSlice(svc, ports, addressType);
      create.push(target);
    }
    while (remaining.length && target.endpoints.length < max) target.endpoints.push(remaining.shift()!);
  }
  return { create, update: [...toUpdate.values()], delete: toDelete };
}

/** The writes that bring the service's slices to the desired state (Reconcile + finalize). */
export function reconcileSlices(input: ReconcileInput): ReconcileResult {
  const { service: svc } = input;
  const max = input.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE;
  const addressType = addressTypeOf(svc);
  const plan: PortMapPlan = { create: [], update: [], delete: [] };
  // Slices of another address type, or owned by another object (an older service of the same name), go.
  const existingByPortMap = new Map<string, EndpointSlice[]>();
  for (const slice of input.existing) {
    if (slice.addressType !== addressType || !ownedBy(slice, svc)) {
      plan.delete.push(slice);
      continue;
    }
    const key = portMapKey(slice.ports);
    existingByPortMap.set(key, [...(existingByPortMap.get(key) ?? []), slice]);
  }
  const { byPortMap, skippedPods } = desiredEndpoints(input);
  for (const [key, group] of byPortMap) {
    const p = reconcilePortMap(svc, existingByPortMap.get(key) ?? [], group.endpoints, group.ports, addressType, max);
    plan.create.push(...p.create);
    plan.update.push(...p.update);
    plan.delete.push(...p.delete);
  }
  for (const [key, slices] of existingByPortMap) if (!byPortMap.has(key)) plan.delete.push(...slices);
  // A service without endpoints keeps one placeholder slice (no ports, no endpoints).
  const placeholder = newSlice(svc, [], addressType);
  if (plan.delete.length === input.existing.length && plan.create.length === 0) {
    const only = plan.delete.length === 1 ? plan.delete[0] : undefined;
    if (only && ownedBy(only, svc) && only.addressType === addressType && !(only.ports ?? []).length && !sliceLabels(only, svc).changed) plan.delete = [];
    else plan.create.push(placeholder);
  }
  return { ...finalize(svc, plan, input.triggerTime), skippedPods };
}

/** finalize: creates become updates of slices that would be deleted; every written slice carries the trigger time. */
function finalize(svc: Service, plan: PortMapPlan, triggerTime: string | undefined): PortMapPlan {
  const create = [...plan.create];
  const update = [...plan.update];
  const remove: EndpointSlice[] = [];
  for (const old of plan.delete) {
    const fresh = create.length && old.addressType === create[create.length - 1]!.addressType && ownedBy(old, svc) ? create.pop() : undefined;
    if (!fresh) {
      remove.push(old);
      continue;
    }
    update.push({ ...fresh, metadata: { ...old.metadata, labels: fresh.metadata.labels } });
  }
  const stamp = (s: EndpointSlice): EndpointSlice => {
    const annotations = { ...(s.metadata.annotations ?? {}) };
    if (triggerTime) annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = triggerTime;
    else delete annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION];
    return { ...s, metadata: { ...s.metadata, annotations } };
  };
  // No new slices for a service being deleted: the garbage collector is removing them.
  return { create: svc.metadata.deletionTimestamp ? [] : create.map(stamp), update: update.map(stamp), delete: remove };
}
