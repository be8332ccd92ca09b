// Test support: whether V8 keeps an object's properties in fast mode (a shape shared by objects alike) or has turned
// them into a dictionary (several times the memory: what `delete` of a property does), via V8's own intrinsic.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--allow-natives-syntax');
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the intrinsic's syntax exists only in code compiled after the flag
const intrinsic = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

export function hasFastProperties(o: object): boolean {
  return intrinsic(o);
}
