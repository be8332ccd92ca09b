// Which nodes a pod may run on (k8s.io/component-helpers/scheduling/corev1): tolerations against taints, node
// selector terms, spec.nodeSelector with required node affinity. Shared by the scheduler and the controllers.
import type { Node, NodeSelectorTerm, Pod, Taint, Toleration } from './schemas/core.js';
import { matchesLabelSelector } from './selectors.js';

/** Whether the toleration tolerates the taint (v1.Toleration.ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/** The first taint (with one of the effects) that no toleration tolerates. */
export function findUntoleratedTaint(taints: readonly Taint[], tolerations: readonly Toleration[], effects: readonly string[]): Taint | undefined {
  return taints.find((taint) => effects.includes(taint.effect) && !tolerations.some((t) => tolerates(t, taint)));
}

/** A node selector term: its matchExpressions on labels and matchFields (metadata.name) are ANDed; an empty term matches nothing. */
export function termMatchesNode(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  if (exprs.length && !matchesLabelSelector({ matchExpressions: exprs }, node.metadata?.labels)) return false;
  if (fields.length && !matchesLabelSelector({ matchExpressions: fields }, { 'metadata.name': node.metadata?.name ?? '' })) return false;
  return true;
}

/** spec.nodeSelector and required node affinity (terms ORed), as the NodeAffinity filter and spread's Honor policy use them. */
export function podMatchesNodeSelectorAndAffinity(pod: Pod, node: Node): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const req = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (req && !req.nodeSelectorTerms.some((t) => termMatchesNode(t, node))) return false;
  return true;
}
