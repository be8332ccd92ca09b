// Schemas of the API's extension points: apiextensions.k8s.io/v1 CustomResourceDefinition, admissionregistration.k8s.io/v1
// webhook configurations and ValidatingAdmissionPolicy(Binding), apiregistration.k8s.io/v1 APIService.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Arr, Bool, Enum, FreeObject, Int32, named, Opt, Str, StrArr, Time } from './kit.js';
import { kindSchema, LabelSelector } from './meta.js';

const crdDef = (name: string): string => `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.${name}`;
const admDef = (name: string): string => `io.k8s.api.admissionregistration.v1.${name}`;
const regDef = (name: string): string => `io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.${name}`;
const atomic = <T extends TSchema>(items: T, description?: string) => Arr(items, { 'x-kubernetes-list-type': 'atomic', ...(description ? { description } : {}) });

/** A condition as the extension kinds report them (type, status, reason, message, lastTransitionTime). */
const Condition = (def: string) =>
  named(
    def,
    Type.Object({
      type: Str(),
      status: Str(),
      lastTransitionTime: Opt(Time),
      reason: Opt(Str()),
      message: Opt(Str()),
    }),
  );

// ---- apiextensions.k8s.io/v1 ----

export const ServiceReference = named(
  crdDef('ServiceReference'),
  Type.Object({ namespace: Str(), name: Str(), path: Opt(Str()), port: Opt(Int32()) }, { description: 'A Service that serves a webhook, reached on its port (default 443).' }),
);

export const WebhookClientConfig = named(
  crdDef('WebhookClientConfig'),
  Type.Object(
    {
      url: Opt(Str({ description: 'https://host:port/path of the webhook; exclusive with service.' })),
      service: Opt(ServiceReference),
      caBundle: Opt(Str({ format: 'byte', description: 'PEM CA bundle (base64) that signs the webhook server certificate.' })),
    },
    { description: 'How to reach a webhook over TLS.' },
  ),
);
export type WebhookClientConfig = Static<typeof WebhookClientConfig>;

export const CustomResourceDefinitionNames = named(
  crdDef('CustomResourceDefinitionNames'),
  Type.Object({
    plural: Str({ description: 'The URL segment: /apis/<group>/<version>/.../<plural>.' }),
    singular: Opt(Str()),
    kind: Str(),
    listKind: Opt(Str()),
    shortNames: Opt(atomic(Str())),
    categories: Opt(atomic(Str(), "Groups of resources such as 'all' that kubectl get CATEGORY lists.")),
  }),
);
export type CustomResourceDefinitionNames = Static<typeof CustomResourceDefinitionNames>;

export const CustomResourceColumnDefinition = named(
  crdDef('CustomResourceColumnDefinition'),
  Type.Object({
    name: Str(),
    type: Str({ description: 'integer, number, string, boolean or date.' }),
    format: Opt(Str()),
    description: Opt(Str()),
    priority: Opt(Int32()),
    jsonPath: Str({ description: 'A simple JSONPath evaluated against each object for this column.' }),
  }),
);
export type CustomResourceColumnDefinition = Static<typeof CustomResourceColumnDefinition>;

export const CustomResourceSubresourceScale = named(
  crdDef('CustomResourceSubresourceScale'),
  Type.Object({ specReplicasPath: Str(), statusReplicasPath: Str(), labelSelectorPath: Opt(Str()) }),
);

export const CustomResourceDefinitionVersion = named(
  crdDef('CustomResourceDefinitionVersion'),
  Type.Object({
    name: Str(),
    served: Bool(),
    storage: Bool(),
    deprecated: Opt(Bool()),
    deprecationWarning: Opt(Str()),
    schema: Opt(Type.Object({ openAPIV3Schema: Opt(FreeObject({ description: 'The structural schema of the objects of this version.' })) })),
    subresources: Opt(Type.Object({ status: Opt(FreeObject()), scale: Opt(CustomResourceSubresourceScale) })),
    additionalPrinterColumns: Opt(atomic(CustomResourceColumnDefinition)),
    selectableFields: Opt(atomic(Type.Object({ jsonPath: Str() }))),
  }),
);
export type CustomResourceDefinitionVersion = Static<typeof CustomResourceDefinitionVersion>;

export const CustomResourceConversion = named(
  crdDef('CustomResourceConversion'),
  Type.Object({
    strategy: Enum(['None', 'Webhook'] as const),
    webhook: Opt(Type.Object({ clientConfig: Opt(WebhookClientConfig), conversionReviewVersions: StrArr() })),
  }),
);

