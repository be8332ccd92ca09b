// Custom resources as controllers see them: the kinds an established CustomResourceDefinition serves, read from the
// API (controllers run apart from the API server and know no CRD otherwise).
import type { ResourceInfo } from '../../api/resources.js';
import type { ObjectLike, ResourceRef } from '../../client/rest.js';

export const CRDS: ResourceRef = { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', namespaced: false };

/** What controllers read of a CustomResourceDefinition. */
export interface CrdLike extends ObjectLike {
  spec: { group: string; scope: string; names: { plural: string; kind: string; singular?: string }; versions: { name: string; served: boolean; storage: boolean }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/** The served versions of an established CRD (the storage version first: every version reads the same objects). */
export function customResourceInfos(crd: CrdLike): ResourceInfo[] {
  if (!(crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True')) return [];
  const { group, names, scope } = crd.spec;
  return [...crd.spec.versions]
    .filter((v) => v.served)
    .sort((a, b) => Number(b.storage) - Number(a.storage))
    .map((v) => ({ group, version: v.name, kind: names.kind, resource: names.plural, singular: names.singular ?? names.kind.toLowerCase(), namespaced: scope === 'Namespaced', shortNames: [], categories: [], subresources: [], verbs: [] }));
}
