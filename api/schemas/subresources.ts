// Bodies of subresources from other groups: autoscaling/v1 Scale (*/scale), policy/v1 Eviction (pods/eviction),
// authentication.k8s.io/v1 TokenRequest (serviceaccounts/token).
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Int32, Int64, StrArr, Time } from './kit.js';
import { DeleteOptions, kindSchema } from './meta.js';

export const Scale = kindSchema(
  'io.k8s.api.autoscaling.v1.Scale',
  'autoscaling/v1',
  'Scale',
  {
    spec: Opt(named('io.k8s.api.autoscaling.v1.ScaleSpec', Type.Object({ replicas: Opt(Int32()) }))),
    status: Opt(
      named(
        'io.k8s.api.autoscaling.v1.ScaleStatus',
        Type.Object({ replicas: Int32(), selector: Opt(Str({ description: 'The label selector in string form.' })) }),
      ),
    ),
  },
  'The scale subresource of a workload.',
);
export type Scale = Static<typeof Scale>;

export const Eviction = kindSchema(
  'io.k8s.api.policy.v1.Eviction',
  'policy/v1',
  'Eviction',
  { deleteOptions: Opt(DeleteOptions) },
  'Evicts a pod, honouring disruption budgets (pods/eviction).',
);
export type Eviction = Static<typeof Eviction>;


export const BoundObjectReference = named(
  'io.k8s.api.authentication.v1.BoundObjectReference',
  Type.Object({ apiVersion: Opt(Str()), kind: Opt(Str()), name: Opt(Str()), uid: Opt(Str()) }),
);
export type BoundObjectReference = Static<typeof BoundObjectReference>;

export const TokenRequest = kindSchema(
  'io.k8s.api.authentication.v1.TokenRequest',
  'authentication.k8s.io/v1',
  'TokenRequest',
  {
    spec: named(
      'io.k8s.api.authentication.v1.TokenRequestSpec',
      Type.Object({
        audiences: Opt(StrArr()),
        expirationSeconds: Opt(Int64()),
        boundObjectRef: Opt(BoundObjectReference),
      }),
    ),
    status: Opt(named('io.k8s.api.authentication.v1.TokenRequestStatus', Type.Object({ token: Str(), expirationTimestamp: Time }))),
  },
  'Requests a token for a service account (serviceaccounts/token).',
);
export type TokenRequest = Static<typeof TokenRequest>;