export const CustomResourceDefinition = kindSchema(
  crdDef('CustomResourceDefinition'),
  'apiextensions.k8s.io/v1',
  'CustomResourceDefinition',
  {
    spec: named(
      crdDef('CustomResourceDefinitionSpec'),
      Type.Object({
        group: Str(),
        names: CustomResourceDefinitionNames,
        scope: Enum(['Cluster', 'Namespaced'] as const),
        versions: atomic(CustomResourceDefinitionVersion),
        conversion: Opt(CustomResourceConversion),
        preserveUnknownFields: Opt(Bool()),
      }),
    ),
    status: Opt(
      named(
        crdDef('CustomResourceDefinitionStatus'),
        Type.Object({
          conditions: Opt(Arr(Condition(crdDef('CustomResourceDefinitionCondition')), { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })),
          acceptedNames: Opt(CustomResourceDefinitionNames),
          storedVersions: Opt(atomic(Str())),
        }),
      ),
    ),
  },
  'A new kind served by the API server, with its schema, versions and subresources.',
);
export type CustomResourceDefinition = Static<typeof CustomResourceDefinition>;

// ---- admissionregistration.k8s.io/v1 ----

export const AdmissionServiceReference = named(admDef('ServiceReference'), Type.Object({ namespace: Str(), name: Str(), path: Opt(Str()), port: Opt(Int32()) }));

export const AdmissionClientConfig = named(
  admDef('WebhookClientConfig'),
  Type.Object({ url: Opt(Str()), service: Opt(AdmissionServiceReference), caBundle: Opt(Str({ format: 'byte' })) }),
);

const ruleFields = {
    operations: Opt(atomic(Str(), 'CREATE, UPDATE, DELETE, CONNECT or *.')),
    apiGroups: Opt(atomic(Str())),
    apiVersions: Opt(atomic(Str())),
    resources: Opt(atomic(Str(), "Resources, 'resource/subresource', '*' or '*/*'.")),
    scope: Opt(Enum(['Cluster', 'Namespaced', '*'] as const)),
};
export const RuleWithOperations = named(admDef('RuleWithOperations'), Type.Object(ruleFields));
export const NamedRuleWithOperations = named(admDef('NamedRuleWithOperations'), Type.Object({ ...ruleFields, resourceNames: Opt(atomic(Str())) }));
export type RuleWithOperations = Static<typeof RuleWithOperations>;

export const MatchCondition = named(admDef('MatchCondition'), Type.Object({ name: Str(), expression: Str() }));
export type MatchCondition = Static<typeof MatchCondition>;

const webhookFields = {
  name: Str({ description: 'A fully qualified name, e.g. imagepolicy.kubernetes.io.' }),
  clientConfig: AdmissionClientConfig,
  rules: Opt(atomic(RuleWithOperations)),
  failurePolicy: Opt(Enum(['Ignore', 'Fail'] as const)),
  matchPolicy: Opt(Enum(['Exact', 'Equivalent'] as const)),
  namespaceSelector: Opt(LabelSelector),
  objectSelector: Opt(LabelSelector),
  sideEffects: Enum(['None', 'NoneOnDryRun', 'Some', 'Unknown'] as const),
  timeoutSeconds: Opt(Int32({ minimum: 1, maximum: 30 })),
  admissionReviewVersions: atomic(Str()),
  matchConditions: Opt(Arr(MatchCondition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], maxItems: 64 })),
};

export const MutatingWebhook = named(admDef('MutatingWebhook'), Type.Object({ ...webhookFields, reinvocationPolicy: Opt(Enum(['Never', 'IfNeeded'] as const)) }));
export type MutatingWebhook = Static<typeof MutatingWebhook>;
export const ValidatingWebhook = named(admDef('ValidatingWebhook'), Type.Object(webhookFields));
export type ValidatingWebhook = Static<typeof ValidatingWebhook>;

const webhookList = <T extends TSchema>(item: T) => Opt(Arr(item, { 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }));

export const MutatingWebhookConfiguration = kindSchema(
  admDef('MutatingWebhookConfiguration'),
  'admissionregistration.k8s.io/v1',
  'MutatingWebhookConfiguration',
  { webhooks: webhookList(MutatingWebhook) },
  'Admission webhooks that may change an object before it is stored.',
);
export type MutatingWebhookConfiguration = Static<typeof MutatingWebhookConfiguration>;

