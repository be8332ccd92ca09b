// Rules for coordination.k8s.io/v1 Lease.
import type { Lease } from '../schemas/coordination.js';
import { invalid, nonNegative, type Cause } from '../field.js';
import { nameIsDNSSubdomain } from '../names.js';
import { rules } from './rules.js';

export const lease = rules<Lease>({
  name: nameIsDNSSubdomain,
  validate: (l) => {
    const causes: Cause[] = [];
    const d = l.spec?.leaseDurationSeconds;
    if (d !== undefined && d <= 0) causes.push(invalid('spec.leaseDurationSeconds', d, 'must be greater than 0'));
    causes.push(...nonNegative(l.spec?.leaseTransitions, 'spec.leaseTransitions'));
    if (l.spec?.preferredHolder && !l.spec.strategy) {
      causes.push(invalid('spec.preferredHolder', l.spec.preferredHolder, 'may only be specified if `strategy` is defined'));
    }
    return causes;
  },
});
