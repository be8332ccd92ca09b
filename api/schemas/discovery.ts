// discovery.k8s.io/v1 schemas: EndpointSlice (the endpoints of a service, at most 1,000 a slice).
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Bool, Int32, Arr, StrMap } from './kit.js';
import { kindSchema } from './meta.js';
import { ObjectReference, Protocol } from './core.js';

const def = (name: string) => `io.k8s.api.discovery.v1.${name}`;

export const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'] as const;

/** The label naming the Service a slice belongs to, and the one naming the controller that manages it. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';

export const EndpointConditions = named(
  def('EndpointConditions'),
  Type.Object({
    ready: Opt(Bool({ description: 'The endpoint is ready to receive traffic (unset: ready). Never true while terminating, unless the service publishes not-ready addresses.' })),
    serving: Opt(Bool({ description: 'The endpoint is ready, regardless of whether it is terminating.' })),
    terminating: Opt(Bool({ description: 'The endpoint is terminating.' })),
  }),
);
export type EndpointConditions = Static<typeof EndpointConditions>;

export const EndpointHints = named(
  def('EndpointHints'),
  Type.Object({
    forZones: Opt(Arr(named(def('ForZone'), Type.Object({ name: Str() })), { 'x-kubernetes-list-type': 'atomic' })),
    forNodes: Opt(Arr(named(def('ForNode'), Type.Object({ name: Str() })), { 'x-kubernetes-list-type': 'atomic' })),
  }),
);

export const Endpoint = named(
  def('Endpoint'),
  Type.Object({
    addresses: Arr(Str(), { 'x-kubernetes-list-type': 'set', description: 'The addresses of this endpoint (one for a pod); their type is the slice\'s addressType.' }),
    conditions: Opt(EndpointConditions),
    hostname: Opt(Str()),
    targetRef: Opt(ObjectReference),
    deprecatedTopology: Opt(StrMap()),
    nodeName: Opt(Str()),
    zone: Opt(Str()),
    hints: Opt(EndpointHints),
  }),
);
export type Endpoint = Static<typeof Endpoint>;

/** discovery/v1 EndpointPort (named apart from core/v1's EndpointPort in TypeScript). */
export const EndpointSlicePort = named(
  def('EndpointPort'),
  Type.Object(
    {
      name: Opt(Str()),
      protocol: Opt(Protocol),
      port: Opt(Int32()),
      appProtocol: Opt(Str()),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
);
export type EndpointSlicePort = Static<typeof EndpointSlicePort>;

export const EndpointSlice = kindSchema(
  def('EndpointSlice'),
  'discovery.k8s.io/v1',
  'EndpointSlice',
  {
    addressType: Str({ description: 'IPv4, IPv6 or FQDN; immutable.' }),
    endpoints: Arr(Endpoint, { 'x-kubernetes-list-type': 'atomic' }),
    ports: Opt(Arr(EndpointSlicePort, { 'x-kubernetes-list-type': 'atomic' })),
  },
  'A subset of the endpoints that implement a service.',
);
export type EndpointSlice = Static<typeof EndpointSlice>;
