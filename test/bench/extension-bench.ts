// The API extension lines of bench:apiserver: creates/s of a custom resource (a 50-field schema, two CEL rules) against
// the built-in ConfigMap, and ConfigMap creates/s with one validating webhook in the chain against none (with the
// webhook server's own time per call beside it). Rounds alternate so that noise hits both sides alike.
import { admissionResponse, startWebhookServer } from '../support/webhook-server.js';

interface Reply {
  status: number;
  body: Buffer;
}

export interface ExtensionBenchDeps {
  backend: string;
  call(method: string, path: string, body?: unknown): Promise<Reply>;
  must(p: Promise<Reply>, want: number): Promise<Reply>;
  rate(total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number>;
  median(xs: number[]): number;
  record(backend: string, metric: string, api: number, unit: string, raw?: number): void;
  ops: number;
  rounds: number;
  run: string;
}

const FIELDS = 50;

/** A CRD whose spec has 50 typed fields (strings with bounds, integers with ranges, enums, booleans) and two CEL rules. */
function benchCrd(): unknown {
  const props: Record<string, unknown> = {};
  for (let i = 0; i < FIELDS; i++) {
    const kind = i % 4;
    props[`f${i}`] = kind === 0 ? { type: 'string', maxLength: 64, pattern: '^[a-z0-9-]*$' } : kind === 1 ? { type: 'integer', minimum: 0, maximum: 100000 } : kind === 2 ? { type: 'string', enum: ['a', 'b', 'c'] } : { type: 'boolean' };
  }
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'benches.bench.ketch.dev' },
    spec: {
      group: 'bench.ketch.dev',
      scope: 'Namespaced',
      names: { plural: 'benches', singular: 'bench', kind: 'Bench' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  properties: props,
                  'x-kubernetes-validations': [{ rule: 'self.f1 <= self.f5', message: 'f1 must not exceed f5' }, { rule: "self.f0.startsWith('x')", message: 'f0 starts with x' }],
                },
              },
            },
          },
        },
      ],
    },
  };
}

function benchSpec(i: number): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  for (let f = 0; f < FIELDS; f++) {
    const kind = f % 4;
    spec[`f${f}`] = kind === 0 ? `x-value-${f}-${i}` : kind === 1 ? f * 10 + (f === 1 ? 0 : 1000) : kind === 2 ? 'b' : f % 8 === 3;
  }
  return spec;
}

const configMap = (name: string): unknown => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { key: 'value', other: 'another value' } });
/** A ConfigMap with as many fields as the custom resource's spec: the same work per field for both sides. */
const wideConfigMap = (name: string, i: number): unknown => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: Object.fromEntries(Array.from({ length: FIELDS }, (_, f) => [`f${f}`, `x-value-${f}-${i}`])) });

async function established(d: ExtensionBenchDeps): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await d.call('GET', '/apis/bench.ketch.dev/v1/namespaces/bench-ext/benches');
    if (r.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the bench CRD was not served within 10s');
}

export async function benchExtensions(d: ExtensionBenchDeps): Promise<void> {
  const c = 64;
  for (const ns of ['bench-ext', 'bench-hook']) await d.must(d.call('POST', '/api/v1/namespaces', { metadata: { name: ns } }), 201);
  await d.must(d.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', benchCrd()), 201);
  await established(d);
  const crs: number[] = [];
  const cms: number[] = [];
  for (let round = 0; round < d.rounds; round++) {
    const tag = `${d.run}-${round}`;
    cms.push(await d.rate(d.ops, c, (i) => d.must(d.call('POST', '/api/v1/namespaces/bench-ext/configmaps', wideConfigMap(`cm-${tag}-${i}`, i)), 201)));
    crs.push(
      await d.rate(d.ops, c, (i) =>
        d.must(d.call('POST', '/apis/bench.ketch.dev/v1/namespaces/bench-ext/benches', { apiVersion: 'bench.ketch.dev/v1', kind: 'Bench', metadata: { name: `cr-${tag}-${i}` }, spec: benchSpec(i) }), 201),
      ),
    );
  }
  d.record(d.backend, `custom resource creates/s c=${c} (${FIELDS}-field schema, 2 CEL rules), undici, vs ConfigMap creates/s (${FIELDS} data keys) [TARGET: ratio >= 0.8]`, d.median(crs), 'ops/s', d.median(cms));

  const wh = await startWebhookServer();
  wh.handle('/validate', (review) => admissionResponse(review, { allowed: true }));
  const config = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'bench' },
    webhooks: [
      {
        name: 'bench.ketch.dev',
        clientConfig: { url: wh.url('/validate'), caBundle: wh.caBundle },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        failurePolicy: 'Fail',
      },
    ],
  };
  try {
    const without: number[] = [];
    const withHook: number[] = [];
    for (let round = 0; round < d.rounds; round++) {
      const tag = `${d.run}-${round}`;
      without.push(await d.rate(d.ops, c, (i) => d.must(d.call('POST', '/api/v1/namespaces/bench-hook/configmaps', configMap(`plain-${tag}-${i}`)), 201)));
      await d.must(d.call('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', config), 201);
      withHook.push(await d.rate(d.ops, c, (i) => d.must(d.call('POST', '/api/v1/namespaces/bench-hook/configmaps', configMap(`hooked-${tag}-${i}`)), 201)));
      await d.must(d.call('DELETE', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/bench'), 200);
    }
    const calls = wh.calls.get('/validate') ?? 0;
    const perCall = calls ? (wh.handlerMs * 1000) / calls : 0;
    d.record(d.backend, `ConfigMap creates/s c=${c} with one validating webhook (its server's own time ${perCall.toFixed(0)} µs per call, ${calls} calls), vs no webhook`, d.median(withHook), 'ops/s', d.median(without));
  } finally {
    await wh.close();
  }
}
