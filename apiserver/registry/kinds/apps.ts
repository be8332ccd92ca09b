// Workload kinds with their own rules: DaemonSets keep a template generation, ControllerRevisions have no status and
// no generation, a ReplicationController's /scale shows its map selector.
import { DAEMONSET_TEMPLATE_GENERATION_ANNOTATION } from '../../../api/annotations.js';
import type { ResourceInfo } from '../../../api/resources.js';
import { formatLabels } from '../../../api/selectors.js';
import { deepEqual, isObject, type Obj } from '../object.js';
import { defaultStrategy, type Strategy } from '../strategy.js';
import { scaleStorageWith } from '../subresources/scale.js';
import { workloadStrategy } from './workloads.js';

const templateOf = (obj: Obj): unknown => (isObject(obj.spec) ? obj.spec.template : undefined);

function templateGeneration(obj: Obj): number | undefined {
  const v = Number(obj.metadata.annotations?.[DAEMONSET_TEMPLATE_GENERATION_ANNOTATION]);
  return Number.isInteger(v) && v >= 1 ? v : undefined;
}

function setTemplateGeneration(obj: Obj, generation: number): void {
  obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [DAEMONSET_TEMPLATE_GENERATION_ANNOTATION]: String(generation) };
}

/** The workload strategy plus spec.templateGeneration as kube's v1 API shows it (an annotation): 1 on create, +1 per template change. */
export function daemonSetStrategy(info: ResourceInfo): Strategy {
  const base = workloadStrategy(info);
  return {
    ...base,
    prepareForCreate(obj) {
      base.prepareForCreate(obj);
      setTemplateGeneration(obj, templateGeneration(obj) ?? 1);
    },
    prepareForUpdate(obj, old) {
      base.prepareForUpdate(obj, old);
      const was = templateGeneration(old) ?? 1;
      setTemplateGeneration(obj, deepEqual(templateOf(obj), templateOf(old)) ? was : was + 1);
    },
  };
}

/** ControllerRevisions: written by controllers, read by kubectl rollout; no status, no generation. */
export function controllerRevisionStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, { tracksGeneration: false });
}

/** ReplicationControllers: the workload strategy; /scale reports the equality selector as "k=v,..." (sorted). */
export function replicationControllerStrategy(info: ResourceInfo): Strategy {
  const rcSelector = (obj: Obj): string => formatLabels(isObject(obj.spec) && isObject(obj.spec.selector) ? (obj.spec.selector as Record<string, string>) : {});
  const base = workloadStrategy(info);
  return { ...base, subresources: { ...base.subresources, scale: scaleStorageWith(rcSelector) } };
}
