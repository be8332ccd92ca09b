// Resource names as users type them (`po`, `pods`, `deploy`, `deployment.apps`, `deployments.v1.apps`, `TYPE/NAME`),
// resolved against the server's discovery documents (aggregated, else legacy), as kubectl's RESTMapper does.
import type { RestClient, ResourceRef } from '../client/rest.js';
import { CliError } from './errors.js';

export interface ApiResource extends ResourceRef {
  kind: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  subresources: string[];
}

export const apiVersionOf = (r: Pick<ApiResource, 'group' | 'version'>): string => (r.group ? `${r.group}/${r.version}` : r.version);
/** `pods`, `deployments.apps`: how the server names the resource in messages. */
export const qualifiedResource = (r: Pick<ApiResource, 'group' | 'resource'>): string => (r.group ? `${r.resource}.${r.group}` : r.resource);
/** `pod`, `deployment.apps`: the prefix of `-o name` and of kubectl's action messages. */
export const kindPrefix = (r: Pick<ApiResource, 'group' | 'kind'>): string => (r.group ? `${r.kind.toLowerCase()}.${r.group}` : r.kind.toLowerCase());

interface AggResource {
  resource: string;
  responseKind?: { group?: string; version?: string; kind?: string };
  scope?: string;
  singularResource?: string;
  verbs?: string[];
  shortNames?: string[];
  categories?: string[];
  subresources?: { subresource: string }[];
}
interface AggList {
  kind?: string;
  items?: { metadata?: { name?: string }; versions?: { version: string; resources?: AggResource[] }[] }[];
}
interface LegacyResource {
  name: string;
  singularName?: string;
  namespaced: boolean;
  kind: string;
  verbs?: string[];
  shortNames?: string[];
  categories?: string[];
}

const AGG_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';

export class Resolver {
  constructor(readonly resources: ApiResource[]) {}

  static async discover(rest: RestClient): Promise<Resolver> {
    const [core, groups] = await Promise.all([
      rest.request<AggList>('GET', '/api', { accept: AGG_ACCEPT }),
      rest.request<AggList>('GET', '/apis', { accept: AGG_ACCEPT }),
    ]);
    if (core?.kind === 'APIGroupDiscoveryList' && groups?.kind === 'APIGroupDiscoveryList') {
      return new Resolver([...fromAggregated(core), ...fromAggregated(groups)]);
    }
    return new Resolver(await legacyDiscovery(rest, core as { versions?: string[] }, groups as { groups?: { name: string; preferredVersion?: { version: string }; versions?: { version: string }[] }[] }));
  }

  /** One resource for `po`, `pods`, `Pod`, `deploy`, `deployment.apps`, `deployments.v1.apps`. */
  resolve(arg: string): ApiResource {
    const found = this.find(arg);
    if (!found) throw new CliError(`the server doesn't have a resource type "${arg}"`);
    return found;
  }

  find(arg: string): ApiResource | undefined {
    const lower = arg.toLowerCase();
    const dot = lower.indexOf('.');
    const candidates: { name: string; group?: string; version?: string }[] = [{ name: lower }];
    if (dot > 0) {
      const name = lower.slice(0, dot);
      const rest = lower.slice(dot + 1);
      candidates.push({ name, group: rest });
      const d2 = rest.indexOf('.');
      if (d2 > 0) candidates.push({ name, version: rest.slice(0, d2), group: rest.slice(d2 + 1) });
      if (/^v\d/.test(rest) && !rest.includes('.')) candidates.push({ name, version: rest, group: '' });
    }
    for (const c of candidates) {
      const matches = this.resources.filter(
        (r) =>
          (c.group === undefined || r.group === c.group) &&
          (c.version === undefined || r.version === c.version) &&
          (r.resource === c.name || r.singular === c.name || r.kind.toLowerCase() === c.name || r.shortNames.includes(c.name)),
      );
      // Prefer the core group, then discovery order (kubectl's group priority).
      const best = matches.find((r) => r.group === '') ?? matches[0];
      if (best) return best;
    }
    return undefined;
  }

