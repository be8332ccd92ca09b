// PersistentVolumeClaim spec rules (ValidatePersistentVolumeClaimSpec and the claim template of ephemeral volumes),
// shared by claims, StatefulSet claim templates and pod volumes; plus the quantity and access-mode checks of volumes.
import type { PersistentVolumeClaimSpec, PersistentVolumeClaimTemplate } from '../schemas/core.js';
import { ACCESS_MODES, VOLUME_MODES } from '../schemas/core.js';
import { child, forbidden, invalid, key, notSupported, required, type Cause } from '../field.js';
import { isDNS1123Subdomain, validateAnnotations, validateLabels } from '../names.js';
import { isNegativeQuantity, parseQuantityExact, QUANTITY_FORMAT_MESSAGE, validateQuantity } from '../quantity.js';
import { validateLabelSelector } from './meta.js';

/** A quantity that parses and is above zero (ValidatePositiveQuantityValue). */
export function validatePositiveQuantity(q: string | number, path: string): Cause[] {
  if (validateQuantity(q).length) return [invalid(path, q, QUANTITY_FORMAT_MESSAGE)];
  if (isNegativeQuantity(q) || parseQuantityExact(q).num === 0n) return [invalid(path, String(q), 'must be greater than zero')];
  return [];
}

/** Access modes: supported values, and ReadWriteOncePod alone. */
export function validateAccessModes(modes: readonly string[] | undefined, path: string, requiredDetail?: string): Cause[] {
  const causes: Cause[] = [];
  if (!modes?.length) causes.push(required(path, requiredDetail));
  let rwop = false;
  let other = false;
  for (const m of modes ?? []) {
    if (!(ACCESS_MODES as readonly string[]).includes(m)) causes.push(notSupported(path, m, ACCESS_MODES));
    else if (m === 'ReadWriteOncePod') rwop = true;
    else other = true;
  }
  if (rwop && other) causes.push(forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return causes;
}

export function validateVolumeMode(mode: string | undefined, path: string): Cause[] {
  return mode !== undefined && !(VOLUME_MODES as readonly string[]).includes(mode) ? [notSupported(path, mode, VOLUME_MODES)] : [];
}

/** A class name is a DNS subdomain (ValidateClassName); '' means "no class" and is allowed. */
export function validateClassName(name: string | undefined, path: string): Cause[] {
  return name ? isDNS1123Subdomain(name).map((m) => invalid(path, name, m)) : [];
}

function validateDataSource(ds: { apiGroup?: string; kind?: string; name?: string }, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!ds.name) causes.push(required(child(path, 'name')));
  if (!ds.kind) causes.push(required(child(path, 'kind')));
  if (!ds.apiGroup && ds.kind && ds.kind !== 'PersistentVolumeClaim') causes.push(invalid(path, ds.kind, ''));
  return causes;
}

/** ValidatePersistentVolumeClaimSpec. */
export function validateClaimSpec(spec: PersistentVolumeClaimSpec | undefined, path: string): Cause[] {
  const s = spec ?? {};
  const causes = validateAccessModes(s.accessModes, child(path, 'accessModes'), 'at least 1 access mode is required');
  causes.push(...validateLabelSelector(s.selector, child(path, 'selector')));
  const storage = s.resources?.requests?.storage;
  const storagePath = key(child(path, 'resources'), 'storage');
  if (storage === undefined) causes.push(required(storagePath));
  else causes.push(...validatePositiveQuantity(storage, storagePath));
  causes.push(...validateClassName(s.storageClassName, child(path, 'storageClassName')));
  causes.push(...validateVolumeMode(s.volumeMode, child(path, 'volumeMode')));
  if (s.dataSource) causes.push(...validateDataSource(s.dataSource, child(path, 'dataSource')));
  if (s.dataSourceRef) causes.push(...validateDataSource(s.dataSourceRef, child(path, 'dataSourceRef')));
  const ds = s.dataSource;
  const ref = s.dataSourceRef;
  if (ds && ref && (ds.apiGroup !== ref.apiGroup || ds.kind !== ref.kind || ds.name !== ref.name)) {
    causes.push(invalid(path, child(path, 'dataSource'), 'must match dataSourceRef'));
  }
  return causes;
}

/** An ephemeral volume's claim template: labels and annotations only in its metadata, and a valid claim spec. */
export function validateClaimTemplate(t: PersistentVolumeClaimTemplate, path: string): Cause[] {
  const mp = child(path, 'metadata');
  const causes = [...validateLabels(t.metadata?.labels, child(mp, 'labels')), ...validateAnnotations(t.metadata?.annotations, child(mp, 'annotations'))];
  for (const k of Object.keys(t.metadata ?? {})) {
    if (k !== 'labels' && k !== 'annotations') causes.push(forbidden(child(mp, k), 'cannot be set for an ephemeral volume'));
  }
  causes.push(...validateClaimSpec(t.spec, child(path, 'spec')));
  return causes;
}
