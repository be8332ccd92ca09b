// Discovery: /version, legacy (/api, /apis, /api/v1, /apis/<g>/<v>) and aggregated (apidiscovery.k8s.io/v2) documents.
import { OTHER_VERSIONS, REVIEWS, apiVersionOf, servedResources, type ResourceInfo } from '../../api/resources.js';
import { parseAccept } from '../http/requests.js';
import { METRICS_RESOURCES } from '../nodeproxy/metrics-api.js';

/** What discovery adds for group-versions other servers serve (APIServices with a service), and what they replace. */
export interface DiscoveryExtra {
  resources: readonly ResourceInfo[];
  /** apiVersions served by another server (their built-in entries, e.g. metrics.k8s.io's, are left out). */
  replaced: ReadonlySet<string>;
}

const NO_EXTRA: DiscoveryExtra = { resources: [], replaced: new Set() };

/**
 * Everything discovery lists: the stored resources (custom ones included), then APIs served without storage
 * (metrics.k8s.io, reviews), then the other versions of stored kinds (after the stored one, which is so the preferred
 * version of its group), then the aggregated ones.
 */
const served = (extra: DiscoveryExtra): ResourceInfo[] => [
  ...servedResources(),
  ...(extra.replaced.size ? METRICS_RESOURCES.filter((r) => !extra.replaced.has(apiVersionOf(r))) : METRICS_RESOURCES),
  ...REVIEWS,
  ...OTHER_VERSIONS,
  ...extra.resources,
];

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4-ketch',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: `node${process.versions.node}`,
  compiler: 'gc',
  platform: `${process.platform === 'win32' ? 'windows' : process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

/** The subresource's kind and verbs, as kube-apiserver advertises them. */
const SUBRESOURCES: Record<string, { group?: string; version?: string; kind?: string; verbs: string[] }> = {
  status: { verbs: ['get', 'patch', 'update'] },
  scale: { group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] },
  binding: { kind: 'Binding', verbs: ['create'] },
  eviction: { group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] },
  log: { verbs: ['get'] },
  exec: { kind: 'PodExecOptions', verbs: ['create', 'get'] },
  attach: { kind: 'PodAttachOptions', verbs: ['create', 'get'] },
  portforward: { kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  finalize: { verbs: ['update'] },
  token: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] },
};

function subInfo(r: ResourceInfo, sub: string): { group: string; version: string; kind: string; verbs: string[] } {
  const s = SUBRESOURCES[sub] ?? { verbs: ['get'] };
  return { group: s.group ?? r.group, version: s.version ?? r.version, kind: s.kind ?? r.kind, verbs: s.verbs };
}

/** Groups in serving order: core first, then named groups as RESOURCES lists them, then aggregated ones. */
function groups(extra: DiscoveryExtra): { name: string; versions: string[] }[] {
  const out: { name: string; versions: string[] }[] = [];
  const gvs = [...served(extra), ...[...extra.replaced].map((gv) => ({ group: gv.includes('/') ? gv.split('/')[0] ?? '' : '', version: gv.split('/').pop() ?? '' }))];
  for (const r of gvs) {
    let g = out.find((x) => x.name === r.group);
    if (!g) out.push((g = { name: r.group, versions: [] }));
    if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

const resourcesOf = (group: string, version: string, extra: DiscoveryExtra): ResourceInfo[] => served(extra).filter((r) => r.group === group && r.version === version);

/** The aggregated discovery versions served: v2, and v2beta1 that clients up to 1.29 ask for (kube 1.32 serves both). */
export type AggregatedVersion = 'v2' | 'v2beta1';

/**
 * The aggregated discovery version the client prefers (the first in its Accept that is served), or undefined when a
 * plain JSON type comes first or none is asked for: legacy discovery then.
 */
export function wantsAggregated(accept: string | undefined): AggregatedVersion | undefined {
  for (const a of parseAccept(accept)) {
    if (a.params.as === 'APIGroupDiscoveryList' && a.params.g === 'apidiscovery.k8s.io' && (a.params.v === 'v2' || a.params.v === 'v2beta1')) return a.params.v;
    if (a.type === 'application/json' && !a.params.as) return undefined;
  }
  return undefined;
}

/** The Content-Type of an aggregated answer: clients check it to tell it from legacy discovery. */
export function aggregatedContentType(version: AggregatedVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/** aggregated discovery: one item for the core group (`/api`) or one per named group (`/apis`). */
export function aggregatedDiscovery(core: boolean, version: AggregatedVersion = 'v2', extra: DiscoveryExtra = NO_EXTRA): unknown {
  const items = groups(extra)
    .filter((g) => (g.name === '') === core)
    .map((g) => ({
      metadata: { name: g.name, creationTimestamp: null },
      versions: g.versions.map((version) => ({
        version,
        freshness: 'Current',
        resources: resourcesOf(g.name, version, extra).map((r) => ({
          resource: r.resource,
          responseKind: { group: r.group, version: r.version, kind: r.kind },
          scope: r.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: r.singular,
          verbs: r.verbs,
          ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
          ...(r.categories.length ? { categories: r.categories } : {}),
          ...(r.subresources.length
            ? {
                subresources: r.subresources.map((sub) => {
                  const s = subInfo(r, sub);
                  return { subresource: sub, responseKind: { group: s.group, version: s.version, kind: s.kind }, verbs: s.verbs };
                }),
              }
            : {}),
        })),
      })),
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

export function apiVersions(serverAddress: string): unknown {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(g: { name: string; versions: string[] }): unknown {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

export function apiGroupList(extra: DiscoveryExtra = NO_EXTRA): unknown {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups(extra).filter((g) => g.name !== '').map(apiGroup) };
}

export function apiGroupDoc(group: string, extra: DiscoveryExtra = NO_EXTRA): unknown | undefined {
  const g = groups(extra).find((x) => x.name === group && group !== '');
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...(apiGroup(g) as object) } : undefined;
}

export function apiResourceList(group: string, version: string, extra: DiscoveryExtra = NO_EXTRA): unknown | undefined {
  const rs = resourcesOf(group, version, extra);
  if (rs.length === 0) return undefined;
  const resources = rs.flatMap((r) => [
    {
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    },
    ...r.subresources.map((sub) => {
      const s = subInfo(r, sub);
      return {
        name: `${r.resource}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        // Both, when the subresource's kind is from another group version (kubectl drain finds pods/eviction by them).
        ...(s.group !== r.group || s.version !== r.version ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      };
    }),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}