  byKind(apiVersion: string, kind: string): ApiResource | undefined {
    return this.resources.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind) ?? this.resources.find((r) => r.kind === kind && apiVersion.split('/').length === 1 && r.group === '');
  }

  /** Every resource in a category such as `all`. */
  category(name: string): ApiResource[] {
    return this.resources.filter((r) => r.categories.includes(name));
  }

  /** `pods,svc` or `all`: each name resolved, categories expanded, duplicates dropped. */
  resolveList(arg: string): ApiResource[] {
    const out: ApiResource[] = [];
    for (const part of arg.split(',').filter(Boolean)) {
      const cat = this.find(part) ? [] : this.category(part.toLowerCase());
      for (const r of cat.length ? cat : [this.resolve(part)]) if (!out.includes(r)) out.push(r);
    }
    return out;
  }
}

function fromAggregated(list: AggList): ApiResource[] {
  const out: ApiResource[] = [];
  for (const g of list.items ?? []) {
    const v = g.versions?.[0]; // the preferred version comes first
    if (!v) continue;
    const group = g.metadata?.name ?? '';
    for (const r of v.resources ?? []) {
      out.push({
        group,
        version: v.version,
        resource: r.resource,
        kind: r.responseKind?.kind ?? '',
        singular: r.singularResource ?? r.responseKind?.kind?.toLowerCase() ?? '',
        namespaced: r.scope === 'Namespaced',
        shortNames: r.shortNames ?? [],
        categories: r.categories ?? [],
        verbs: r.verbs ?? [],
        subresources: (r.subresources ?? []).map((s) => s.subresource),
      });
    }
  }
  return out;
}

async function legacyDiscovery(
  rest: RestClient,
  core: { versions?: string[] },
  groups: { groups?: { name: string; preferredVersion?: { version: string }; versions?: { version: string }[] }[] },
): Promise<ApiResource[]> {
  const gvs: { group: string; version: string; path: string }[] = [];
  const coreV = core.versions?.[0];
  if (coreV) gvs.push({ group: '', version: coreV, path: `/api/${coreV}` });
  for (const g of groups.groups ?? []) {
    const v = g.preferredVersion?.version ?? g.versions?.[0]?.version;
    if (v) gvs.push({ group: g.name, version: v, path: `/apis/${g.name}/${v}` });
  }
  const lists = await Promise.all(gvs.map((gv) => rest.request<{ resources?: LegacyResource[] }>('GET', gv.path)));
  const out: ApiResource[] = [];
  lists.forEach((l, i) => {
    const gv = gvs[i]!;
    const all = l.resources ?? [];
    for (const r of all.filter((x) => !x.name.includes('/'))) {
      out.push({
        group: gv.group,
        version: gv.version,
        resource: r.name,
        kind: r.kind,
        singular: r.singularName || r.kind.toLowerCase(),
        namespaced: r.namespaced,
        shortNames: r.shortNames ?? [],
        categories: r.categories ?? [],
        verbs: r.verbs ?? [],
        subresources: all.filter((x) => x.name.startsWith(`${r.name}/`)).map((x) => x.name.slice(r.name.length + 1)),
      });
    }
  });
  return out;
}

/** A resource and, when given, one name: what `get pods a b`, `get pod/a svc/b` and `get pods,svc` expand to. */
export interface Target {
  res: ApiResource;
  name?: string;
}

/** kubectl's argument forms: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`. */
export function parseTargets(resolver: Resolver, args: string[]): Target[] {
  if (!args.length) return [];
  if (args[0]!.includes('/')) {
    return args.map((a) => {
      const i = a.indexOf('/');
      if (i <= 0) throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'ketch get resource/<resource_name>' instead of 'ketch get resource resource/<resource_name>'`);
      const name = a.slice(i + 1);
      if (!name) throw new CliError(`arguments in resource/name form must have a single resource and name`);
      return { res: resolver.resolve(a.slice(0, i)), name };
    });
  }
  const types = resolver.resolveList(args[0]!);
  const names = args.slice(1);
  if (names.some((n) => n.includes('/'))) {
    throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'ketch get resource/<resource_name>' instead of 'ketch get resource resource/<resource_name>'`);
  }
  if (!names.length) return types.map((res) => ({ res }));
  return types.flatMap((res) => names.map((name) => ({ res, name })));
}
