import assert from 'node:assert/strict';
import type { TSchema } from '@sinclair/typebox';
import { schemas } from './index.js';
import { definitionName } from './kit.js';
import { RESOURCES, apiVersionOf } from '../resources.js';

/** Every named sub-schema reachable from `node`, with its JSON (symbols dropped). */
function named(node: unknown, out: Map<string, Set<string>>): void {
  if (Array.isArray(node)) return node.forEach((x) => named(x, out));
  if (typeof node !== 'object' || node === null) return;
  const name = definitionName(node);
  if (name) {
    const set = out.get(name) ?? new Set<string>();
    set.add(JSON.stringify(node));
    out.set(name, set);
  }
  for (const v of Object.values(node)) named(v, out);
}

describe('schemas', () => {
  it('has a schema and a list schema for every served resource', () => {
    for (const r of RESOURCES) {
      assert.ok(schemas[`${apiVersionOf(r)}/${r.kind}` as keyof typeof schemas], r.kind);
      assert.ok(schemas[`${apiVersionOf(r)}/${r.kind}List` as keyof typeof schemas], `${r.kind}List`);
    }
  });

  it('keys each schema by the apiVersion and kind it declares', () => {
    for (const [key, schema] of Object.entries(schemas) as [string, TSchema][]) {
      const props = schema.properties as Record<string, { enum?: string[] }>;
      const apiVersion = props.apiVersion?.enum?.[0];
      const kind = props.kind?.enum?.[0];
      if (apiVersion && kind) assert.equal(`${apiVersion}/${kind}`, key);
      const gvk = (schema as { 'x-kubernetes-group-version-kind'?: { kind: string }[] })['x-kubernetes-group-version-kind'];
      assert.equal(gvk?.[0]?.kind, key.slice(key.lastIndexOf('/') + 1), key);
    }
  });

  it('gives each definition name to one schema only', () => {
    const byName = new Map<string, Set<string>>();
    named(Object.values(schemas), byName);
    const clashes = [...byName].filter(([, shapes]) => shapes.size > 1).map(([n]) => n);
    assert.deepEqual(clashes, []);
    assert.ok(byName.size > 100);
  });
});
