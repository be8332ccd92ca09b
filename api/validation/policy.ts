// Rules for policy/v1 PodDisruptionBudget (pkg/apis/policy/validation), with kube's field paths and wording.
import type { PodDisruptionBudget } from '../schemas/policy.js';
import { child, invalid, nonNegative, notSupported, type Cause } from '../field.js';
import { nameIsDNSSubdomain } from '../names.js';
import { validateLabelSelector } from './meta.js';
import { rules } from './rules.js';
import { validateIntOrPercent } from './workloads.js';

const EVICTION_POLICIES = ['AlwaysAllow', 'IfHealthyBudget'] as const;

export const podDisruptionBudget = rules<PodDisruptionBudget>({
  name: nameIsDNSSubdomain,
  validate: (pdb) => {
    const spec = pdb.spec ?? {};
    const causes: Cause[] = [];
    if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) causes.push(invalid('spec', spec, 'minAvailable and maxUnavailable cannot be both set'));
    causes.push(...validateIntOrPercent(spec.minAvailable, 'spec.minAvailable'), ...validateIntOrPercent(spec.maxUnavailable, 'spec.maxUnavailable'));
    causes.push(...validateLabelSelector(spec.selector, 'spec.selector'));
    const policy = spec.unhealthyPodEvictionPolicy;
    if (policy !== undefined && !(EVICTION_POLICIES as readonly string[]).includes(policy)) causes.push(notSupported('spec.unhealthyPodEvictionPolicy', policy, EVICTION_POLICIES));
    return causes;
  },
  validateStatus: (pdb) => {
    const st = pdb.status;
    if (!st) return [];
    const p = (f: string): string => child('status', f);
    return [
      ...nonNegative(st.disruptionsAllowed, p('disruptionsAllowed')),
      ...nonNegative(st.currentHealthy, p('currentHealthy')),
      ...nonNegative(st.desiredHealthy, p('desiredHealthy')),
      ...nonNegative(st.expectedPods, p('expectedPods')),
    ];
  },
});
