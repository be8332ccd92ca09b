// Rules for scheduling.k8s.io/v1 PriorityClass (pkg/apis/scheduling/validation).
import type { PriorityClass } from '../schemas/scheduling.js';
import { PREEMPTION_POLICIES } from '../schemas/scheduling.js';
import { forbidden, immutable, notSupported, type Cause } from '../field.js';
import { nameIsDNSSubdomain } from '../names.js';
import { rules } from './rules.js';

/** Classes above this value are reserved for the system ones. */
export const HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000;
export const SYSTEM_PRIORITY_CLASS_PREFIX = 'system-';

/** The built-in classes the API server creates at start (scheduling.SystemPriorityClasses). */
export const SYSTEM_PRIORITY_CLASSES: readonly { name: string; value: number; description: string }[] = [
  { name: 'system-node-critical', value: 2_000_001_000, description: 'Used for system critical pods that must not be moved from their current node.' },
  { name: 'system-cluster-critical', value: 2_000_000_000, description: 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.' },
];

function knownSystemClassError(pc: PriorityClass): string | undefined {
  const known = SYSTEM_PRIORITY_CLASSES.find((c) => c.name === pc.metadata.name);
  if (!known) return `${pc.metadata.name ?? ''} is not a known system priority class`;
  if (known.value !== pc.value) return `value of ${known.name} PriorityClass must be ${known.value}`;
  if (pc.globalDefault) return `globalDefault of ${known.name} PriorityClass must be false`;
  return undefined;
}

export const priorityClass = rules<PriorityClass>({
  name: nameIsDNSSubdomain,
  validate: (pc) => {
    const causes: Cause[] = [];
    if ((pc.metadata.name ?? '').startsWith(SYSTEM_PRIORITY_CLASS_PREFIX)) {
      const err = knownSystemClassError(pc);
      if (err) {
        causes.push(forbidden('metadata.name', `priority class names with '${SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: ${err}`));
      }
    } else if (pc.value > HIGHEST_USER_DEFINABLE_PRIORITY) {
      causes.push(forbidden('value', `maximum allowed value of a user defined priority is ${HIGHEST_USER_DEFINABLE_PRIORITY}`));
    }
    if (pc.preemptionPolicy !== undefined && !(PREEMPTION_POLICIES as readonly string[]).includes(pc.preemptionPolicy)) {
      causes.push(notSupported('preemptionPolicy', pc.preemptionPolicy, PREEMPTION_POLICIES));
    }
    return causes;
  },
  validateUpdate: (pc, old) => {
    const causes: Cause[] = [];
    if (pc.value !== old.value) causes.push(forbidden('value', 'may not be changed in an update.'));
    causes.push(...immutable(pc.preemptionPolicy, old.preemptionPolicy, 'preemptionPolicy'));
    return causes;
  },
});
