// ketch's API types: resource schemas (TS types, validation, OpenAPI from one source), defaulting,
// validation, names, quantities, selectors, storage keys, and the ApiError/Status type.
//
// A write goes through, in order: dropNulls -> pruneUnknownFields (or, with fieldValidation=Strict,
// reject what unknownFields finds) -> fill name/uid/creationTimestamp -> applyDefaults (a Job's selector
// needs the uid) -> validateObject -> errors.invalid(kind, group, name, causes) if anything is wrong.
export * from './errors.js';
export * from './resources.js';
export * from './annotations.js';
export * from './network.js';

export { IntOrString, Quantity, ResourceList, Time, MicroTime, DefName, definitionName } from './schemas/kit.js';
export * from './schemas/meta.js';
export * from './schemas/core.js';
export * from './schemas/apps.js';
export * from './schemas/batch.js';
export * from './schemas/coordination.js';
export * from './schemas/discovery.js';
export * from './schemas/scheduling.js';
export * from './schemas/storage.js';
export * from './schemas/rbac.js';
export * from './schemas/autoscaling.js';
export * from './schemas/policy.js';
export * from './schemas/certificates.js';
export * from './schemas/subresources.js';
export * from './schemas/extensions.js';
export * from './schemas/index.js';

export * as field from './field.js';
export type { Cause } from './field.js';
export * from './names.js';
export * from './quantity.js';
export * from './selectors.js';
export * from './storage.js';
export * from './node-selection.js';
export * from './intstr.js';
export * from './keys.js';
export * from './list-options.js';
export * from './prune.js';
export * from './qos.js';
export * from './pod-helpers.js';
export * from './defaults.js';
export { validateObject, type ValidateOptions } from './validation/index.js';
export { SYSTEM_PRIORITY_CLASSES, HIGHEST_USER_DEFINABLE_PRIORITY } from './validation/scheduling.js';
export * from './openapi.js';
export * from './hpa-conversion.js';
export * from './disruption.js';
