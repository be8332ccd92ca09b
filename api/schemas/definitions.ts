// Flattens TypeBox schemas into named definitions joined by $ref: what both ajv (shared compiled code)
// and OpenAPI (components.schemas) want. Symbol keys (TypeBox's and ours) are dropped on the way.
import type { TSchema } from '@sinclair/typebox';
import { definitionName } from './kit.js';

export type JsonSchema = { [key: string]: unknown };

/**
 * Adds `root` and every named schema reachable from it to `into` (name -> schema with $refs) and returns
 * the root's reference. `ref(name)` spells a reference, e.g. `#/components/schemas/${name}`.
 */
export function collectDefinitions(root: TSchema, into: Map<string, JsonSchema>, ref: (name: string) => string): JsonSchema {
  const visit = (node: unknown, isDefinitionRoot: boolean): unknown => {
    if (Array.isArray(node)) return node.map((x) => visit(x, false));
    if (typeof node !== 'object' || node === null) return node;
    const name = definitionName(node);
    if (name !== undefined && !isDefinitionRoot) {
      if (!into.has(name)) {
        into.set(name, {}); // reserve first: a recursive schema must not loop
        into.set(name, visit(node, true) as JsonSchema);
      }
      return { $ref: ref(name) };
    }
    const out: JsonSchema = {};
    for (const [k, v] of Object.entries(node)) out[k] = visit(v, false);
    return out;
  };
  return visit(root, false) as JsonSchema;
}
