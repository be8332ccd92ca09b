// Authentication: bearer tokens from a static token file or further token authenticators (service-account JWTs),
// and x509 client certificates signed by the cluster CA.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { errors } from '../api/errors.js';

/** Who is making the request; handed to the authorizer that comes later. */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
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

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** A further bearer-token authenticator: the user, or undefined when the token is not its kind (or not valid). */
export type TokenAuthenticator = (token: string) => Promise<UserInfo | undefined>;

export class Authenticator {
  private readonly tokens: { hash: Buffer; user: UserInfo }[];

  constructor(
    tokens: TokenEntry[],
    private readonly tokenAuthenticators: TokenAuthenticator[] = [],
  ) {
    this.tokens = tokens.map((t) => ({ hash: digest(t.token), user: t.user }));
  }

  /** The user behind the request, or an ApiError 401. Bearer tokens win over client certificates, as in kube-apiserver. */
  async authenticate(req: IncomingMessage): Promise<UserInfo> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m?.[1]) throw errors.unauthorized();
      const h = digest(m[1]);
      // Compare digests in constant time so a token cannot be guessed byte by byte.
      const hit = this.tokens.find((t) => timingSafeEqual(t.hash, h));
      if (hit) return withAuthenticated(hit.user);
      for (const a of this.tokenAuthenticators) {
        const user = await a(m[1]);
        if (user) return withAuthenticated(user);
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
    throw errors.unauthorized();
  }
}

const certUsers = new WeakMap<TLSSocket, UserInfo | null>();

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const all = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function withAuthenticated(u: UserInfo): UserInfo {
  return { ...u, groups: u.groups.includes('system:authenticated') ? u.groups : [...u.groups, 'system:authenticated'] };
}
