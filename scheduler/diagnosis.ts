// Where `ketch why pod/NAME` finds why a pod is pending: the annotation ketch.io/scheduling-diagnosis holds JSON
// {"<node>": ["<reason>", ...]} with the reasons each node was rejected for in the last failed attempt (at most
// MAX_DIAGNOSIS_NODES nodes, by name; the PodScheduled condition's message carries the totals over all nodes).
// The scheduler removes the annotation once the pod is bound.
import type { Pod } from '../api/index.js';
import type { FitError } from './framework/fit-error.js';

import { DIAGNOSIS_ANNOTATION } from '../api/annotations.js';

export { DIAGNOSIS_ANNOTATION };
export const MAX_DIAGNOSIS_NODES = 100;

export type Diagnosis = Record<string, string[]>;

/** The per-node reasons of a failed attempt, as stored in the annotation. */
export function diagnosisOf(fe: FitError): Diagnosis {
  const names = [...fe.statuses.keys()].sort().slice(0, MAX_DIAGNOSIS_NODES);
  const out: Diagnosis = {};
  for (const n of names) out[n] = [...(fe.statuses.get(n)?.reasons ?? [])];
  return out;
}

/** Reads the annotation back; undefined when absent or not the documented shape. */
export function readDiagnosis(pod: Pick<Pod, 'metadata'>): Diagnosis | undefined {
  const raw = pod.metadata?.annotations?.[DIAGNOSIS_ANNOTATION];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const out: Diagnosis = {};
    for (const [k, reasons] of Object.entries(v)) if (Array.isArray(reasons)) out[k] = reasons.map(String);
    return out;
  } catch {
    return undefined;
  }
}
