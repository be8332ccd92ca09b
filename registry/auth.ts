// Authentication and authorization as the distribution spec's token flow has them: a request without a valid bearer
// token gets 401 and `WWW-Authenticate: Bearer realm=...,service=...,scope=repository:NAME:ACTIONS`; the client asks
// the token endpoint (Basic auth whose password is a cluster token, as `docker login -u x -p TOKEN` sends) and gets a
// short-lived JWT naming the actions granted. Cluster tokens are checked by a TokenReview, each action by a
// SubjectAccessReview against the API server: pull = get, push = create, delete = delete on
// registry.ketch.dev/repositories, in the namespace that is the repository's first path component (NS/app: namespace
// NS, name app), cluster-wide for a repository without one; the catalog is list on repositories, cluster-wide.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { SignJWT, jwtVerify } from 'jose';
import type { RestClient } from '../client/rest.js';
import { RegistryError } from './errors.js';
import { logger } from '../lib/logger.js';

const log = logger('registry');

export const REGISTRY_GROUP = 'registry.ketch.dev';
export const REGISTRY_RESOURCE = 'repositories';

/** One entry of a token's `access` claim, and of a request's needs. */
export interface Access {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

export interface Principal {
  name: string;
  uid?: string;
  groups: string[];
}

export const ANONYMOUS: Principal = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The SubjectAccessReview attributes of one action. */
export interface ResourceAttributes {
  verb: string;
  namespace?: string;
  name?: string;
}

/** The cluster's answers: who a token stands for, and what they may do. */
export interface ClusterAuth {
  authenticate(token: string): Promise<Principal | undefined>;
  authorize(user: Principal, attrs: ResourceAttributes): Promise<boolean>;
}

const VERBS: Record<string, string> = { pull: 'get', push: 'create', delete: 'delete', '*': 'list' };

/** Where an action on a repository or the catalog is authorized: verb, namespace and name. */
export function attributesFor(type: Access['type'], name: string, action: string): ResourceAttributes | undefined {
  if (type === 'registry') return name === 'catalog' && action === '*' ? { verb: 'list' } : undefined;
  const verb = VERBS[action];
  if (!verb || action === '*') return undefined;
  const slash = name.indexOf('/');
  return slash > 0 ? { verb, namespace: name.slice(0, slash), name: name.slice(slash + 1) } : { verb, name };
}

/** Parses `repository:foo/bar:pull,push` (and `registry:catalog:*`); anything else is left out. */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  const type = scope.slice(0, first);
  if (type !== 'repository' && type !== 'registry') return undefined;
  const actions = scope.slice(last + 1).split(',').map((a) => a.trim()).filter(Boolean);
  return { type, name: scope.slice(first + 1, last), actions };
}

const scopeString = (a: Access): string => `${a.type}:${a.name}:${a.actions.join(',')}`;

/** TokenReview and SubjectAccessReview against the API server, each answer kept for a few seconds. */
export function apiServerAuth(rest: RestClient, cacheMs = 10_000): ClusterAuth {
  const tokens = new Map<string, { at: number; user: Principal | undefined }>();
  const decisions = new Map<string, { at: number; allowed: boolean }>();
  const fresh = (at: number): boolean => Date.now() - at < cacheMs;
  const prune = <V extends { at: number }>(m: Map<string, V>): void => {
    if (m.size < 10_000) return;
    for (const [k, v] of m) if (!fresh(v.at)) m.delete(k);
  };
  return {
    async authenticate(token) {
      const key = createHash('sha256').update(token).digest('hex');
      const hit = tokens.get(key);
      if (hit && fresh(hit.at)) return hit.user;
      const review = await rest.request<{ status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[] } } }>(
        'POST',
        '/apis/authentication.k8s.io/v1/tokenreviews',
        { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } },
      );
      const u = review.status?.authenticated ? review.status.user : undefined;
      const user = u?.username ? { name: u.username, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups ?? [] } : undefined;
      prune(tokens);
      tokens.set(key, { at: Date.now(), user });
      return user;
    },
    async authorize(user, attrs) {
      const key = JSON.stringify([user.name, user.groups, attrs]);
      const hit = decisions.get(key);
      if (hit && fresh(hit.at)) return hit.allowed;
      const review = await rest.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.name,
            ...(user.uid ? { uid: user.uid } : {}),
            groups: user.groups,
            resourceAttributes: { group: REGISTRY_GROUP, resource: REGISTRY_RESOURCE, verb: attrs.verb, namespace: attrs.namespace ?? '', ...(attrs.name ? { name: attrs.name } : {}) },
          },
        },
      });
      const allowed = review.status?.allowed === true;
      prune(decisions);
      decisions.set(key, { at: Date.now(), allowed });
      return allowed;
    },
  };
}

export interface TokenServiceOptions {
  cluster: ClusterAuth;
  /** The signing key of registry tokens (HS256); keep it in the data dir so tokens outlive a restart. */
  key: Uint8Array;
  /** The `service` of the challenge and the tokens' audience. */
  service?: string;
  /** Token lifetime; clients ask again on the next 401. */
  ttlSeconds?: number;
  /** Grant pull (as SubjectAccessReviews for system:anonymous allow) to callers without credentials. */
  anonymousPull?: boolean;
}

