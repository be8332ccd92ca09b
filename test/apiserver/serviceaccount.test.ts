// Service accounts against a real API server: the default account and kube-root-ca.crt in every namespace, the token
// volume admission adds to pods, TokenRequest, and the tokens it issues as bearer credentials.
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import winston from 'winston';
import { podManifest, startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const spec = (o: unknown): J => ((o as J).spec ?? {}) as J;
const meta = (o: unknown): J => ((o as J).metadata ?? {}) as J;
const SA = '/api/v1/namespaces/default/serviceaccounts';
const PODS = '/api/v1/namespaces/default/pods';
const MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
const tokenRequest = (s: J = {}): J => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: s });

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('service accounts', function () {
  let h: Harness;
  let offsetMs = 0;
  const logged: J[] = [];
  before(async () => {
    // The request log names the user; a clock we can move ages tokens.
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logged.push(JSON.parse(line) as J);
        done();
      },
    });
    const log = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
    h = await startHarness({ logger: log, clock: { now: () => new Date(Date.now() + offsetMs) } });
  });
  after(async () => {
    await h.stop();
  });

  /** The user the API server logged for the last request to `url`. */
  const userOf = (url: string): unknown => logged.filter((e) => e.message === 'request' && e.url === url).at(-1)?.user;

  describe('default account and root CA', () => {
    it('exist in the system namespaces at start, the CA being the cluster CA', async () => {
      for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
        assert.equal((await h.call('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status, 200, ns);
        const cm = await h.call('GET', `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`);
        assert.equal(cm.status, 200, ns);
        assert.equal((cm.json.data as J)['ca.crt'], h.api.caCertPem);
      }
    });

    it('appear in a new namespace, and come back when deleted or changed', async () => {
      await h.call('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } } });
      await eventually('default sa', async () => ((await h.call('GET', '/api/v1/namespaces/team/serviceaccounts/default')).status === 200 ? true : undefined));
      await eventually('root ca', async () => ((await h.call('GET', '/api/v1/namespaces/team/configmaps/kube-root-ca.crt')).status === 200 ? true : undefined));

      const before = meta((await h.call('GET', '/api/v1/namespaces/team/serviceaccounts/default')).json).uid;
      assert.equal((await h.call('DELETE', '/api/v1/namespaces/team/serviceaccounts/default')).status, 200);
      await eventually('default sa again', async () => {
        const r = await h.call('GET', '/api/v1/namespaces/team/serviceaccounts/default');
        return r.status === 200 && meta(r.json).uid !== before ? true : undefined;
      });

      const patched = await h.call('PATCH', '/api/v1/namespaces/team/configmaps/kube-root-ca.crt', {
        body: { data: { 'ca.crt': 'bogus' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(patched.status, 200);
      await eventually('ca restored', async () => {
        const r = await h.call('GET', '/api/v1/namespaces/team/configmaps/kube-root-ca.crt');
        return (r.json.data as J)['ca.crt'] === h.api.caCertPem ? true : undefined;
      });
    });
  });

  describe('admission', () => {
    it('runs a pod as "default" and mounts the kube-api-access volume in every container', async () => {
      const p = podManifest('sa-plain');
      const r = await h.call('POST', PODS, {
        body: { ...p, spec: { initContainers: [{ name: 'init', image: 'busybox:1.36' }], containers: [{ name: 'a', image: 'nginx:1.27' }, { name: 'b', image: 'nginx:1.27' }] } },
      });
      assert.equal(r.status, 201, r.text);
      const s = spec(r.json);
      assert.equal(s.serviceAccountName, 'default');
      assert.equal(s.serviceAccount, 'default');
      const volumes = s.volumes as J[];
      assert.equal(volumes.length, 1);
      const v = volumes[0]!;
      assert.match(String(v.name), /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.deepEqual(v.projected, {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      });
      for (const c of [...(s.initContainers as J[]), ...(s.containers as J[])]) {
        assert.deepEqual(c.volumeMounts, [{ name: v.name, readOnly: true, mountPath: MOUNT }], String(c.name));
      }
    });

    it('mounts nothing when the pod or its account turns automount off, nor over a mount of its own', async () => {
      const off = await h.call('POST', PODS, { body: { ...podManifest('sa-off'), spec: { ...spec(podManifest('x')), automountServiceAccountToken: false } } });
      assert.equal(off.status, 201);
      assert.equal(spec(off.json).volumes, undefined);

      await h.call('POST', SA, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'quiet' }, automountServiceAccountToken: false } });
      const quiet = await h.call('POST', PODS, { body: { ...podManifest('sa-quiet'), spec: { ...spec(podManifest('x')), serviceAccountName: 'quiet' } } });
      assert.equal(quiet.status, 201, quiet.text);
      assert.equal(spec(quiet.json).volumes, undefined);
      // The pod's own setting wins over the account's.
      const on = await h.call('POST', PODS, {
        body: { ...podManifest('sa-on'), spec: { ...spec(podManifest('x')), serviceAccountName: 'quiet', automountServiceAccountToken: true } },
      });
      assert.equal((spec(on.json).volumes as J[]).length, 1);

      const own = await h.call('POST', PODS, {
        body: {
          ...podManifest('sa-own'),
          spec: { volumes: [{ name: 'mine', emptyDir: {} }], containers: [{ name: 'a', image: 'nginx:1.27', volumeMounts: [{ name: 'mine', mountPath: MOUNT }] }] },
        },
      });
      assert.deepEqual((spec(own.json).volumes as J[]).map((v) => v.name), ['mine']);
    });

    it('refuses a pod whose service account does not exist', async () => {
      const r = await h.call('POST', PODS, { body: { ...podManifest('sa-missing'), spec: { ...spec(podManifest('x')), serviceAccountName: 'ghost' } } });
      assert.equal(r.status, 403);
      assert.equal(r.json.message, 'pods "sa-missing" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found');
    });
  });

  describe('TokenRequest', () => {
    let botUid = '';
    before(async () => {
      const r = await h.call('POST', SA, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bot' } } });
      botUid = String(meta(r.json).uid);
    });

    it('issues a JWT for the account with the claims kube-apiserver puts in', async () => {
      const r = await h.call('POST', `${SA}/bot/token`, { body: tokenRequest({ expirationSeconds: 1200 }) });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.kind, 'TokenRequest');
      assert.equal(r.json.apiVersion, 'authentication.k8s.io/v1');
      const status = r.json.status as { token: string; expirationTimestamp: string };
      const c = decodeJwt(status.token);
      assert.equal(c.iss, 'https://kubernetes.default.svc.cluster.local');
      assert.deepEqual(c.aud, ['https://kubernetes.default.svc.cluster.local']);
      assert.equal(c.sub, 'system:serviceaccount:default:bot');
      assert.equal((c.exp ?? 0) - (c.iat ?? 0), 1200);
      assert.equal(c.nbf, c.iat);
      assert.deepEqual(c['kubernetes.io'], { namespace: 'default', serviceaccount: { name: 'bot', uid: botUid } });
      assert.equal(Date.parse(status.expirationTimestamp) / 1000, c.exp);
      assert.equal((spec(r.json) as J).expirationSeconds, 1200);
    });

    it('binds a token to a pod of the account', async () => {
      const pod = await h.call('POST', PODS, { body: { ...podManifest('sa-bound'), spec: { ...spec(podManifest('x')), serviceAccountName: 'bot' } } });
      const uid = String(meta(pod.json).uid);
      const r = await h.call('POST', `${SA}/bot/token`, { body: tokenRequest({ boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'sa-bound', uid } }) });
      assert.equal(r.status, 201, r.text);
      const c = decodeJwt((r.json.status as { token: string }).token);
      assert.deepEqual((c['kubernetes.io'] as J).pod, { name: 'sa-bound', uid });
      assert.equal((c.exp ?? 0) - (c.iat ?? 0), 3600);

      const wrongUid = await h.call('POST', `${SA}/bot/token`, { body: tokenRequest({ boundObjectRef: { kind: 'Pod', name: 'sa-bound', uid: 'other' } }) });
      assert.equal(wrongUid.status, 409);
      const otherAccount = await h.call('POST', `${SA}/default/token`, { body: tokenRequest({ boundObjectRef: { kind: 'Pod', name: 'sa-bound' } }) });
      assert.equal(otherAccount.status, 400);
    });

    it('refuses a missing account and too short a lifetime', async () => {
      assert.equal((await h.call('POST', `${SA}/nobody/token`, { body: tokenRequest() })).status, 404);
      const short = await h.call('POST', `${SA}/bot/token`, { body: tokenRequest({ expirationSeconds: 60 }) });
      assert.equal(short.status, 422);
      assert.match(String(short.json.message), /may not specify a duration less than 10 minutes/);
    });
  });

  describe('authentication with service-account tokens', () => {
    const issue = async (name: string, s: J = {}): Promise<string> => {
      const r = await h.call('POST', `${SA}/${name}/token`, { body: tokenRequest(s) });
      assert.equal(r.status, 201, r.text);
      return (r.json.status as { token: string }).token;
    };

    it('authenticates a request as the service account', async () => {
      const token = await issue('bot');
      // Discovery, which every authenticated user may read (the account holds no other right).
      const url = '/apis?probe=bot';
      const r = await h.call('GET', url, { auth: { token } });
      assert.equal(r.status, 200, r.text);
      assert.equal(await eventually('request log', async () => userOf(url), 2000), 'system:serviceaccount:default:bot');
    });

    it('refuses a tampered token, a token from another key, and an expired token', async () => {
      const token = await issue('bot');
      const [head, body, sig] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as J;
      const forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: 'system:serviceaccount:kube-system:default' })).toString('base64url')}.${sig}`;
      assert.equal((await h.call('GET', '/version', { auth: { token: forged } })).status, 401);
      const flipped = `${head}.${body}.${sig.slice(0, -4)}${sig.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      assert.equal((await h.call('GET', '/version', { auth: { token: flipped } })).status, 401);
      const otherKey = await generateKeyPair('ES256');
      const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...(decodeProtectedHeader(token).kid ? { kid: decodeProtectedHeader(token).kid } : {}) }).sign(otherKey.privateKey);
      assert.equal((await h.call('GET', '/version', { auth: { token: foreign } })).status, 401);

      // Accepted once (its signature check is remembered), then refused once it has expired all the same.
      assert.equal((await h.call('GET', '/version', { auth: { token } })).status, 200);
      offsetMs = 3601_000;
      try {
        const r = await h.call('GET', '/version', { auth: { token } });
        assert.equal(r.status, 401);
        assert.equal(r.json.reason, 'Unauthorized');
      } finally {
        offsetMs = 0;
      }
      assert.equal((await h.call('GET', '/version', { auth: { token } })).status, 200);
    });

    it('stops accepting a token once its account or bound pod is gone', async () => {
      await h.call('POST', SA, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'temp' } } });
      const token = await issue('temp');
      assert.equal((await h.call('GET', '/version', { auth: { token } })).status, 200);
      await h.call('DELETE', `${SA}/temp`);
      assert.equal((await h.call('GET', '/version', { auth: { token } })).status, 401);
      // An account re-created under the same name is another account.
      await h.call('POST', SA, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'temp' } } });
      assert.equal((await h.call('GET', '/version', { auth: { token } })).status, 401);

      const pod = await h.call('POST', PODS, { body: { ...podManifest('sa-short'), spec: { ...spec(podManifest('x')), serviceAccountName: 'bot' } } });
      const bound = await issue('bot', { boundObjectRef: { kind: 'Pod', name: 'sa-short', uid: meta(pod.json).uid } });
      assert.equal((await h.call('GET', '/version', { auth: { token: bound } })).status, 200);
      await h.call('DELETE', `${PODS}/sa-short`);
      assert.equal((await h.call('GET', '/version', { auth: { token: bound } })).status, 401);
    });
  });
});
