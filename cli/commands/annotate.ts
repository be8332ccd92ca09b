// `ketch annotate`: add (key=value), change (--overwrite) or remove (key-) annotations.
import type { Command } from 'commander';
import { registerMetaVerb } from './label.js';

export function register(program: Command): void {
  registerMetaVerb(program, 'annotate', 'annotations', 'annotated');
}
