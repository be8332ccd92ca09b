// Puts the "default" ServiceAccount and the kube-root-ca.crt ConfigMap (the cluster CA) into every namespace, and puts
// them back when deleted or changed: kube-controller-manager's serviceaccount and root-ca-cert-publisher controllers,
// run inside the API server so that a pod can be admitted the moment its namespace exists.
import { ApiError } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import { orMissing } from '../admission/namespace-lifecycle.js';
import { isObject, type Obj } from '../registry/object.js';
import type { WatchParams, WatchOut } from '../registry/rest.js';
import type { Store } from '../registry/store.js';
import { DEFAULT_SERVICE_ACCOUNT, ROOT_CA_CONFIGMAP } from './admission.js';

const FIELD_MANAGER = 'ketch-apiserver';
const RETRY_MS = 1000;
const CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

export interface PublisherStores {
  namespaces: Store;
  serviceAccounts: Store;
  configMaps: Store;
}

export class NamespaceContentPublisher {
  private stopped = false;
  private readonly watches = new Set<{ close(): void }>();
  private readonly queue = new Set<string>();
  private draining: Promise<void> | undefined;

  constructor(
    private readonly stores: PublisherStores,
    private readonly caPem: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.follow(this.stores.namespaces, {}, (ev) => (ev.type === 'ADDED' ? nameOf(ev) : undefined));
    this.follow(this.stores.serviceAccounts, { fieldSelector: `metadata.name=${DEFAULT_SERVICE_ACCOUNT}` }, (ev) => (ev.type === 'DELETED' ? namespaceOf(ev) : undefined));
    this.follow(this.stores.configMaps, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP}` }, (ev) =>
      ev.type === 'DELETED' || ev.type === 'MODIFIED' ? namespaceOf(ev) : undefined,
    );
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches) w.close();
  }

  /** Publishes into these namespaces now (the system namespaces at start). */
  async syncNow(namespaces: readonly string[]): Promise<void> {
    for (const ns of namespaces) await this.sync(ns);
  }

  /** Keeps a watch open (re-opened after it ends) and enqueues the namespace each interesting event names. */
  private follow(store: Store, params: WatchParams, keyOf: (ev: WatchOut) => string | undefined): void {
    const run = async (): Promise<void> => {
      while (!this.stopped) {
        const w = store.watch('', params);
        this.watches.add(w);
        try {
          for await (const ev of w) {
            const ns = keyOf(ev);
            if (ns) this.enqueue(ns);
          }
        } catch (err) {
          this.log.warn('publisher watch failed', { resource: store.info.resource, error: (err as Error).message });
        } finally {
          this.watches.delete(w);
          w.close();
        }
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
      }
    };
    void run();
  }

  private enqueue(ns: string): void {
    this.queue.add(ns);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    for (const ns of this.queue) {
      if (this.stopped) return;
      this.queue.delete(ns);
      try {
        await this.sync(ns);
      } catch (err) {
        this.log.warn('publishing namespace content failed', { namespace: ns, error: (err as Error).message });
        setTimeout(() => this.stopped || this.enqueue(ns), RETRY_MS).unref();
      }
    }
  }

  private async sync(ns: string): Promise<void> {
    const namespace = await orMissing(this.stores.namespaces.get('', ns));
    const phase = namespace && isObject(namespace.status) ? namespace.status.phase : undefined;
    if (!namespace || namespace.metadata.deletionTimestamp || phase === 'Terminating') return;
    try {
      await this.ensureServiceAccount(ns);
      await this.ensureRootCa(ns);
    } catch (err) {
      // The namespace started terminating meanwhile: its content is going away on purpose.
      if (err instanceof ApiError && err.code === 403) return;
      throw err;
    }
  }

  private async ensureServiceAccount(ns: string): Promise<void> {
    if (await orMissing(this.stores.serviceAccounts.get(ns, DEFAULT_SERVICE_ACCOUNT))) return;
    try {
      await this.stores.serviceAccounts.create(ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DEFAULT_SERVICE_ACCOUNT } }, { fieldManager: FIELD_MANAGER });
      this.log.debug('service account created', { namespace: ns, name: DEFAULT_SERVICE_ACCOUNT });
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
    }
  }

  private async ensureRootCa(ns: string): Promise<void> {
    const data = { 'ca.crt': this.caPem };
    await this.stores.configMaps.update(
      ns,
      ROOT_CA_CONFIGMAP,
      (cur): Obj => {
        if (!cur) {
          return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, annotations: { 'kubernetes.io/description': CA_DESCRIPTION } }, data };
        }
        // Only the data is put back; labels and annotations someone added stay.
        const { binaryData: _binary, ...rest } = cur;
        return { ...rest, data };
      },
      { allowCreate: true, fieldManager: FIELD_MANAGER },
    );
  }
}

const nameOf = (ev: WatchOut): string | undefined => (isObject(ev.object) && isObject(ev.object.metadata) ? String(ev.object.metadata.name ?? '') || undefined : undefined);
const namespaceOf = (ev: WatchOut): string | undefined =>
  isObject(ev.object) && isObject(ev.object.metadata) ? String(ev.object.metadata.namespace ?? '') || undefined : undefined;
