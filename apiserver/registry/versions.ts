// Another version of a stored kind (api/resources OTHER_VERSIONS: autoscaling/v1 HorizontalPodAutoscalers beside the
// stored v2), served through the stored version's store: objects are converted out on every read and watch event and
// in on every write, so both versions read and write the same objects, as kube-apiserver serves a group's versions
// from one storage version.
import { errors } from '../../api/errors.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import { hpaToV1, hpaToV2, type HorizontalPodAutoscaler, type HorizontalPodAutoscalerV1 } from '../../api/index.js';
import type { Storage } from '../storage/interface.js';
import type { Obj } from './object.js';
import type { DeleteParams, ListOut, ListParams, ObjectWatch, UpdateOptions, WatchOut, WatchParams, WriteOptions } from './rest.js';
import { Store, type StoreDeps } from './store.js';
import type { Strategy } from './strategy.js';

/** Converts objects to `desiredAPIVersion`; objects already in it come back as they are. */
export type Converter = (objects: Obj[], desiredAPIVersion: string) => Promise<Obj[]>;

type ToVersion = (o: Obj) => Obj;

/** A converter from a pair of pure conversions: `toOther` from the stored version, `toStored` back. */
function pairConverter(stored: string, other: string, toOther: ToVersion, toStored: ToVersion): Converter {
  return async (objects, desired) =>
    objects.map((o) => {
      if (o.apiVersion === desired) return o;
      if (desired === other && o.apiVersion === stored) return toOther(o);
      if (desired === stored && o.apiVersion === other) return toStored(o);
      throw errors.internal(`no conversion of ${String(o.apiVersion)} to ${desired}`);
    });
}

/** The conversions of each kind with another version served, by `group/Kind`. */
const CONVERTERS: Readonly<Record<string, Converter>> = {
  'autoscaling/HorizontalPodAutoscaler': pairConverter(
    'autoscaling/v2',
    'autoscaling/v1',
    (o) => hpaToV1(o as unknown as HorizontalPodAutoscaler) as unknown as Obj,
    (o) => hpaToV2(o as unknown as HorizontalPodAutoscalerV1) as unknown as Obj,
  ),
};

export function converterFor(info: Pick<ResourceInfo, 'group' | 'kind'>): Converter | undefined {
  return CONVERTERS[`${info.group}/${info.kind}`];
}

/** Metadata a conversion may not change. */
function pinned(m: Obj['metadata']): Partial<Obj['metadata']> {
  const out: Record<string, unknown> = {};
  for (const k of ['name', 'namespace', 'generateName', 'resourceVersion', 'uid'] as const) if (m[k] !== undefined) out[k] = m[k];
  return out as Partial<Obj['metadata']>;
}

/** Serves one version of a kind through the store of its stored version, converting each way. */
export class VersionedStore extends Store {
  private readonly version: string;

  constructor(
    info: ResourceInfo,
    strategy: Strategy,
    storage: Storage,
    deps: StoreDeps,
    private readonly stored: Store,
    private readonly convert: Converter,
  ) {
    super(info, strategy, storage, deps);
    this.version = apiVersionOf(info);
  }

  private async out(o: Obj): Promise<Obj> {
    return (await this.convert([o], this.version))[0] as Obj;
  }

  private async in(o: Obj): Promise<Obj> {
    const input = { ...o, apiVersion: o.apiVersion || this.version, kind: o.kind || this.info.kind };
    if (input.apiVersion !== this.version) throw errors.badRequest(`the API version in the data (${input.apiVersion}) does not match the expected API version (${this.version})`);
    const converted = (await this.convert([input], apiVersionOf(this.stored.info)))[0] as Obj;
    return { ...converted, metadata: { ...converted.metadata, ...pinned(o.metadata ?? {}) } };
  }

  override json(obj: Obj): string {
    return JSON.stringify(obj);
  }

  override async get(namespace: string, name: string): Promise<Obj> {
    return this.out(await this.stored.get(namespace, name));
  }

  override async getJson(namespace: string, name: string): Promise<string> {
    return JSON.stringify(await this.get(namespace, name));
  }

  override async getRecent(namespace: string, name: string): Promise<Obj> {
    return this.out(await this.stored.getRecent(namespace, name));
  }

  override async lookup(namespace: string, name: string): Promise<Obj | undefined> {
    const o = await this.stored.lookup(namespace, name);
    return o && this.out(o);
  }

  override async lookupAll(): Promise<Obj[]> {
    return this.convert(await this.stored.lookupAll(), this.version);
  }

  override async list(namespace: string, p: ListParams = {}): Promise<ListOut> {
    const out = await this.stored.list(namespace, p);
    return { ...out, items: await this.convert(out.items, this.version) };
  }

  override async listJson(namespace: string, p: ListParams, listKind: string): Promise<Buffer> {
    const out = await this.list(namespace, p);
    const metadata = { resourceVersion: out.resourceVersion, ...(out.continue ? { continue: out.continue } : {}), ...(out.remainingItemCount !== undefined ? { remainingItemCount: out.remainingItemCount } : {}) };
    return Buffer.from(JSON.stringify({ kind: listKind, apiVersion: this.version, metadata, items: out.items }));
  }

  override async create(namespace: string, input: Obj, opts: WriteOptions = {}): Promise<Obj> {
    return this.out(await this.stored.create(namespace, await this.in(input), { ...opts, owned: true }));
  }

  override async update(namespace: string, name: string, transform: (current: Obj | undefined) => Obj | Promise<Obj>, opts: UpdateOptions = {}): Promise<{ obj: Obj; created: boolean }> {
    // The transform sees and gives this version; the stored store gets the stored version (never its own object).
    const r = await this.stored.update(namespace, name, async (cur) => this.in(await transform(cur && (await this.out(cur)))), { ...opts, currentReadOnly: false });
    return { obj: await this.out(r.obj), created: r.created };
  }

  override async delete(namespace: string, name: string, p: DeleteParams = {}): Promise<{ obj: Obj; deleted: boolean }> {
    const r = await this.stored.delete(namespace, name, p);
    return { obj: await this.out(r.obj), deleted: r.deleted };
  }

  override async deleteCollection(namespace: string, list: ListParams, p: DeleteParams): Promise<Obj[]> {
    return this.convert(await this.stored.deleteCollection(namespace, list, p), this.version);
  }

  override watch(namespace: string, p: WatchParams): ObjectWatch {
    const inner = this.stored.watch(namespace, p);
    const self = this;
    async function* run(): AsyncGenerator<WatchOut> {
      for await (const ev of inner) {
        if (ev.type === 'ERROR') yield ev;
        else if (ev.type === 'BOOKMARK') yield { ...ev, object: { ...(ev.object as Obj), apiVersion: self.version } };
        else yield { type: ev.type, object: await self.out(ev.object as Obj) };
      }
    }
    const gen = run();
    return { [Symbol.asyncIterator]: () => gen, close: () => inner.close() };
  }

  override close(): void {
    // The stored version's store owns the cacher; closing it there ends this version's watches too.
  }
}
