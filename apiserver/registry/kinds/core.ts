// The smaller core kinds: nodes, events, endpoints, secrets; everything else uses the default strategy.
import type { ResourceInfo } from '../../../api/resources.js';
import { getPath, isObject, str } from '../object.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

export function nodeStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: false,
    selectableFields: ['spec.unschedulable'],
    fields: (obj) => ({ 'spec.unschedulable': String(isObject(obj.spec) && obj.spec.unschedulable === true) }),
    // The node agent registers a node with its status filled in: keep it.
    prepareForCreate: () => undefined,
  });
}

const EVENT_FIELDS = [
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.name',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'reportingComponent',
  'source',
  'type',
];

export function eventStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    allowCreateOnUpdate: true,
    selectableFields: EVENT_FIELDS,
    fields: (obj) => Object.fromEntries(EVENT_FIELDS.map((f) => [f, str(getPath(obj, f === 'source' ? 'source.component' : f))])),
  });
}

export function endpointsStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, { allowCreateOnUpdate: true });
}

export function secretStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, { selectableFields: ['type'] });
}
