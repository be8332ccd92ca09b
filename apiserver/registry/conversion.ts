// Stored objects are read back through the apiVersion they were stored with: an object written in another version of
// its kind is converted to the version served now, or refused with a clear error, never relabelled. The table is empty
// while every kind has been stored in one version; a ketch that moves a kind to a new version adds its conversion here
// (and raises STORAGE_FORMAT_VERSION in apiserver/storage/format.ts if old data must be rewritten).
import { errors } from '../../api/errors.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import type { Obj } from './object.js';

type Conversion = (stored: Obj) => Obj;

/** By `group/Kind`, then by the stored apiVersion: the conversion to the served version. */
const STORED_CONVERSIONS: Readonly<Record<string, Readonly<Record<string, Conversion>>>> = {};

/** The object as the served version of its kind; throws a 500 Status for a stored version this ketch cannot read. */
export function convertStored(info: ResourceInfo, key: string, stored: Obj): Obj {
  const convert = STORED_CONVERSIONS[`${info.group}/${info.kind}`]?.[stored.apiVersion ?? ''];
  if (!convert) {
    throw errors.internal(`${key} is stored as ${stored.apiVersion}, which this ketch cannot convert to ${apiVersionOf(info)}: it was written by another version of ketch`);
  }
  return convert(stored);
}
