// EndpointSliceTracker (k8s.io/endpointslice/util): the generation of each slice this controller last wrote, per
// service. It tells the controller's own writes coming back through the watch (nothing to do) from changes by others
// (sync), and it holds a sync back while the informer cache is older than those writes (a sync on a stale cache would
// create duplicate slices).
import type { EndpointSlice } from '../framework/types.js';
import { LABEL_SERVICE_NAME } from '../../api/schemas/discovery.js';

const DELETION_EXPECTED = -1;

/** The "namespace/name" of the service a slice belongs to, from its label. */
export function serviceKeyOf(slice: EndpointSlice): string | undefined {
  const name = slice.metadata.labels?.[LABEL_SERVICE_NAME];
  return name ? `${slice.metadata.namespace ?? ''}/${name}` : undefined;
}

export class EndpointSliceTracker {
  /** service key -> slice uid -> generation written (or DELETION_EXPECTED). */
  private readonly byService = new Map<string, Map<string, number>>();

  private generations(slice: EndpointSlice, create = false): Map<string, number> | undefined {
    const key = serviceKeyOf(slice);
    if (!key) return undefined;
    let m = this.byService.get(key);
    if (!m && create) this.byService.set(key, (m = new Map()));
    return m;
  }

  /** Records a slice this controller created or updated. */
  update(slice: EndpointSlice): void {
    this.generations(slice, true)?.set(slice.metadata.uid ?? '', slice.metadata.generation ?? 0);
  }

  expectDeletion(slice: EndpointSlice): void {
    this.generations(slice, true)?.set(slice.metadata.uid ?? '', DELETION_EXPECTED);
  }

  /** Whether a slice event is news: a slice not written by us, or changed since our write. */
  shouldSync(slice: EndpointSlice): boolean {
    const g = this.generations(slice)?.get(slice.metadata.uid ?? '');
    return g === undefined || (slice.metadata.generation ?? 0) > g;
  }

  /** Forgets a deleted slice; true when the deletion was not ours (the service must be synced). */
  handleDeletion(slice: EndpointSlice): boolean {
    const m = this.generations(slice);
    const uid = slice.metadata.uid ?? '';
    const g = m?.get(uid);
    m?.delete(uid);
    return g !== DELETION_EXPECTED;
  }

  /** Whether the cache lacks a write of ours: a slice we wrote missing or older, or one we deleted still there. */
  stale(serviceKey: string, cached: EndpointSlice[]): boolean {
    const m = this.byService.get(serviceKey);
    if (!m) return false;
    const byUid = new Map(cached.map((s) => [s.metadata.uid ?? '', s]));
    for (const [uid, g] of m) {
      const s = byUid.get(uid);
      if (g === DELETION_EXPECTED ? s !== undefined : !s || (s.metadata.generation ?? 0) < g) return true;
    }
    return false;
  }

  deleteService(serviceKey: string): void {
    this.byService.delete(serviceKey);
  }
}
