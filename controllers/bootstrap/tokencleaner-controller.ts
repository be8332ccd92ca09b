// The token cleaner (pkg/controller/bootstrap/tokencleaner.go): deletes bootstrap-token Secrets in kube-system once
// their expiration has passed, each at its time (a Secret that expires later is looked at again then).
import { BOOTSTRAP_TOKEN_NAMESPACE, BOOTSTRAP_TOKEN_SECRET_TYPE, tokenExpired } from '../../api/bootstrap-token.js';
import type { Secret } from '../../api/index.js';
import { isNotFound } from '../../api/errors.js';
import type { Informer } from '../../client/informer.js';
import { SECRETS } from '../../client/resources.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';

/** The bootstrap-token Secrets, as the token cleaner and the bootstrap signer watch them. */
export function bootstrapTokenSecrets(ctx: ControllerContext): Informer<Secret> {
  return ctx.informers.for<Secret>(SECRETS, { namespace: BOOTSTRAP_TOKEN_NAMESPACE, fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}` });
}

/** The expiration written in a bootstrap-token Secret, if any. */
export function expirationOf(secret: Secret): string | undefined {
  const v = secret.data?.expiration;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

export class TokenCleanerController extends Controller {
  private readonly secrets: Informer<Secret>;
  private readonly client: ResourceClient<Secret>;
  protected readonly informers;

  constructor(ctx: ControllerContext) {
    super({ name: 'token-cleaner', clock: ctx.clock, workers: 1 });
    this.secrets = bootstrapTokenSecrets(ctx);
    this.informers = [this.secrets];
    this.client = ctx.rest.resource<Secret>(SECRETS);
    this.secrets.addEventHandler({ onAdd: (s) => this.enqueue(s), onUpdate: (_o, s) => this.enqueue(s) });
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const secret = this.secrets.indexer.get(key);
    if (!secret || secret.metadata.deletionTimestamp) return;
    const expiration = expirationOf(secret);
    if (expiration === undefined) return;
    const now = this.clock.now();
    if (!tokenExpired({ expiration }, now)) return { requeueAfterMs: Date.parse(expiration) - now };
    try {
      // The uid precondition: a Secret recreated under the same name since is not this one.
      await this.client.delete(BOOTSTRAP_TOKEN_NAMESPACE, secret.metadata.name ?? '', { preconditions: { uid: secret.metadata.uid ?? '' } });
      log.info('deleted expired bootstrap token', { secret: secret.metadata.name, expiration });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
