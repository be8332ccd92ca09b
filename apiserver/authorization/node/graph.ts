// The Node authorizer's graph (plugin/pkg/auth/authorizer/node/graph.go): which objects each node may reach.
//
//   node <- pod <- secret | configmap | pvc | serviceaccount      (from the pods bound to the node)
//   pvc  <- pv  <- secret                                         (a bound volume and the secrets it names)
//
// Every edge out of a pod leads to exactly one node, so instead of a general graph and a walk, each object keeps a
// count per node of the pods that reach it (kube's destination-edge index, kept for all vertices): "may node N read
// secret S" is two map lookups. A pod's own vertex is its entry (it reaches one node). Built incrementally from pod
// (and PersistentVolume) events; each pod costs one entry pointing at shared vertex and node records (a few hundred
// bytes: at 30,000 pods the graph held 25 MB when each pod had its own vertex and key strings).
import type { KubeObject } from '../../../api/schemas/meta.js';
import { isObject, type JsonObject } from '../../registry/object.js';
import type { EventSink, EventType } from '../feed.js';
import { MIRROR_POD_ANNOTATION, podRefs } from './pod-refs.js';

export type VertexType = 'pod' | 'secret' | 'configmap' | 'pvc' | 'pv' | 'serviceaccount';

/** A node with pods bound to it; pods point at it, so its name is held once. */
interface NodeEntry {
  readonly name: string;
  pods: number;
}

/** An object some bound pods reference: how many of them each node has. */
interface Vertex {
  readonly key: string;
  readonly byNode: Map<string, number>;
}

interface PodEntry {
  readonly uid: string;
  readonly node: NodeEntry;
  /** The objects this pod reaches its node from (besides itself). */
  readonly refs: readonly Vertex[];
}

const NO_REFS: readonly Vertex[] = Object.freeze([]);

interface PvEntry {
  /** The pvc vertex key of spec.claimRef, when bound. */
  claim: string;
  secrets: string[];
}

const key = (type: VertexType, namespace: string, name: string): string => `${type}/${namespace}/${name}`;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});

/** Secrets a PersistentVolume's source names, with their namespaces (pvutil.VisitPVSecretNames, the common ones). */
function pvSecrets(pv: KubeObject): string[] {
  const spec = obj(pv.spec);
  const claimNs = str(obj(spec.claimRef).namespace);
  const out = new Set<string>();
  const ref = (r: unknown, defaultNs: string): void => {
    const name = str(obj(r).name);
    if (name) out.add(key('secret', str(obj(r).namespace) || defaultNs, name));
  };
  const csi = obj(spec.csi);
  for (const f of ['nodePublishSecretRef', 'nodeStageSecretRef', 'controllerPublishSecretRef', 'controllerExpandSecretRef', 'nodeExpandSecretRef']) ref(csi[f], '');
  for (const f of ['cephfs', 'flexVolume', 'rbd', 'scaleIO', 'iscsi', 'storageos', 'cinder']) if (isObject(spec[f])) ref(spec[f].secretRef, f === 'flexVolume' || f === 'iscsi' ? claimNs : 'default');
  if (isObject(spec.azureFile) && str(spec.azureFile.secretName)) out.add(key('secret', str(spec.azureFile.secretNamespace) || claimNs || 'default', str(spec.azureFile.secretName)));
  return [...out];
}

export class NodeGraph {
  /** "namespace/name" → the bound pod */
  private readonly pods = new Map<string, PodEntry>();
  /** vertex key → the nodes whose pods reach it */
  private readonly reach = new Map<string, Vertex>();
  /** nodes with pods bound to them (a node with none is unknown to the graph, as in kube) */
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly pvs = new Map<string, PvEntry>();
  private readonly pvsBySecret = new Map<string, Set<string>>();

