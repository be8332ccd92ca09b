// --use-service-account-credentials (kube-controller-manager's SAControllerClientBuilder): each controller talks to
// the API server as its own service account in kube-system, created when missing, with a token from the TokenRequest
// API that is renewed at 80% of its life (as client-go's token cache does). Tokens are bound to no object.
import { CONTROLLER_ACCOUNTS_NAMESPACE } from '../api/controller-accounts.js';
import { isAlreadyExists, isNotFound } from '../api/errors.js';
import { SERVICEACCOUNTS } from '../client/resources.js';
import { RestClient, type ObjectLike } from '../client/rest.js';
import { sleepUnlessAborted, type Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';

/** What the controllers' tokens ask for (kube: one hour). */
export const CONTROLLER_TOKEN_SECONDS = 3600;
const RETRY_MS = 5000;

interface TokenRequestAnswer {
  status?: { token?: string; expirationTimestamp?: string };
}

/** One account's token, kept fresh while the controllers run. */
class AccountToken {
  token = '';

  constructor(
    private readonly root: RestClient,
    private readonly account: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The account exists, then the first token is there (tried again every few seconds until then, or until aborted). */
  async start(signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await this.ensureAccount();
        const ttlMs = await this.refresh();
        void this.keepFresh(ttlMs, signal);
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        this.log.warn('controller credentials not ready, retrying', { account: this.account, error: err instanceof Error ? err.message : String(err) });
        await sleepUnlessAborted(this.clock, RETRY_MS, signal);
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('stopped');
      }
    }
  }

  private async ensureAccount(): Promise<void> {
    const accounts = this.root.resource<ObjectLike>(SERVICEACCOUNTS);
    try {
      await accounts.get(CONTROLLER_ACCOUNTS_NAMESPACE, this.account);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await accounts.create(CONTROLLER_ACCOUNTS_NAMESPACE, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: this.account, namespace: CONTROLLER_ACCOUNTS_NAMESPACE } });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e; // another manager made it meanwhile
      }
    }
  }

  /** A new token; returns how long it is valid. */
  private async refresh(): Promise<number> {
    const path = `/api/v1/namespaces/${CONTROLLER_ACCOUNTS_NAMESPACE}/serviceaccounts/${encodeURIComponent(this.account)}/token`;
    const r = await this.root.request<TokenRequestAnswer>('POST', path, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: CONTROLLER_TOKEN_SECONDS } },
    });
    const token = r?.status?.token;
    if (!token) throw new Error(`the TokenRequest for ${this.account} has no status.token`);
    this.token = token;
    const expires = Date.parse(r.status?.expirationTimestamp ?? '');
    return Number.isFinite(expires) ? Math.max(expires - this.clock.now(), 0) : CONTROLLER_TOKEN_SECONDS * 1000;
  }

  /** Renews at 80% of the token's life; a failed renewal is retried every few seconds while the old token lasts. */
  private async keepFresh(ttlMs: number, signal: AbortSignal): Promise<void> {
    let wait = ttlMs * 0.8;
    while (!signal.aborted) {
      await sleepUnlessAborted(this.clock, wait, signal);
      if (signal.aborted) return;
      try {
        wait = (await this.refresh()) * 0.8;
      } catch (err) {
        this.log.warn('controller token renewal failed, retrying', { account: this.account, error: err instanceof Error ? err.message : String(err) });
        wait = RETRY_MS;
      }
    }
  }
}

/**
 * A REST client per controller, each as its service account (CONTROLLER_SERVICE_ACCOUNTS): accounts are created
 * through `root` (the controller manager's own credential), tokens asked for and renewed until `signal` aborts.
 */
export async function serviceAccountClients(
  root: RestClient,
  accounts: Readonly<Record<string, string>>,
  o: { clock: Clock; log: Logger; signal: AbortSignal },
): Promise<Map<string, RestClient>> {
  const tokens = new Map<string, AccountToken>();
  for (const account of new Set(Object.values(accounts))) tokens.set(account, new AccountToken(root, account, o.clock, o.log));
  await Promise.all([...tokens.values()].map((t) => t.start(o.signal)));
  const clients = new Map<string, RestClient>();
  for (const [controller, account] of Object.entries(accounts)) {
    const t = tokens.get(account)!;
    // The root's server and CA; the account's token instead of the root's certificate or token.
    const { cert: _c, key: _k, token: _t, tokenSource: _s, ...cluster } = root.config;
    clients.set(controller, new RestClient({ ...cluster, tokenSource: () => t.token }, `ketch-controller-manager/${account}`));
  }
  return clients;
}