export const ValidatingWebhookConfiguration = kindSchema(
  admDef('ValidatingWebhookConfiguration'),
  'admissionregistration.k8s.io/v1',
  'ValidatingWebhookConfiguration',
  { webhooks: webhookList(ValidatingWebhook) },
  'Admission webhooks that accept or refuse an object without changing it.',
);
export type ValidatingWebhookConfiguration = Static<typeof ValidatingWebhookConfiguration>;

export const MatchResources = named(
  admDef('MatchResources'),
  Type.Object({
    namespaceSelector: Opt(LabelSelector),
    objectSelector: Opt(LabelSelector),
    resourceRules: Opt(atomic(NamedRuleWithOperations)),
    excludeResourceRules: Opt(atomic(NamedRuleWithOperations)),
    matchPolicy: Opt(Enum(['Exact', 'Equivalent'] as const)),
  }),
);
export type MatchResources = Static<typeof MatchResources>;

export const ValidatingAdmissionPolicy = kindSchema(
  admDef('ValidatingAdmissionPolicy'),
  'admissionregistration.k8s.io/v1',
  'ValidatingAdmissionPolicy',
  {
    spec: Opt(
      named(
        admDef('ValidatingAdmissionPolicySpec'),
        Type.Object({
          paramKind: Opt(Type.Object({ apiVersion: Opt(Str()), kind: Opt(Str()) })),
          matchConstraints: Opt(MatchResources),
          validations: Opt(atomic(Type.Object({ expression: Str(), message: Opt(Str()), reason: Opt(Str()), messageExpression: Opt(Str()) }))),
          failurePolicy: Opt(Enum(['Ignore', 'Fail'] as const)),
          auditAnnotations: Opt(atomic(Type.Object({ key: Str(), valueExpression: Str() }))),
          matchConditions: Opt(Arr(MatchCondition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })),
          variables: Opt(atomic(Type.Object({ name: Str(), expression: Str() }))),
        }),
      ),
    ),
    status: Opt(FreeObject()),
  },
  'CEL rules that accept or refuse requests, applied where a binding says.',
);
export type ValidatingAdmissionPolicy = Static<typeof ValidatingAdmissionPolicy>;

export const ValidatingAdmissionPolicyBinding = kindSchema(
  admDef('ValidatingAdmissionPolicyBinding'),
  'admissionregistration.k8s.io/v1',
  'ValidatingAdmissionPolicyBinding',
  {
    spec: Opt(
      named(
        admDef('ValidatingAdmissionPolicyBindingSpec'),
        Type.Object({
          policyName: Opt(Str()),
          paramRef: Opt(
            Type.Object({
              name: Opt(Str()),
              namespace: Opt(Str()),
              selector: Opt(LabelSelector),
              parameterNotFoundAction: Opt(Enum(['Allow', 'Deny'] as const)),
            }),
          ),
          matchResources: Opt(MatchResources),
          validationActions: Opt(Arr(Enum(['Deny', 'Warn', 'Audit'] as const), { 'x-kubernetes-list-type': 'set' })),
        }),
      ),
    ),
  },
  'Applies a ValidatingAdmissionPolicy to resources, with parameters and actions.',
);
export type ValidatingAdmissionPolicyBinding = Static<typeof ValidatingAdmissionPolicyBinding>;

// ---- apiregistration.k8s.io/v1 ----

export const APIService = kindSchema(
  regDef('APIService'),
  'apiregistration.k8s.io/v1',
  'APIService',
  {
    spec: Opt(
      named(
        regDef('APIServiceSpec'),
        Type.Object({
          service: Opt(Type.Object({ namespace: Opt(Str()), name: Opt(Str()), port: Opt(Int32()) })),
          group: Opt(Str()),
          version: Opt(Str()),
          insecureSkipTLSVerify: Opt(Bool()),
          caBundle: Opt(Str({ format: 'byte' })),
          groupPriorityMinimum: Int32(),
          versionPriority: Int32(),
        }),
      ),
    ),
    status: Opt(
      named(
        regDef('APIServiceStatus'),
        Type.Object({
          conditions: Opt(Arr(Condition(regDef('APIServiceCondition')), { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })),
        }),
      ),
    ),
  },
  'A group/version served by this server (local) or by another server behind a Service (aggregated).',
);
export type APIService = Static<typeof APIService>;
