// authentication.k8s.io/v1 and authorization.k8s.io/v1 review kinds: created and answered, never stored
// (SelfSubjectReview, TokenReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
// LocalSubjectAccessReview). Field names and definitions as in Kubernetes.
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Bool, StrArr, MapOf, Arr } from './kit.js';
import { kindSchema } from './meta.js';

const AUTHN = 'io.k8s.api.authentication.v1';
const AUTHZ = 'io.k8s.api.authorization.v1';

export const UserInfo = named(
  `${AUTHN}.UserInfo`,
  Type.Object(
    {
      username: Opt(Str({ description: 'The name that uniquely identifies this user among all active users.' })),
      uid: Opt(Str({ description: 'A unique value that identifies this user across time.' })),
      groups: Opt(StrArr({ description: 'The names of groups this user is a part of.' })),
      extra: Opt(MapOf(StrArr(), { description: 'Any additional information provided by the authenticator.' })),
    },
    { description: 'The information about the user needed to implement the user.Info interface.' },
  ),
);

export const SelfSubjectReview = kindSchema(
  `${AUTHN}.SelfSubjectReview`,
  'authentication.k8s.io/v1',
  'SelfSubjectReview',
  { status: Opt(named(`${AUTHN}.SelfSubjectReviewStatus`, Type.Object({ userInfo: Opt(UserInfo) }))) },
  'The user information the API server has for the user making this request (kubectl auth whoami).',
);
export type SelfSubjectReview = Static<typeof SelfSubjectReview>;

export const TokenReview = kindSchema(
  `${AUTHN}.TokenReview`,
  'authentication.k8s.io/v1',
  'TokenReview',
  {
    spec: named(
      `${AUTHN}.TokenReviewSpec`,
      Type.Object({
        token: Opt(Str({ description: 'The opaque bearer token.' })),
        audiences: Opt(StrArr({ description: 'Identifiers the token must be meant for (one of them); the API server\'s when empty.' })),
      }),
    ),
    status: Opt(
      named(
        `${AUTHN}.TokenReviewStatus`,
        Type.Object({
          authenticated: Opt(Bool({ description: 'Whether the token is associated with a known user.' })),
          user: Opt(UserInfo),
          audiences: Opt(StrArr({ description: 'The audiences among those asked for that the token is meant for.' })),
          error: Opt(Str({ description: 'Why the token could not be checked.' })),
        }),
      ),
    ),
  },
  'Attempts to authenticate a token to a known user.',
);
export type TokenReview = Static<typeof TokenReview>;

export const ResourceAttributes = named(
  `${AUTHZ}.ResourceAttributes`,
  Type.Object(
    {
      namespace: Opt(Str({ description: 'The namespace of the action being requested; "" means all namespaces.' })),
      verb: Opt(Str({ description: 'A kubernetes resource API verb, like: get, list, watch, create, update, delete, proxy. "*" means all.' })),
      group: Opt(Str({ description: 'The API group of the resource. "*" means all.' })),
      version: Opt(Str({ description: 'The API version of the resource. "*" means all.' })),
      resource: Opt(Str({ description: 'One of the existing resource types. "*" means all.' })),
      subresource: Opt(Str({ description: 'One of the existing resource types. "" means none.' })),
      name: Opt(Str({ description: 'The name of the resource being requested for a get or deleted for a delete. "" means all.' })),
    },
    { description: 'The authorization attributes of a request to a resource.' },
  ),
);

export const NonResourceAttributes = named(
  `${AUTHZ}.NonResourceAttributes`,
  Type.Object(
    { path: Opt(Str({ description: 'The URL path of the request.' })), verb: Opt(Str({ description: 'The standard HTTP verb.' })) },
    { description: 'The authorization attributes of a request to a path that is not a resource.' },
  ),
);

const SubjectAccessReviewStatus = named(
  `${AUTHZ}.SubjectAccessReviewStatus`,
  Type.Object({
    allowed: Bool({ description: 'Whether the action would be allowed.' }),
    denied: Opt(Bool({ description: 'Whether the action would be denied, whatever other authorizers say.' })),
    reason: Opt(Str({ description: 'Why the action is allowed or denied.' })),
    evaluationError: Opt(Str({ description: 'An error of the authorization check, which may still have been decided.' })),
  }),
);

const SubjectAccessReviewSpec = named(
  `${AUTHZ}.SubjectAccessReviewSpec`,
  Type.Object(
    {
      resourceAttributes: Opt(ResourceAttributes),
      nonResourceAttributes: Opt(NonResourceAttributes),
      user: Opt(Str({ description: 'The user to test for.' })),
      groups: Opt(StrArr({ description: 'The groups to test for.' })),
      extra: Opt(MapOf(StrArr())),
      uid: Opt(Str({ description: 'Information about the requesting user.' })),
    },
    { description: 'The access request; exactly one of resourceAttributes and nonResourceAttributes.' },
  ),
);

export const SubjectAccessReview = kindSchema(
  `${AUTHZ}.SubjectAccessReview`,
  'authorization.k8s.io/v1',
  'SubjectAccessReview',
  { spec: SubjectAccessReviewSpec, status: Opt(SubjectAccessReviewStatus) },
  'Checks whether a user or group can perform an action.',
);
export type SubjectAccessReview = Static<typeof SubjectAccessReview>;

export const LocalSubjectAccessReview = kindSchema(
  `${AUTHZ}.LocalSubjectAccessReview`,
  'authorization.k8s.io/v1',
  'LocalSubjectAccessReview',
  { spec: SubjectAccessReviewSpec, status: Opt(SubjectAccessReviewStatus) },
  'Checks whether a user or group can perform an action in a given namespace.',
);

export const SelfSubjectAccessReview = kindSchema(
  `${AUTHZ}.SelfSubjectAccessReview`,
  'authorization.k8s.io/v1',
  'SelfSubjectAccessReview',
  {
    spec: named(
      `${AUTHZ}.SelfSubjectAccessReviewSpec`,
      Type.Object(
        { resourceAttributes: Opt(ResourceAttributes), nonResourceAttributes: Opt(NonResourceAttributes) },
        { description: 'The access request; exactly one of resourceAttributes and nonResourceAttributes.' },
      ),
    ),
    status: Opt(SubjectAccessReviewStatus),
  },
  'Checks whether the current user can perform an action (kubectl auth can-i).',
);

const ResourceRule = named(
  `${AUTHZ}.ResourceRule`,
  Type.Object({ verbs: StrArr(), apiGroups: Opt(StrArr()), resources: Opt(StrArr()), resourceNames: Opt(StrArr()) }),
);
const NonResourceRule = named(`${AUTHZ}.NonResourceRule`, Type.Object({ verbs: StrArr(), nonResourceURLs: Opt(StrArr()) }));

export const SelfSubjectRulesReview = kindSchema(
  `${AUTHZ}.SelfSubjectRulesReview`,
  'authorization.k8s.io/v1',
  'SelfSubjectRulesReview',
  {
    spec: named(`${AUTHZ}.SelfSubjectRulesReviewSpec`, Type.Object({ namespace: Opt(Str({ description: 'The namespace to evaluate rules for.' })) })),
    status: Opt(
      named(
        `${AUTHZ}.SubjectRulesReviewStatus`,
        Type.Object({
          resourceRules: Arr(ResourceRule),
          nonResourceRules: Arr(NonResourceRule),
          incomplete: Bool({ description: 'True when the rules are not complete (the authorizer cannot enumerate them).' }),
          evaluationError: Opt(Str()),
        }),
      ),
    ),
  },
  'Enumerates what the current user can do in a namespace (kubectl auth can-i --list).',
);
