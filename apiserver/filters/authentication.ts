// Authentication: bearer tokens from a static token file or further token authenticators (service-account JWTs),
// and x509 client certificates signed by the cluster CA.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { errors } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import { sendError } from '../http/responses.js';
import type { UserInfo } from '../authorization/types.js';
import type { Filter } from './chain.js';

/** Who is making the request; handed to audit and authorization. */
export type { UserInfo };

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by authentication; read by audit, in-flight limits, authorization and the handlers. */
    user?: UserInfo;
  }
}

/** The authentication filter: every request, discovery and health included, needs a token or a client certificate. */
export function withAuthentication(authn: Authenticator, log: Logger): Filter {
  return (req, res, next) =>
    authn.authenticate(req).then(
      (user) => {
        req.user = user;
        return next(req, res);
      },
      (err: unknown) => {
        log.debug('request unauthenticated', { method: req.method, url: req.url });
        sendError(res, err);
      },
    );
}

export interface TokenEntry {
  token: string;
  user: UserInfo;
}

/** Splits one CSV line, honouring double quotes ("" inside quotes is a literal quote). */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/** Parses kube-apiserver's --token-auth-file format: token,user,uid[,"group1,group2"]. */
export function parseTokenFile(text: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const [token, name, uid, groups] = splitCsv(line);
    if (!token || !name) throw new Error(`token file line ${i + 1}: expected token,user,uid[,groups]`);
    entries.push({ token, user: { name, ...(uid ? { uid } : {}), groups: groups ? groups.split(',').map((g) => g.trim()).filter(Boolean) : [] } });
  });
  return entries;
}

export async function loadTokenFile(path: string): Promise<TokenEntry[]> {
  return parseTokenFile(await readFile(path, 'utf8'));
}

/** A user and the audiences the token that names them was valid for. */
export interface TokenUser {
  user: UserInfo;
  audiences: string[];
}

/**
 * A further bearer-token authenticator: the user, or undefined when the token is not its kind (or not valid for one
 * of `audiences`; absent: the API server's own).
 */
export type TokenAuthenticator = (token: string, audiences?: readonly string[]) => Promise<TokenUser | undefined>;

/**
 * The connections of the API server's local Unix socket (apiserver/server/https.ts localServer): the only ones on
 * which the tokens handed to this process's own components (Authenticator.localToken) are taken.
 */
const localSockets = new WeakSet<object>();

/** Marks a connection as made on the local socket. */
export function markLocalConnection(socket: object): void {
  localSockets.add(socket);
}

export class Authenticator {
  /** The static tokens' users, already in system:authenticated (never mutated: shared by their requests). */
  private readonly tokens = new Map<string, UserInfo>();
  /** Tokens made at this start for components in this process, good only on the local socket (never stored). */
  private readonly localTokens = new Map<string, UserInfo>();

  /**
   * `apiAudiences`: what static tokens, which name no audience, are valid for (kube-apiserver's --api-audiences).
   * `anonymousPaths`: the paths a request with no credentials may GET as system:anonymous (kube's anonymous
   * authenticator limited to its AuthenticationConfiguration conditions); every other such request is a 401.
   */
  constructor(
    tokens: TokenEntry[],
    private readonly tokenAuthenticators: TokenAuthenticator[] = [],
    private readonly apiAudiences: readonly string[] = [],
    private readonly anonymousPaths: readonly string[] = [],
  ) {
    // The first line of a token wins, as the linear search this replaces found it.
    for (const t of tokens) if (!this.tokens.has(t.token)) this.tokens.set(t.token, withAuthenticated(t.user));
  }

  /**
   * A new random token (256 bits) that stands for `user` on the local socket only, for as long as this process runs:
   * the credential of a component this process hosts (kube-apiserver's loopback token, one per component here, so that
   * each keeps its own identity and RBAC rules). It is in no file and never sent over TCP.
   */
  localToken(user: UserInfo): string {
    const token = randomBytes(32).toString('base64url');
    this.localTokens.set(token, withAuthenticated(user));
    return token;
  }

  /**
   * The static token file's user for a token: a map lookup, as kube's tokenfile authenticator does (the string is
   * hashed whole, with the process's random hash seed, before any comparison: no byte-by-byte timing to guess from).
   */
  private staticUser(token: string): UserInfo | undefined {
    return this.tokens.get(token);
  }

  /**
   * TokenReview: who a bearer token stands for, when it is valid for one of `audiences` (none given: the API
   * server's), with the audiences it was valid for; undefined for a token no authenticator accepts.
   */
  async reviewToken(token: string, audiences: readonly string[] = []): Promise<TokenUser | undefined> {
    const wanted = audiences.length ? audiences : this.apiAudiences;
    const user = this.staticUser(token);
    if (user) {
      // Static tokens name no audience: they are good for the API server's only (kube's audience-agnostic wrapper).
      const valid = wanted.filter((a) => this.apiAudiences.includes(a));
      return valid.length ? { user, audiences: valid } : undefined;
    }
    for (const a of this.tokenAuthenticators) {
      const r = await a(token, wanted);
      if (r) return { user: withAuthenticated(r.user), audiences: r.audiences };
    }
    return undefined;
  }

  /** The user behind the request, or an ApiError 401. Bearer tokens win over client certificates, as in kube-apiserver. */
  async authenticate(req: IncomingMessage): Promise<UserInfo> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m?.[1]) throw errors.unauthorized();
      const hit = this.staticUser(m[1]) ?? (localSockets.has(req.socket) ? this.localTokens.get(m[1]) : undefined);
      if (hit) return hit;
      for (const a of this.tokenAuthenticators) {
        const r = await a(m[1]);
        if (r) return withAuthenticated(r.user);
      }
      throw errors.unauthorized();
    }
    const sock = req.socket as TLSSocket;
    if (typeof sock.getPeerCertificate === 'function' && sock.authorized) {
      // The certificate is fixed for the connection's life: decode it once per keep-alive socket, not per request.
      let user = certUsers.get(sock);
      if (user === undefined) {
        const cert = sock.getPeerCertificate();
        const cn = first(cert?.subject?.CN);
        user = cn ? withAuthenticated({ name: cn, groups: all(cert.subject.O) }) : null;
        certUsers.set(sock, user);
      }
      if (user) return user;
    }
    if (req.method === 'GET' && this.anonymousPaths.includes((req.url ?? '').split('?')[0]!)) return ANONYMOUS;
    throw errors.unauthorized();
  }
}

/** kube's anonymous user: not in system:authenticated. */
const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

const certUsers = new WeakMap<TLSSocket, UserInfo | null>();

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const all = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function withAuthenticated(u: UserInfo): UserInfo {
  return { ...u, groups: u.groups.includes('system:authenticated') ? u.groups : [...u.groups, 'system:authenticated'] };
}
