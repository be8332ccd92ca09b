// coordination.k8s.io/v1 schemas: Lease.
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Int32, MicroTime } from './kit.js';
import { kindSchema } from './meta.js';

export const LeaseSpec = named(
  'io.k8s.api.coordination.v1.LeaseSpec',
  Type.Object({
    holderIdentity: Opt(Str()),
    leaseDurationSeconds: Opt(Int32()),
    acquireTime: Opt(MicroTime),
    renewTime: Opt(MicroTime),
    leaseTransitions: Opt(Int32()),
    strategy: Opt(Str()),
    preferredHolder: Opt(Str()),
  }),
);
export type LeaseSpec = Static<typeof LeaseSpec>;

export const Lease = kindSchema(
  'io.k8s.api.coordination.v1.Lease',
  'coordination.k8s.io/v1',
  'Lease',
  { spec: Opt(LeaseSpec) },
  'A lease held by one holder: leader election and node heartbeats.',
);
export type Lease = Static<typeof Lease>;
