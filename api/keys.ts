// Small helpers for persisted objects: storage keys, uids, timestamps.
import { randomUUID } from 'node:crypto';
import type { ResourceInfo } from './resources.js';

/** The storage key of an object: `/registry/<group or core>/<resource>/<ns>/<name>`; cluster-scoped without ns. */
export function objectKey(info: Pick<ResourceInfo, 'group' | 'resource' | 'namespaced'>, namespace: string | undefined, name: string): string {
  return `${prefixKey(info, namespace)}${name}`;
}

/**
 * The key prefix of a collection, ending in '/': all objects of a resource (namespace undefined)
 * or of one namespace. Use it for list and watch.
 */
export function prefixKey(info: Pick<ResourceInfo, 'group' | 'resource' | 'namespaced'>, namespace?: string): string {
  const base = `/registry/${info.group || 'core'}/${info.resource}/`;
  return info.namespaced && namespace ? `${base}${namespace}/` : base;
}

export function newUid(): string {
  return randomUUID();
}

/** RFC 3339 in whole seconds, as metav1.Time serializes: 2024-01-02T15:04:05Z. */
export function nowRFC3339(date: Date = new Date()): string {
  // Every write stamps a time: format each second once.
  const sec = Math.floor(date.getTime() / 1000);
  if (sec !== lastSecond) {
    lastText = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
    lastSecond = sec;
  }
  return lastText;
}
let lastSecond = NaN;
let lastText = '';

/** RFC 3339 with microseconds, as metav1.MicroTime serializes (Lease renewTime, Event eventTime). */
export function nowRFC3339Micro(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Whether resourceVersion a is later than b: both storage backends use revisions (numbers); otherwise any difference counts. */
export function isNewerResourceVersion(a: string | undefined, b: string | undefined): boolean {
  const x = a ?? '';
  const y = b ?? '';
  if (!/^\d+$/.test(x) || !/^\d+$/.test(y)) return x !== y;
  return x.length !== y.length ? x.length > y.length : x > y;
}
