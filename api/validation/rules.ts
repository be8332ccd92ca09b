// The per-kind validation strategy: a name rule plus create/update/status checks.
import type { Cause } from '../field.js';
import type { NameValidator } from '../names.js';

export interface KindRules<T> {
  /** The metadata.name rule (most kinds: DNS-1123 subdomain). */
  name: NameValidator;
  /** Checks for create and update. */
  validate(obj: T): Cause[];
  /** Extra checks on update (immutable fields). */
  validateUpdate?(obj: T, old: T): Cause[];
  /** Checks on a status update (the /status subresource); spec rules are skipped there. */
  validateStatus?(obj: T, old: T): Cause[];
}

/** Declares rules for a kind with its static type checked. */
export const rules = <T>(r: KindRules<T>): KindRules<T> => r;
