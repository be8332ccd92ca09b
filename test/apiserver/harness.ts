// A real API server over raw HTTPS for wire-level tests: in-memory embedded storage, port 0, admin client certificate.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  json: Record<string, unknown> & { [k: string]: unknown };
}

export interface CallOptions {
  body?: unknown;
  /** Raw body bytes (sent as is). */
  raw?: Buffer | string;
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
  /**
   * 'admin' (client cert in kubeadm:cluster-admins, default), 'super-admin' (client cert in system:masters), 'none', a
   * bearer token or a client certificate.
   */
  auth?: 'admin' | 'super-admin' | 'none' | { token: string } | { cert: string; key: string };
}

export interface WatchStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** The next event, or undefined when the stream ended; rejects after timeoutMs. */
  next(timeoutMs?: number): Promise<{ type: string; object: Record<string, unknown> & { metadata?: Record<string, unknown> } } | undefined>;
  close(): void;
}

export interface Harness {
  api: ApiServer;
  storage: EmbeddedStorage;
  dataDir: string;
  adminToken: string;
  call(method: string, path: string, opts?: CallOptions): Promise<Reply>;
  watch(path: string, opts?: CallOptions): Promise<WatchStream>;
  stop(): Promise<void>;
}

export async function startHarness(extra: Partial<ApiServerOptions> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-apiserver-test-'));
  const storage = new EmbeddedStorage({ path: ':memory:' });
  const api = await startApiServer({ dataDir, securePort: 0, bindAddress: '127.0.0.1', storage, ...extra });
  const pair = (name: string): { cert: string; key: string } => ({ cert: readFileSync(join(dataDir, 'pki', `${name}.crt`), 'utf8'), key: readFileSync(join(dataDir, 'pki', `${name}.key`), 'utf8') });
  const certs = { admin: pair('admin'), 'super-admin': pair('super-admin') };
  const adminToken = readFileSync(join(dataDir, 'token-file'), 'utf8').split(',')[0] ?? '';

  function options(method: string, path: string, o: CallOptions, body?: Buffer): RequestOptions {
    const headers: Record<string, string> = { Accept: o.accept ?? 'application/json', ...(o.headers ?? {}) };
    const auth = o.auth ?? 'admin';
    const tls: RequestOptions = { ca: api.caCertPem };
    if (auth === 'admin' || auth === 'super-admin') Object.assign(tls, certs[auth]);
    else if (auth !== 'none' && 'token' in auth) headers.Authorization = `Bearer ${auth.token}`;
    else if (auth !== 'none') Object.assign(tls, { cert: auth.cert, key: auth.key });
    if (body) {
      headers['Content-Type'] = o.contentType ?? 'application/json';
      // Node sends DELETE bodies without a length unless told: say it.
      headers['Content-Length'] = String(body.length);
    }
    return { host: '127.0.0.1', port: api.port, method, path, headers, agent: false, ...tls };
  }

  const bodyOf = (o: CallOptions): Buffer | undefined =>
    o.raw !== undefined ? Buffer.from(o.raw) : o.body !== undefined ? Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body)) : undefined;

  function call(method: string, path: string, o: CallOptions = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const body = bodyOf(o);
      const req = httpsRequest(options(method, path, o, body), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Reply['json'];
          try {
            json = JSON.parse(text) as Reply['json'];
          } catch {
            json = undefined as unknown as Reply['json'];
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  function watch(path: string, o: CallOptions = {}): Promise<WatchStream> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(options('GET', path, o), (res) => {
        let buf = '';
        let ended = false;
        const lines: string[] = [];
        let waiter: (() => void) | undefined;
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            lines.push(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
          waiter?.();
        });
        const finish = (): void => {
          ended = true;
          waiter?.();
        };
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          async next(timeoutMs = 5000) {
            const deadline = Date.now() + timeoutMs;
            while (lines.length === 0 && !ended) {
              const left = deadline - Date.now();
              if (left <= 0) throw new Error(`no watch event within ${timeoutMs}ms`);
              await new Promise<void>((r) => {
                const t = setTimeout(r, left);
                waiter = () => {
                  clearTimeout(t);
                  waiter = undefined;
                  r();
                };
              });
            }
            const line = lines.shift();
            return line === undefined ? undefined : (JSON.parse(line) as Awaited<ReturnType<WatchStream['next']>>);
          },
          close: () => req.destroy(),
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  return {
    api,
    storage,
    dataDir,
    adminToken,
    call,
    watch,
    async stop() {
      await api.close();
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const podManifest = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: name } },
  spec: { containers: [{ name: 'main', image: 'nginx:1.27' }] },
  ...extra,
});

export const deploymentManifest = (name: string, replicas = 2): Record<string, unknown> => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] } },
  },
});

export type Subject = { kind: 'User' | 'Group'; name: string } | { kind: 'ServiceAccount'; name: string; namespace: string };

/**
 * Grants a subject a ClusterRole as the admin: cluster-wide, or within `namespace` when given (a RoleBinding), as
 * `kubectl create (cluster)rolebinding` does. The binding is named after the subject and role.
 */
export async function grant(h: Pick<Harness, 'call'>, subject: Subject, clusterRole: string, namespace?: string): Promise<void> {
  const G = 'rbac.authorization.k8s.io';
  const name = `${subject.kind}-${subject.name}-${clusterRole}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
  const binding = {
    apiVersion: `${G}/v1`,
    kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    roleRef: { apiGroup: G, kind: 'ClusterRole', name: clusterRole },
    subjects: [subject.kind === 'ServiceAccount' ? subject : { ...subject, apiGroup: G }],
  };
  const path = namespace ? `/apis/${G}/v1/namespaces/${namespace}/rolebindings` : `/apis/${G}/v1/clusterrolebindings`;
  const r = await h.call('POST', path, { body: binding });
  if (r.status !== 201) throw new Error(`granting ${clusterRole} to ${subject.name}: ${r.status} ${r.text}`);
}

/** A token of a new service account in `namespace` (default "default"), optionally granted a ClusterRole there. */
export async function serviceAccountToken(h: Pick<Harness, 'call'>, name: string, opts: { namespace?: string; clusterRole?: string } = {}): Promise<string> {
  const ns = opts.namespace ?? 'default';
  const sa = await h.call('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } } });
  if (sa.status !== 201) throw new Error(`creating service account ${name}: ${sa.status} ${sa.text}`);
  if (opts.clusterRole) await grant(h, { kind: 'ServiceAccount', name, namespace: ns }, opts.clusterRole, ns);
  const tr = await h.call('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`, { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} } });
  if (tr.status !== 201) throw new Error(`token for ${name}: ${tr.status} ${tr.text}`);
  return String((tr.json.status as Record<string, unknown>).token);
}
