// The bootstrap signer (pkg/controller/bootstrap/bootstrapsigner.go): signs kube-public/cluster-info's kubeconfig with
// every bootstrap token meant for signing (usage-bootstrap-signing, not expired), one jws-kubeconfig-<id> key each, and
// drops the signatures of tokens that are gone. A joining node recomputes its token's signature to trust the content.
import { CLUSTER_INFO, detachedSignature, tokenExpired, tokenFromSecret } from '../../api/bootstrap-token.js';
import type { ConfigMap, Secret } from '../../api/index.js';
import { deepEqual } from '../../api/field.js';
import type { Informer } from '../../client/informer.js';
import { CONFIGMAPS } from '../../client/resources.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { bootstrapTokenSecrets } from './tokencleaner-controller.js';

const KEY = `${CLUSTER_INFO.namespace}/${CLUSTER_INFO.name}`;

export class BootstrapSignerController extends Controller {
  private readonly secrets: Informer<Secret>;
  private readonly configMaps: Informer<ConfigMap>;
  private readonly client: ResourceClient<ConfigMap>;
  protected readonly informers;

  constructor(ctx: ControllerContext) {
    super({ name: 'bootstrap-signer', clock: ctx.clock, workers: 1 });
    this.secrets = bootstrapTokenSecrets(ctx);
    this.configMaps = ctx.informers.for<ConfigMap>(CONFIGMAPS, { namespace: CLUSTER_INFO.namespace, fieldSelector: `metadata.name=${CLUSTER_INFO.name}` });
    this.informers = [this.secrets, this.configMaps];
    this.client = ctx.rest.resource<ConfigMap>(CONFIGMAPS);
    const resync = (): void => this.queue.add(KEY);
    this.secrets.addEventHandler({ onAdd: resync, onUpdate: resync, onDelete: resync });
    this.configMaps.addEventHandler({ onAdd: resync, onUpdate: resync });
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    if (key !== KEY) return;
    const cm = this.configMaps.indexer.get(KEY);
    const content = cm?.data?.[CLUSTER_INFO.kubeconfigKey];
    if (!cm || content === undefined) return;
    const now = this.clock.now();
    const signatures: Record<string, string> = {};
    let nextExpiry = Infinity;
    for (const s of this.secrets.indexer.list()) {
      const t = tokenFromSecret(s);
      if ('invalid' in t || !t.usages.signing || tokenExpired(t, now)) continue;
      if (t.expiration) nextExpiry = Math.min(nextExpiry, Date.parse(t.expiration));
      signatures[`${CLUSTER_INFO.signaturePrefix}${t.id}`] = detachedSignature(content, t);
    }
    const others = Object.entries(cm.data ?? {}).filter(([k]) => !k.startsWith(CLUSTER_INFO.signaturePrefix));
    const data = { ...Object.fromEntries(others), ...signatures };
    // A token expiring takes its signature away at that time (the cleaner may delete its Secret only later).
    const requeue = Number.isFinite(nextExpiry) ? { requeueAfterMs: Math.max(0, nextExpiry - now) } : undefined;
    if (deepEqual(data, cm.data ?? {})) return requeue;
    await this.client.update({ ...cm, data });
    log.info('signed cluster-info', { tokens: Object.keys(signatures).map((k) => k.slice(CLUSTER_INFO.signaturePrefix.length)) });
    return requeue;
  }
}
