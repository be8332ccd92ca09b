// The OpenAPI v3 documents of custom resource group-versions, rebuilt whenever the served CRDs change: each kind's
// published schema (its openAPIV3Schema with ObjectMeta, apiVersion and kind filled in) under kube's definition
// names (io.cert-manager.v1.Certificate), with the paths and operations of a built-in resource.
import { createHash } from 'node:crypto';
import { documentOf, metaDefinitions, resourcePaths } from '../../api/openapi.js';
import { apiVersionOf, findByResource, type ResourceInfo } from '../../api/resources.js';
import type { JsonSchema } from '../../api/schemas/definitions.js';
import type { CustomResourceDefinition } from '../../api/schemas/extensions.js';
import { ListMeta, ObjectMeta } from '../../api/schemas/meta.js';
import type { SchemaProps } from './structural.js';

const REF = (name: string): string => `#/components/schemas/${name}`;
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const LIST_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';

/** kube's definition name of a custom kind: the group reversed (cert-manager.io -> io.cert-manager), version, kind. */
export function definitionNameOf(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

/** A CR's schema as published: metadata is ObjectMeta, apiVersion and kind are described, the GVK is attached. */
function published(schema: SchemaProps | undefined, gvk: { group: string; version: string; kind: string }): JsonSchema {
  const { 'x-kubernetes-validations': _v, ...root } = structuredClone(schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  const props = root.properties ?? {};
  return {
    ...root,
    type: 'object',
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      ...props,
      metadata: { allOf: [{ $ref: REF(OBJECT_META) }], description: "Standard object's metadata." },
    },
    'x-kubernetes-group-version-kind': [gvk],
  };
}

export interface GroupVersionDoc {
  doc: object;
  hash: string;
}

export class CustomResourceOpenApi {
  private docs = new Map<string, GroupVersionDoc>();
  /** The published schema of each served custom kind by apiVersion/kind (for /openapi/v2 too). */
  private kinds = new Map<string, { info: ResourceInfo; name: string; schema: JsonSchema }>();

  /** Rebuilds every document from the CRDs served now. */
  update(crds: readonly CustomResourceDefinition[]): void {
    const byGv = new Map<string, { paths: Record<string, object>; schemas: Map<string, JsonSchema> }>();
    this.kinds = new Map();
    for (const crd of crds) {
      const { group, names } = crd.spec;
      for (const v of crd.spec.versions) {
        const info = findByResource(group, v.name, names.plural);
        if (!info || !v.served) continue;
        const gv = apiVersionOf(info);
        let entry = byGv.get(gv);
        if (!entry) {
          const schemas = new Map<string, JsonSchema>();
          metaDefinitions(schemas, [ObjectMeta, ListMeta]);
          byGv.set(gv, (entry = { paths: {}, schemas }));
        }
        const name = definitionNameOf(group, v.name, names.kind);
        const gvk = { group, version: v.name, kind: names.kind };
        const schema = published(v.schema?.openAPIV3Schema as SchemaProps | undefined, gvk);
        entry.schemas.set(name, schema);
        entry.schemas.set(`${name}List`, {
          type: 'object',
          required: ['items'],
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            items: { type: 'array', items: { $ref: REF(name) } },
            metadata: { allOf: [{ $ref: REF(LIST_META) }] },
          },
          'x-kubernetes-group-version-kind': [{ group, version: v.name, kind: `${names.kind}List` }],
        });
        Object.assign(entry.paths, resourcePaths(info, { item: { $ref: REF(name) }, list: { $ref: REF(`${name}List`) }, custom: true }));
        this.kinds.set(`${gv}/${names.kind}`, { info, name, schema });
      }
    }
    const docs = new Map<string, GroupVersionDoc>();
    for (const [gv, { paths, schemas }] of byGv) {
      const doc = documentOf(paths, Object.fromEntries([...schemas.entries()].sort(([a], [b]) => a.localeCompare(b))));
      docs.set(gv, { doc, hash: createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase() });
    }
    this.docs = docs;
  }

  groupVersions(): string[] {
    return [...this.docs.keys()];
  }

  document(groupVersion: string): GroupVersionDoc | undefined {
    return this.docs.get(groupVersion);
  }
}
