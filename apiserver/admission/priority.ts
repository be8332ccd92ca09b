// Priority admission (plugin/pkg/admission/priority): pods get spec.priority from their PriorityClass, and at most
// one PriorityClass may be the global default.
import { SYSTEM_PRIORITY_CLASSES, type Pod, type PriorityClass, type ResourceInfo } from '../../api/index.js';
import type { Obj } from '../registry/object.js';
import type { Admission } from '../registry/rest.js';
import { forbiddenBy } from './namespace-lifecycle.js';

/** The classes as admission reads them (kube-apiserver: from an informer; here from the store's in-memory cache). */
export interface PriorityClassSource {
  /** undefined when there is no such class. */
  get(name: string): Promise<PriorityClass | undefined>;
  list(): Promise<PriorityClass[]>;
}

/** The global default class; with several (possible after races) the lowest value wins, as in Kubernetes. */
async function defaultClass(classes: PriorityClassSource): Promise<PriorityClass | undefined> {
  let best: PriorityClass | undefined;
  for (const pc of await classes.list()) if (pc.globalDefault && (!best || pc.value < best.value)) best = pc;
  return best;
}

export function priorityAdmission(classes: PriorityClassSource): Admission {
  return async ({ operation, info, name, obj, subresource }) => {
    if (subresource) return; // an Eviction, a Binding, a status write: no class to check or give
    const isClass = info.group === 'scheduling.k8s.io' && info.resource === 'priorityclasses';
    if (isClass && operation === 'delete' && SYSTEM_PRIORITY_CLASSES.some((c) => c.name === name)) {
      throw forbiddenBy(info, name, 'this is a system priority class and cannot be deleted');
    }
    if (!obj) return;
    if (isClass && operation !== 'delete') {
      const pc = obj as unknown as PriorityClass;
      if (!pc.globalDefault) return;
      const current = await defaultClass(classes);
      if (current && (operation === 'create' || current.metadata.name !== pc.metadata.name)) {
        throw forbiddenBy(info, name, `PriorityClass ${current.metadata.name ?? ''} is already marked as default. Only one default can exist`);
      }
      return;
    }
    if (info.group === '' && info.resource === 'pods' && operation === 'create') await admitPod(obj, name, classes, info);
  };
}

async function admitPod(obj: Obj, name: string, classes: PriorityClassSource, info: ResourceInfo): Promise<void> {
  const spec = (obj as unknown as Pod).spec;
  let priority = 0;
  let policy: PriorityClass['preemptionPolicy'];
  if (!spec.priorityClassName) {
    const pc = await defaultClass(classes);
    if (pc) {
      spec.priorityClassName = pc.metadata.name ?? '';
      priority = pc.value;
      policy = pc.preemptionPolicy;
    }
  } else {
    const pc = await classes.get(spec.priorityClassName);
    if (!pc) throw forbiddenBy(info, name, `no PriorityClass with name ${spec.priorityClassName} was found`);
    priority = pc.value;
    policy = pc.preemptionPolicy;
  }
  // What the pod says of its own, when it says anything, must be what its class gives.
  const computed = (field: string, given: unknown, value: unknown): void => {
    if (given !== undefined && given !== value) {
      throw forbiddenBy(info, name, `the ${field} (${String(given)}) must not be provided in pod spec; priority admission controller computed ${String(value)} from the given PriorityClass name`);
    }
  };
  computed('integer value of priority', spec.priority, priority);
  spec.priority = priority;
  if (policy !== undefined) {
    computed('string value of PreemptionPolicy', spec.preemptionPolicy, policy);
    spec.preemptionPolicy = policy;
  }
}