  /** A pod event; only bound pods matter, and a bound pod's references never change (its spec is immutable). */
  onPod(type: EventType, pod: KubeObject): void {
    const podKey = `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
    if (type === 'DELETED') return this.removePod(podKey);
    const node = str(obj(pod.spec).nodeName);
    if (!node) return;
    const existing = this.pods.get(podKey);
    const uid = pod.metadata.uid ?? '';
    if (existing && existing.node.name === node && existing.uid === uid) return;
    this.removePod(podKey);
    this.addPod(podKey, node, uid, pod);
  }

  /** Pod events as a feed's sink (../feed.ts). */
  podSink(): EventSink {
    return { replace: (pods) => this.replacePods(pods), onEvent: (type, pod) => this.onPod(type, pod) };
  }

  /** PersistentVolume events as a feed's sink, for when ketch serves them. */
  persistentVolumeSink(): EventSink {
    return {
      replace: (pvs) => {
        const keep = new Set(pvs.map((pv) => pv.metadata.name ?? ''));
        for (const name of [...this.pvs.keys()]) if (!keep.has(name)) this.onPersistentVolume('DELETED', { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name } });
        for (const pv of pvs) this.onPersistentVolume('MODIFIED', pv);
      },
      onEvent: (type, pv) => this.onPersistentVolume(type, pv),
    };
  }

  /** A full snapshot of the pods (initial list or relist). */
  replacePods(pods: readonly KubeObject[]): void {
    const keep = new Set(pods.map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`));
    for (const k of [...this.pods.keys()]) if (!keep.has(k)) this.removePod(k);
    for (const p of pods) this.onPod('MODIFIED', p);
  }

  private addPod(podKey: string, nodeName: string, uid: string, pod: KubeObject): void {
    const ns = pod.metadata.namespace ?? '';
    let node = this.nodes.get(nodeName);
    if (!node) this.nodes.set(nodeName, (node = { name: nodeName, pods: 0 }));
    node.pods++;
    const keys: string[] = [];
    // A node must never gain access to objects through a pod it created itself (defence in depth; NodeRestriction
    // refuses such mirror pods already).
    if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] === undefined) {
      const r = podRefs(pod as unknown as JsonObject);
      if (r.serviceAccount) keys.push(key('serviceaccount', ns, r.serviceAccount));
      for (const s of r.secrets) keys.push(key('secret', ns, s));
      for (const c of r.configMaps) keys.push(key('configmap', ns, c));
      for (const c of r.claims) keys.push(key('pvc', ns, c));
    }
    const refs = keys.length === 0 ? NO_REFS : keys.map((k) => {
      let v = this.reach.get(k);
      if (!v) this.reach.set(k, (v = { key: k, byNode: new Map() }));
      v.byNode.set(nodeName, (v.byNode.get(nodeName) ?? 0) + 1);
      return v;
    });
    this.pods.set(podKey, { uid, node, refs });
  }

  private removePod(podKey: string): void {
    const e = this.pods.get(podKey);
    if (!e) return;
    this.pods.delete(podKey);
    const node = e.node.name;
    if (--e.node.pods === 0) this.nodes.delete(node);
    for (const v of e.refs) {
      const n = (v.byNode.get(node) ?? 1) - 1;
      if (n > 0) v.byNode.set(node, n);
      else v.byNode.delete(node);
      if (v.byNode.size === 0) this.reach.delete(v.key);
    }
  }

  /** A PersistentVolume event: a bound volume is readable by the nodes of its claim's pods, with its secrets. */
  onPersistentVolume(type: EventType, pv: KubeObject): void {
    const name = pv.metadata.name ?? '';
    const prev = this.pvs.get(name);
    if (prev) {
      for (const s of prev.secrets) {
        const set = this.pvsBySecret.get(s);
        set?.delete(name);
        if (set?.size === 0) this.pvsBySecret.delete(s);
      }
      this.pvs.delete(name);
    }
    if (type === 'DELETED') return;
    const claimRef = obj(obj(pv.spec).claimRef);
    const claim = str(claimRef.name) ? key('pvc', str(claimRef.namespace), str(claimRef.name)) : '';
    const secrets = pvSecrets(pv);
    this.pvs.set(name, { claim, secrets });
    for (const s of secrets) {
      let set = this.pvsBySecret.get(s);
      if (!set) this.pvsBySecret.set(s, (set = new Set()));
      set.add(name);
    }
  }

  /** Whether any pod is bound to the node (kube answers "unknown node" otherwise). */
  knowsNode(node: string): boolean {
    return this.nodes.has(node);
  }

  private reaches(vertexKey: string, node: string): boolean {
    return (this.reach.get(vertexKey)?.byNode.get(node) ?? 0) > 0;
  }

  /** hasPathFrom: whether the object leads to the node through the pods bound to it. */
  hasPath(node: string, type: VertexType, namespace: string, name: string): boolean {
    if (!this.nodes.has(node)) return false;
    if (type === 'pv') {
      const pv = this.pvs.get(name);
      return pv !== undefined && pv.claim !== '' && this.reaches(pv.claim, node);
    }
    if (type === 'pod') return this.pods.get(`${namespace}/${name}`)?.node.name === node;
    const k = key(type, namespace, name);
    if (this.reaches(k, node)) return true;
    if (type !== 'secret') return false;
    for (const pvName of this.pvsBySecret.get(k) ?? []) {
      const pv = this.pvs.get(pvName);
      if (pv?.claim && this.reaches(pv.claim, node)) return true;
    }
    return false;
  }

  /** Sizes, for logs and tests. */
  stats(): { pods: number; nodes: number; vertices: number; pvs: number } {
    return { pods: this.pods.size, nodes: this.nodes.size, vertices: this.reach.size + this.pods.size, pvs: this.pvs.size };
  }
}
