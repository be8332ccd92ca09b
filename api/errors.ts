// ApiError: the one error type shared by server and client, carrying a Kubernetes meta/v1 Status.
import { goQuote } from './quote.js';

export type StatusReason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Gone'
  | 'Invalid' | 'ServerTimeout' | 'Timeout' | 'TooManyRequests' | 'RequestEntityTooLarge'
  | 'MethodNotAllowed' | 'NotAcceptable' | 'UnsupportedMediaType' | 'InternalError' | 'Expired' | 'ServiceUnavailable' | '';

/** A field error (kube's field.Error as a cause): what validation returns, every part given. */
export interface StatusCause {
  /** e.g. FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, FieldValueTooLong */
  reason: string;
  message: string;
  /** Kubernetes field path, e.g. spec.containers[0].image */
  field: string;
}

/** A cause as a Status carries it: each part may be missing (omitempty), as in an internal error's cause. */
export type DetailsCause = Partial<StatusCause>;

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: DetailsCause[];
  retryAfterSeconds?: number;
}

/**
 * meta/v1 Status. Built with statusOf() its keys are in Go's field order and its empty fields left out (omitempty),
 * so that JSON.stringify of it is the text kube-apiserver writes for the same Status.
 */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { resourceVersion?: string; continue?: string };
  status: 'Success' | 'Failure';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  /** Left out by a Success that kube writes without one (a deleted object's Status). */
  code?: number;
}

/** StatusCause with Go's field order (reason, message, field), empty strings left out. */
function causeOf(c: DetailsCause): DetailsCause {
  const out: DetailsCause = {};
  if (c.reason) out.reason = c.reason;
  if (c.message) out.message = c.message;
  if (c.field) out.field = c.field;
  return out;
}

/** StatusDetails with Go's field order (name, group, kind, uid, causes, retryAfterSeconds) and omitempty. */
export function detailsOf(d: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes?.length) out.causes = d.causes.map(causeOf);
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

/** A Status as kube serializes it: kind, apiVersion, metadata, status, message, reason, details, code (empty ones out). */
export function statusOf(status: 'Success' | 'Failure', code: number, reason: StatusReason, message: string, details?: StatusDetails): Status {
  const out: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status } as Status;
  if (message) out.message = message;
  if (reason) out.reason = reason;
  if (details) out.details = detailsOf(details);
  // Go leaves a zero code out too; a Status read back then has code 0.
  if (code) out.code = code;
  return out;
}

export class ApiError extends Error {
  readonly status: Status;
  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiError';
    this.status = statusOf('Failure', code, reason, message, details);
  }
  get code(): number {
    return this.status.code ?? 0;
  }
  get reason(): StatusReason {
    return this.status.reason ?? '';
  }
  static fromStatus(s: Status): ApiError {
    return new ApiError(s.code ?? 0, s.reason ?? '', s.message ?? '', s.details);
  }
}

/** A resource identity for messages: `pods "web"` or `deployments.apps "web"`. */
export interface ResourceRef {
  group: string;
  resource: string;
  kind?: string;
  name?: string;
}
const qualified = (r: ResourceRef): string => (r.group ? `${r.resource}.${r.group}` : r.resource);
/** What kube puts in details for a resource: the name, the group (left out when empty), the resource as "kind". */
const det = (r: ResourceRef, extra: Partial<StatusDetails> = {}): StatusDetails => ({ name: r.name ?? '', group: r.group, kind: r.resource, ...extra });

/** field.Error's text: "<field>: <body>" (": <body>" for the root path, as Go prints it). */
const causeText = (c: StatusCause): string => `${c.field}: ${c.message}`;

/** utilerrors.Aggregate's text of field.ErrorList.ToAggregate(): duplicates dropped, several in brackets. */
export function aggregateCauses(causes: StatusCause[]): string {
  const seen = [...new Set(causes.map(causeText))];
  return seen.length === 1 ? (seen[0] ?? '') : `[${seen.join(', ')}]`;
}

/** The route-level answer for a method a path does not take (go-restful's 405 through kube's error handler). */
const METHOD_NOT_ALLOWED = 'the server does not allow this method on the requested resource';

