// Which objects a verb acts on, as kubectl's resource builder: `TYPE NAME...`, `TYPE/NAME...`, `-f FILE`, `-l SELECTOR`,
// `--all`, in one namespace or all of them (-A).
import type { Command } from 'commander';
import type { ObjectLike } from '../client/rest.js';
import type { Cli } from './context.js';
import { CliError } from './errors.js';
import { readManifests } from './manifests.js';
import { apiVersionOf, parseTargets, type ApiResource } from './resources.js';

export interface SelectFlags {
  filename?: string[];
  recursive?: boolean;
  selector?: string;
  fieldSelector?: string;
  all?: boolean;
  allNamespaces?: boolean;
}

/** One object to act on; `obj` is there when it was read (from a list or a file). */
export interface Info {
  res: ApiResource;
  namespace: string | undefined;
  name: string;
  obj?: ObjectLike & Record<string, unknown>;
  /** Read from a file, not from the server. */
  fromFile?: boolean;
}

export function addSelectFlags(c: Command, what: string, opts: { all?: boolean; fieldSelector?: boolean } = {}): Command {
  c.option('-f, --filename <file...>', `files, directories or URLs identifying the resources to ${what}`)
    .option('-R, --recursive', 'process the directories given with -f recursively')
    .option('-l, --selector <selector>', 'label selector (e.g. -l key1=value1,key2=value2)')
    .option('-A, --all-namespaces', 'act across all namespaces');
  if (opts.fieldSelector) c.option('--field-selector <selector>', 'field selector (e.g. --field-selector status.phase=Running)');
  if (opts.all) c.option('--all', `${what} every resource of the given types`);
  return c;
}

/** Namespace of a list or a new object: -A means all; else -n or the context's. */
export const listNamespace = (cli: Cli, res: ApiResource, allNamespaces?: boolean): string | undefined =>
  res.namespaced && !allNamespaces ? cli.namespace : undefined;

/**
 * The objects named by args and flags. Named ones are not read from the server unless `fetch`; errors reading
 * them are reported through cli.fail and skipped, as kubectl carries on to the next.
 */
export async function selectInfos(cli: Cli, args: string[], flags: SelectFlags, opts: { fetch?: boolean; verb: string }): Promise<Info[]> {
  const resolver = await cli.resolver();
  if (flags.filename?.length) {
    if (args.length) throw new CliError(`when -f is given, no resource type or name may be given (got ${args.join(' ')})`);
    const manifests = await readManifests(cli.io, flags.filename, flags.recursive, opts.verb);
    const out: Info[] = [];
    for (const m of manifests) {
      const res = resolver.byKind(m.obj.apiVersion ?? '', m.obj.kind ?? '');
      if (!res) {
        cli.fail(new CliError(`resource mapping not found for name: "${m.obj.metadata?.name ?? ''}" namespace: "${m.obj.metadata?.namespace ?? ''}" from "${m.source}": no matches for kind "${m.obj.kind}" in version "${m.obj.apiVersion}"`));
        continue;
      }
      const namespace = res.namespaced ? (m.obj.metadata?.namespace ?? cli.namespace) : undefined;
      if (res.namespaced && cli.flags.namespace && m.obj.metadata?.namespace && m.obj.metadata.namespace !== cli.flags.namespace) {
        throw new CliError(`the namespace from the provided object "${m.obj.metadata.namespace}" does not match the namespace "${cli.flags.namespace}". You must pass '--namespace=${m.obj.metadata.namespace}' to perform this operation.`);
      }
      const info: Info = { res, namespace, name: m.obj.metadata?.name ?? '', obj: m.obj, fromFile: true };
      if (opts.fetch) {
        try {
          info.obj = (await cli.client(res).get(namespace, info.name)) as Info['obj'];
          info.fromFile = false;
        } catch (e) {
          cli.fail(e);
          continue;
        }
      }
      out.push(info);
    }
    return out;
  }
  if (!args.length) throw new CliError(`You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'`);
  const targets = parseTargets(resolver, args);
  const out: Info[] = [];
  for (const t of targets) {
    if (t.name !== undefined) {
      const namespace = cli.nsFor(t.res);
      if (!opts.fetch) {
        out.push({ res: t.res, namespace, name: t.name });
        continue;
      }
      try {
        const obj = (await cli.client(t.res).get(namespace, t.name)) as Info['obj'];
        out.push({ res: t.res, namespace, name: t.name, ...(obj ? { obj: withKind(obj, t.res) } : {}) });
      } catch (e) {
        cli.fail(e);
      }
      continue;
    }
    if (!flags.selector && !flags.fieldSelector && !flags.all) {
      throw new CliError(`resource(s) were provided, but no name was specified`);
    }
    const list = await cli.client(t.res).listAll(listNamespace(cli, t.res, flags.allNamespaces), {
      ...(flags.selector ? { labelSelector: flags.selector } : {}),
      ...(flags.fieldSelector ? { fieldSelector: flags.fieldSelector } : {}),
    });
    for (const o of list.items) {
      out.push({ res: t.res, namespace: o.metadata?.namespace, name: o.metadata?.name ?? '', obj: withKind(o, t.res) as Info['obj'] });
    }
  }
  return out;
}

/** List items come without apiVersion and kind; printers and patches want them. */
export function withKind<T extends ObjectLike>(o: T, res: ApiResource): T {
  return { ...o, apiVersion: o.apiVersion ?? apiVersionOf(res), kind: o.kind ?? res.kind };
}

/** The message for an empty selection: "No resources found in default namespace." */
export function noResources(cli: Cli, namespaced: boolean, allNamespaces?: boolean): string {
  return namespaced && !allNamespaces ? `No resources found in ${cli.namespace} namespace.` : 'No resources found';
}
