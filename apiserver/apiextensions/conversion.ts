// Conversion of custom resources between versions: a version other than the storage version is served by a store that
// reads and writes through the storage version's store, converting on the way in and out: by webhook (ConversionReview
// v1 over HTTPS, the CRD's caBundle), or for conversion None by setting the apiVersion (kube's nopConverter). Objects
// are stored in the storage version only, and the registry never relabels what it reads.
import { randomUUID } from 'node:crypto';
import { errors } from '../../api/errors.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import type { CustomResourceConversion } from '../../api/schemas/extensions.js';
import type { Static } from '@sinclair/typebox';
import { postJson, type ServiceResolver } from '../admission/webhook/client.js';
import type { Obj } from '../registry/object.js';
import type { DeleteParams, ListOut, ListParams, ObjectWatch, UpdateOptions, WatchOut, WatchParams, WriteOptions } from '../registry/rest.js';
import { Store, type StoreDeps } from '../registry/store.js';
import type { Strategy } from '../registry/strategy.js';
import type { Storage } from '../storage/interface.js';

export type Converter = (objects: Obj[], desiredAPIVersion: string) => Promise<Obj[]>;

/** Conversion None (kube's nopConverter): the same object under the desired apiVersion. */
export const noneConverter: Converter = async (objects, desired) => objects.map((o) => (o.apiVersion === desired ? o : { ...o, apiVersion: desired }));

/** A converter calling the CRD's conversion webhook; objects already in the desired version are not sent. */
export function webhookConverter(conversion: Static<typeof CustomResourceConversion>, info: Pick<ResourceInfo, 'group' | 'kind'>, resolver: ServiceResolver): Converter {
  const cc = conversion.webhook?.clientConfig ?? {};
  const fail = (why: string) => errors.internal(`conversion webhook for ${info.group}/${info.kind} failed: ${why}`);
  return async (objects, desired) => {
    const todo = objects.filter((o) => o.apiVersion !== desired);
    if (todo.length === 0) return objects;
    const uid = randomUUID();
    let out: { response?: { uid?: string; convertedObjects?: Obj[]; result?: { status?: string; message?: string } } };
    try {
      out = (await postJson(cc, { apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview', request: { uid, desiredAPIVersion: desired, objects: todo } }, { timeoutSeconds: 30, resolver })) as typeof out;
    } catch (err) {
      throw fail((err as Error).message);
    }
    const r = out.response;
    if (!r || r.uid !== uid) throw fail('the response does not answer the request (uid)');
    if (r.result?.status !== 'Success') throw fail(r.result?.message ?? 'conversion failed');
    const converted = r.convertedObjects ?? [];
    if (converted.length !== todo.length) throw fail(`expected ${todo.length} converted objects, got ${converted.length}`);
    for (const c of converted) if (c.apiVersion !== desired) throw fail(`invalid converted object: apiVersion ${String(c.apiVersion)}, expected ${desired}`);
    let i = 0;
    return objects.map((o) => (o.apiVersion === desired ? o : (converted[i++] as Obj)));
  };
}

/** Serves one version of a custom resource through the storage version's store, converting by webhook. */
export class ConversionStore extends Store {
  private readonly version: string;
  private readonly storageVersion: string;

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
    this.storageVersion = apiVersionOf(stored.info);
  }

  private async out(o: Obj): Promise<Obj> {
    return (await this.convert([o], this.version))[0] as Obj;
  }

  private async in(o: Obj): Promise<Obj> {
    const input = { ...o, apiVersion: o.apiVersion || this.version, kind: o.kind || this.info.kind };
    if (input.apiVersion !== this.version) throw errors.badRequest(`the API version in the data (${input.apiVersion}) does not match the expected API version (${this.version})`);
    const converted = (await this.convert([input], this.storageVersion))[0] as Obj;
    // What the client could not change is kept from the request, whatever the webhook answered.
    return { ...converted, metadata: { ...converted.metadata, ...pick(o.metadata) } };
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
    const metadata = { resourceVersion: out.resourceVersion, ...(out.continue ? { continue: out.continue } : {}) };
    return Buffer.from(JSON.stringify({ kind: listKind, apiVersion: this.version, metadata, items: out.items }));
  }

  override async create(namespace: string, input: Obj, opts: WriteOptions = {}): Promise<Obj> {
    return this.out(await this.stored.create(namespace, await this.in(input), { ...opts, owned: true }));
  }

  override async update(namespace: string, name: string, transform: (current: Obj | undefined) => Obj | Promise<Obj>, opts: UpdateOptions = {}): Promise<{ obj: Obj; created: boolean }> {
    const r = await this.stored.update(
      namespace,
      name,
      async (cur) => {
        const next = await transform(cur && (await this.out(cur)));
        return this.in(next);
      },
      opts,
    );
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
        if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') yield ev.type === 'BOOKMARK' ? { ...ev, object: { ...(ev.object as Obj), apiVersion: self.version } } : ev;
        else yield { type: ev.type, object: await self.out(ev.object as Obj) };
      }
    }
    const gen = run();
    return { [Symbol.asyncIterator]: () => gen, close: () => inner.close() };
  }
}

/** Metadata a conversion may not change. */
function pick(m: Obj['metadata']): Partial<Obj['metadata']> {
  const out: Record<string, unknown> = {};
  for (const k of ['name', 'namespace', 'generateName', 'resourceVersion', 'uid'] as const) if (m[k] !== undefined) out[k] = m[k];
  return out as Partial<Obj['metadata']>;
}