export const errors = {
  badRequest: (message: string): ApiError => new ApiError(400, 'BadRequest', message),
  unauthorized: (message = 'Unauthorized'): ApiError => new ApiError(401, 'Unauthorized', message),
  forbidden: (message: string): ApiError => new ApiError(403, 'Forbidden', message),
  /** kube's NewForbidden: `pods "x" is forbidden: why`, `pods is forbidden: why`, or `forbidden: why` without a resource. */
  forbiddenOn: (r: ResourceRef, why: string): ApiError => {
    const message = !r.resource && !r.group ? `forbidden: ${why}` : r.name ? `${qualified(r)} ${goQuote(r.name)} is forbidden: ${why}` : `${qualified(r)} is forbidden: ${why}`;
    return new ApiError(403, 'Forbidden', message, det(r));
  },
  notFound: (r: ResourceRef): ApiError => new ApiError(404, 'NotFound', `${qualified(r)} ${goQuote(r.name ?? '')} not found`, det(r)),
  alreadyExists: (r: ResourceRef): ApiError => new ApiError(409, 'AlreadyExists', `${qualified(r)} ${goQuote(r.name ?? '')} already exists`, det(r)),
  conflict: (r: ResourceRef, why: string): ApiError =>
    new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} ${goQuote(r.name ?? '')}: ${why}`, det(r)),
  gone: (message: string): ApiError => new ApiError(410, 'Expired', message),
  tooLarge: (message: string): ApiError => new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: ${message}`),
  /** kube's NewInvalid: `Pod "x" is invalid: <aggregate>`, details with the kind (not the resource) and every cause. */
  invalid: (kind: string, group: string, name: string, causes: StatusCause[]): ApiError => {
    // An invalid name can be megabytes long: shown cut, as field.ts cuts bad values.
    const shown = name.length > 1024 ? `${name.slice(0, 1024)}... (${name.length} characters, truncated)` : name;
    const what = `${kind}${group ? '.' + group : ''} ${goQuote(shown)} is invalid`;
    return new ApiError(422, 'Invalid', causes.length ? `${what}: ${aggregateCauses(causes)}` : what, { name: shown, group, kind, causes });
  },
  /** With no message: the answer for a method no route of the path takes, as kube-apiserver words it (details {}). */
  methodNotAllowed: (message?: string): ApiError => new ApiError(405, 'MethodNotAllowed', message ?? METHOD_NOT_ALLOWED, message === undefined ? {} : undefined),
  /** kube's NewMethodNotSupported: `<action> is not supported on resources of kind "<resource>"`. */
  methodNotSupported: (r: ResourceRef, action: string): ApiError =>
    new ApiError(405, 'MethodNotAllowed', `${action} is not supported on resources of kind ${JSON.stringify(qualified(r))}`, { group: r.group, kind: r.resource }),
  notAcceptable: (message: string): ApiError => new ApiError(406, 'NotAcceptable', message),
  unsupportedMediaType: (message: string): ApiError => new ApiError(415, 'UnsupportedMediaType', message),
  tooManyRequests: (message: string, retryAfterSeconds = 1): ApiError => new ApiError(429, 'TooManyRequests', message, { retryAfterSeconds }),
  /** kube's NewInternalError: the message also as the one cause. */
  internal: (message: string): ApiError => new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }),
  /** kube's NewTimeoutError: "Timeout: " and the message; details always there (retryAfterSeconds when not 0). */
  timeout: (message: string, retryAfterSeconds = 0): ApiError => new ApiError(504, 'Timeout', `Timeout: ${message}`, { retryAfterSeconds }),
  unavailable: (message: string): ApiError => new ApiError(503, 'ServiceUnavailable', message),
};

const is = (reason: StatusReason) => (err: unknown): boolean => err instanceof ApiError && err.reason === reason;
export const isNotFound = is('NotFound');
export const isAlreadyExists = is('AlreadyExists');
export const isConflict = is('Conflict');
export const isForbidden = is('Forbidden');
export const isInvalid = is('Invalid');
export const isGone = (err: unknown): boolean => err instanceof ApiError && err.code === 410;
export const isTooManyRequests = is('TooManyRequests');
