// Reading events about an object (describe, why, events --for) and printing them as kubectl does.
import type { KubeEvent } from '../client/events.js';
import { EVENTS } from '../client/resources.js';
import type { ObjectLike } from '../client/rest.js';
import type { Cli } from './context.js';
import { age } from './printers/age.js';

export type EventLike = Partial<KubeEvent> & ObjectLike & { eventTime?: string; series?: { count?: number; lastObservedTime?: string }; reportingController?: string };

/** When the event last happened, whichever field the writer used. */
export const lastSeen = (e: EventLike): string | undefined => e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? (e.metadata?.creationTimestamp as string | undefined);

export function sortEvents(evs: EventLike[]): EventLike[] {
  return [...evs].sort((a, b) => Date.parse(lastSeen(a) ?? '') - Date.parse(lastSeen(b) ?? ''));
}

/** The events whose involvedObject is obj (by uid when it has one). */
export async function eventsFor(cli: Cli, obj: ObjectLike, kind?: string): Promise<EventLike[]> {
  const m = obj.metadata ?? {};
  const sel = [`involvedObject.name=${m.name ?? ''}`, ...(m.namespace ? [`involvedObject.namespace=${m.namespace}`] : []), ...(kind ? [`involvedObject.kind=${kind}`] : [])];
  const list = await cli.rest.resource<EventLike>(EVENTS).list(m.namespace ?? (kind === 'Node' ? undefined : cli.namespace), { fieldSelector: sel.join(',') });
  // Events written without the uid still count; events about an older object of the same name do not.
  return sortEvents(list.items.filter((e) => !e.involvedObject?.uid || !m.uid || e.involvedObject.uid === m.uid));
}

/**
 * eventsFor, or none when they cannot be listed: events only add to what describe and why print, so, as kubectl
 * describe does, the object is shown without them rather than not at all.
 */
export function eventsOrNone(cli: Cli, obj: ObjectLike, kind?: string): Promise<EventLike[]> {
  return eventsFor(cli, obj, kind).catch(() => []);
}

/** `3m (x5 over 10m)` for repeated events. */
export function eventAge(e: EventLike, now = Date.now()): string {
  const count = e.series?.count ?? e.count ?? 1;
  const last = age(lastSeen(e), now);
  if (count > 1 && e.firstTimestamp) return `${last} (x${count} over ${age(e.firstTimestamp, now)})`;
  return last;
}

export const eventSource = (e: EventLike): string => e.source?.component ? `${e.source.component}${e.source.host ? `, ${e.source.host}` : ''}` : (e.reportingController ?? e.reportingComponent ?? '');

/** The Events section of describe, tab-separated for the tab writer. */
export function describeEvents(evs: EventLike[]): string {
  if (!evs.length) return 'Events:\t<none>\n';
  let s = 'Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n';
  for (const e of evs) s += `  ${e.type ?? ''}\t${e.reason ?? ''}\t${eventAge(e)}\t${eventSource(e)}\t${(e.message ?? '').trim()}\n`;
  return s;
}
