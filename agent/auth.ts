// Who may call the agent's API (the kubelet's webhook authentication and authorization): a client certificate signed by
// the cluster CA names the user (CN) and groups (O); a bearer token is checked with a TokenReview at the API server;
// then a SubjectAccessReview asks whether that user may <verb> nodes/<subresource> of this node (proxy for logs,
// exec, attach, port-forward and pods; stats, metrics, log for those paths). Answers are cached as the kubelet
// caches them (authentication 2 minutes; authorization 5 minutes when allowed, 30 seconds when not).
import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RestClient } from '../client/rest.js';
import { realClock, type Clock } from '../lib/clock.js';

export interface AgentUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** A refusal: 401 (who are you) or 403 (not you), with the kubelet's message. */
export class AgentAuthError extends Error {
  constructor(
    readonly code: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const AUTHN_TTL_MS = 2 * 60_000;
const ALLOWED_TTL_MS = 5 * 60_000;
const DENIED_TTL_MS = 30_000;
/** Cache entries kept at most (the oldest go first). */
const MAX_ENTRIES = 10_000;

/** The nodes/<subresource> a path is about (kubelet's NodeRequestAttributesGetter). */
export function subresourceOf(path: string): string {
  const under = (prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);
  if (under('/stats')) return 'stats';
  if (under('/metrics')) return 'metrics';
  if (path.startsWith('/logs/')) return 'log';
  if (under('/checkpoint')) return 'checkpoint';
  return 'proxy';
}

/** The API verb of an HTTP method, as the kubelet maps it. */
export function verbOf(method: string | undefined): string {
  switch (method) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'get';
  }
}

class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  constructor(private readonly clock: Clock) {}
  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until > this.clock.now()) return e.value;
    this.entries.delete(key);
    return undefined;
  }
  set(key: string, value: V, ttlMs: number): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, until: this.clock.now() + ttlMs });
  }
}

interface TokenReviewAnswer {
  status?: { authenticated?: boolean; user?: AgentUser; error?: string };
}
interface AccessReviewAnswer {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

/** The user of a client certificate the TLS layer verified against the cluster CA; undefined without one. */
function certificateUser(req: IncomingMessage): AgentUser | undefined {
  const sock = req.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function' || !sock.authorized) return undefined;
  const raw = sock.getPeerCertificate()?.raw;
  if (!raw) return undefined;
  const subject = new X509Certificate(raw).subject;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1] ?? '';
  if (!cn) return undefined;
  return { username: cn, groups: [...subject.matchAll(/(?:^|\n)O=([^\n]*)/g)].map((m) => m[1] ?? '') };
}

export class AgentAuth {
  private readonly tokens: TtlCache<AgentUser | null>;
  private readonly decisions: TtlCache<{ allowed: boolean; reason: string }>;

  /** `rest`: the agent's own client to the API server (a node may create token and access reviews). */
  constructor(
    private readonly rest: RestClient,
    private readonly nodeName: string,
    private readonly clock: Clock = realClock,
  ) {
    this.tokens = new TtlCache(clock);
    this.decisions = new TtlCache(clock);
  }

  /** Authenticates and authorizes a request (its path is the part after the host); throws AgentAuthError to refuse. */
  async check(req: IncomingMessage, path: string): Promise<AgentUser> {
    const user = await this.authenticate(req);
    const subresource = subresourceOf(path);
    const verb = verbOf(req.method);
    const { allowed } = await this.authorize(user, { resourceAttributes: { verb, resource: 'nodes', subresource, name: this.nodeName, version: 'v1' } });
    if (!allowed) throw new AgentAuthError(403, `Forbidden (user=${user.username}, verb=${verb}, resource=nodes, subresource=${subresource})`);
    return user;
  }

  /**
   * The same delegated check for a non-resource path (kube-controller-manager's and kube-scheduler's /metrics): the
   * caller must be allowed the HTTP method's verb on the path.
   */
  async checkPath(req: IncomingMessage, path: string): Promise<AgentUser> {
    const user = await this.authenticate(req);
    const verb = (req.method ?? 'GET').toLowerCase();
    const { allowed } = await this.authorize(user, { nonResourceAttributes: { path, verb } });
    if (!allowed) throw new AgentAuthError(403, `forbidden: User "${user.username}" cannot ${verb} path "${path}"`);
    return user;
  }

  private async authenticate(req: IncomingMessage): Promise<AgentUser> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m?.[1]) throw new AgentAuthError(401, 'Unauthorized');
      const user = await this.reviewToken(m[1]);
      if (!user) throw new AgentAuthError(401, 'Unauthorized');
      return user;
    }
    const user = certificateUser(req);
    if (!user) throw new AgentAuthError(401, 'Unauthorized');
    return user;
  }

  private async reviewToken(token: string): Promise<AgentUser | undefined> {
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.tokens.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const r = await this.rest.request<TokenReviewAnswer>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    const user = r?.status?.authenticated && r.status.user?.username ? { ...r.status.user, groups: r.status.user.groups ?? [] } : null;
    this.tokens.set(key, user, AUTHN_TTL_MS);
    return user ?? undefined;
  }

  private async authorize(user: AgentUser, attributes: { resourceAttributes: Record<string, string> } | { nonResourceAttributes: Record<string, string> }): Promise<{ allowed: boolean; reason: string }> {
    const spec = {
      user: user.username,
      ...(user.uid ? { uid: user.uid } : {}),
      groups: user.groups,
      ...(user.extra ? { extra: user.extra } : {}),
      ...attributes,
    };
    const key = JSON.stringify(spec);
    const cached = this.decisions.get(key);
    if (cached) return cached;
    const r = await this.rest.request<AccessReviewAnswer>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
    });
    const decision = { allowed: r?.status?.allowed === true, reason: r?.status?.reason ?? '' };
    this.decisions.set(key, decision, decision.allowed ? ALLOWED_TTL_MS : DENIED_TTL_MS);
    return decision;
  }
}