interface Claims {
  sub: string;
  access: Access[];
}

/** Loads the token signing key from `path`, creating it (32 random bytes, mode 0600) when missing. */
export async function loadOrCreateKey(path: string): Promise<Uint8Array> {
  try {
    const key = await readFile(path);
    if (key.length >= 32) return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  await writeFile(path, key, { mode: 0o600 });
  return key;
}

export class TokenService {
  readonly service: string;
  private readonly ttl: number;
  private readonly verified = new Map<string, { exp: number; claims: Claims }>();

  constructor(private readonly opts: TokenServiceOptions) {
    this.service = opts.service ?? 'ketch-registry';
    this.ttl = opts.ttlSeconds ?? 300;
  }

  /**
   * The token endpoint: credentials from Basic auth (or an OAuth2 password/refresh form) or a client certificate of
   * the cluster CA, scopes from the query.
   */
  async issue(
    params: URLSearchParams,
    authorization: string | undefined,
    certificateUser?: Principal,
  ): Promise<{ token: string; access_token: string; expires_in: number; issued_at: string }> {
    const password = basicPassword(authorization) ?? params.get('password') ?? params.get('refresh_token') ?? undefined;
    let user = ANONYMOUS;
    if (certificateUser && !password) {
      user = certificateUser;
    } else if (password) {
      const found = await this.opts.cluster.authenticate(password);
      if (!found) throw this.unauthorized('invalid credentials: the password must be a token of the cluster', []);
      user = found;
    } else if (authorization) {
      throw this.unauthorized('the token endpoint takes Basic credentials', []);
    }
    const access: Access[] = [];
    for (const scope of params.getAll('scope').flatMap((s) => s.split(' '))) {
      const want = parseScope(scope);
      if (!want) continue;
      const granted = await this.grant(user, want);
      if (granted.actions.length) access.push(granted);
    }
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('ketch-registry')
      .setSubject(user.name)
      .setAudience(this.service)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.ttl)
      .setJti(randomBytes(8).toString('hex'))
      .sign(this.opts.key);
    log.debug('registry token issued', { user: user.name, access: access.map(scopeString) });
    return { token, access_token: token, expires_in: this.ttl, issued_at: new Date(now * 1000).toISOString() };
  }

  /** The actions of `want` that `user` may do; pushes and deletes are never granted to anonymous callers. */
  private async grant(user: Principal, want: Access): Promise<Access> {
    const actions: string[] = [];
    const asked = want.actions.includes('*') && want.type === 'repository' ? ['pull', 'push', 'delete'] : want.actions;
    for (const action of new Set(asked)) {
      const attrs = attributesFor(want.type, want.name, action);
      if (!attrs) continue;
      if (user === ANONYMOUS && !(this.opts.anonymousPull && action === 'pull')) continue;
      if (await this.opts.cluster.authorize(user, attrs)) actions.push(action);
    }
    return { type: want.type, name: want.name, actions };
  }

  /** Checks that a request's bearer token grants `need` (nothing more than a valid token for the base endpoint). */
  async check(authorization: string | undefined, need: Access | undefined, realm: string): Promise<string> {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const claims = m?.[1] ? await this.verify(m[1]) : undefined;
    if (!claims) throw this.unauthorized('authentication required', need ? [need] : [], realm);
    if (need && !need.actions.every((a) => claims.access.some((g) => g.type === need.type && g.name === need.name && (g.actions.includes(a) || g.actions.includes('*'))))) {
      throw this.unauthorized('authentication required', [need], realm, 'insufficient_scope');
    }
    return claims.sub;
  }

  private async verify(token: string): Promise<Claims | undefined> {
    const now = Date.now() / 1000;
    const hit = this.verified.get(token);
    if (hit) return hit.exp > now ? hit.claims : undefined;
    try {
      const { payload } = await jwtVerify(token, this.opts.key, { issuer: 'ketch-registry', audience: this.service, algorithms: ['HS256'] });
      const access = Array.isArray(payload.access) ? (payload.access as Access[]) : [];
      const claims = { sub: payload.sub ?? '', access };
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(token, { exp: payload.exp ?? now, claims });
      return claims;
    } catch (err) {
      log.debug('registry token refused', { reason: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }

  unauthorized(message: string, scopes: Access[], realm?: string, error?: string): RegistryError {
    const parts = [`realm="${realm ?? ''}"`, `service="${this.service}"`];
    if (scopes.length) parts.push(`scope="${scopes.map(scopeString).join(' ')}"`);
    if (error) parts.push(`error="${error}"`);
    return new RegistryError(401, 'UNAUTHORIZED', message, scopes.length ? scopes.map((s) => ({ Type: s.type, Name: s.name, Action: s.actions.join(',') })) : undefined, {
      'www-authenticate': `Bearer ${parts.join(',')}`,
    });
  }
}

function basicPassword(authorization: string | undefined): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) || undefined : undefined;
}
