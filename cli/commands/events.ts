// `ketch events`: events sorted by when they last happened (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE), --for an
// object, --types, -A, and --watch.
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { EVENTS } from '../../client/resources.js';
import { eventAge, sortEvents, type EventLike } from '../events.js';
import { parseOutput, printObjects } from '../printers/index.js';
import { formatColumns } from '../printers/table.js';

interface EventsFlags {
  allNamespaces?: boolean;
  for?: string;
  types?: string[];
  watch?: boolean;
  output?: string;
  noHeaders?: boolean;
}

export function register(program: Command): void {
  program
    .command('events')
    .description('list events')
    .option('-A, --all-namespaces', 'events in all namespaces')
    .option('--for <TYPE/NAME>', 'only events about this object')
    .option('--types <types...>', 'only these types (Normal, Warning)')
    .option('-w, --watch', 'after listing, watch for new events')
    .option('-o, --output <format>', 'json or yaml')
    .option('--no-headers', "don't print headers")
    .action(async (flags: EventsFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const ns = flags.allNamespaces ? undefined : cli.namespace;
      const sel: string[] = [];
      if (flags.for) {
        const i = flags.for.indexOf('/');
        if (i <= 0) throw new CliError(`--for must be in resource/name form`);
        const res = await cli.resolve(flags.for.slice(0, i));
        sel.push(`involvedObject.kind=${res.kind}`, `involvedObject.name=${flags.for.slice(i + 1)}`);
      }
      const types = (flags.types ?? []).flatMap((t) => t.split(',')).map((t) => t.toLowerCase());
      for (const t of types) if (t !== 'normal' && t !== 'warning') throw new CliError(`valid --types are Normal or Warning`);
      const keep = (e: EventLike): boolean => !types.length || types.includes((e.type ?? '').toLowerCase());
      const c = cli.rest.resource<EventLike>(EVENTS);
      const list = await c.listAll(ns, sel.length ? { fieldSelector: sel.join(',') } : {});
      const evs = sortEvents(list.items.filter(keep));
      const fmt = flags.output ? parseOutput(flags.output, ['json', 'yaml']) : undefined;
      const row = (e: EventLike): string[] => [
        ...(flags.allNamespaces ? [e.metadata?.namespace ?? ''] : []),
        eventAge(e),
        e.type ?? '',
        e.reason ?? '',
        `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
        (e.message ?? '').trim(),
      ];
      const header = [...(flags.allNamespaces ? ['NAMESPACE'] : []), 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];
      if (fmt) cli.io.stdout.write(printObjects(fmt, evs.map((e) => ({ ...e, apiVersion: 'v1', kind: 'Event' })), true));
      else if (evs.length) cli.io.stdout.write(formatColumns([...(flags.noHeaders ? [] : [header]), ...evs.map(row)]));
      else if (!flags.watch) cli.err(ns ? `No events found in ${ns} namespace.` : 'No events found.');
      if (!flags.watch) return;
      for await (const ev of c.watch(ns, { ...(sel.length ? { fieldSelector: sel.join(',') } : {}), ...(list.metadata.resourceVersion ? { resourceVersion: list.metadata.resourceVersion } : {}) })) {
        if (ev.type === 'DELETED' || ev.type === 'BOOKMARK' || !keep(ev.object)) continue;
        if (fmt) cli.io.stdout.write(printObjects(fmt, [{ ...ev.object, apiVersion: 'v1', kind: 'Event' }], false));
        else cli.io.stdout.write(formatColumns([row(ev.object)]));
      }
    });
}
