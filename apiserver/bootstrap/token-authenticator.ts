// The bootstrap token authenticator (kube's plugin/pkg/auth/authenticator/token/bootstrap): "<id>.<secret>" bearer
// tokens checked against the Secret kube-system/bootstrap-token-<id>, read from the Secrets' watch cache. A valid token
// is the user system:bootstrap:<id> in system:bootstrappers and its auth-extra-groups.
import { timingSafeEqual } from 'node:crypto';
import {
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_USER_PREFIX,
  BOOTSTRAPPERS_GROUP,
  parseBootstrapToken,
  secretNameOf,
  tokenExpired,
  tokenFromSecret,
} from '../../api/bootstrap-token.js';
import type { Logger } from '../../lib/logger.js';
import type { TokenAuthenticator } from '../filters/authentication.js';
import type { Obj } from '../registry/object.js';

export interface BootstrapTokenDeps {
  /** The Secret, from the cache (never mutated), or undefined. */
  getSecret(namespace: string, name: string): Promise<Obj | undefined>;
  now(): number;
  /** What a token, which names no audience, is valid for: the API server's audiences. */
  apiAudiences: readonly string[];
  log: Logger;
}

export function bootstrapTokenAuthenticator(deps: BootstrapTokenDeps): TokenAuthenticator {
  return async (text, audiences) => {
    const token = parseBootstrapToken(text);
    if (!token) return undefined;
    const name = secretNameOf(token.id);
    const secret = await deps.getSecret(BOOTSTRAP_TOKEN_NAMESPACE, name);
    // Each refusal is logged at debug, as kube does: the caller only ever learns 401.
    const refuse = (reason: string): undefined => void deps.log.debug('bootstrap token refused', { secret: name, reason });
    if (!secret) return refuse('no such Secret');
    if (secret.metadata.deletionTimestamp) return refuse('the Secret is being deleted');
    const t = tokenFromSecret(secret as never);
    if ('invalid' in t) return refuse(t.invalid);
    const a = Buffer.from(t.secret);
    const b = Buffer.from(token.secret);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return refuse('the token secret does not match');
    if (tokenExpired(t, deps.now())) return refuse('expired');
    if (!t.usages.authentication) return refuse('usage-bootstrap-authentication is not "true"');
    const valid = audiences?.length ? audiences.filter((x) => deps.apiAudiences.includes(x)) : [...deps.apiAudiences];
    if (audiences?.length && !valid.length) return refuse('not valid for the audiences asked for');
    return { user: { name: BOOTSTRAP_USER_PREFIX + t.id, groups: [BOOTSTRAPPERS_GROUP, ...t.extraGroups] }, audiences: valid };
  };
}
