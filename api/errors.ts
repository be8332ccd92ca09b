// ApiError: the one error type shared by server and client, carrying a Kubernetes meta/v1 Status.

export type StatusReason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Gone'
  | 'Invalid' | 'ServerTimeout' | 'Timeout' | 'TooManyRequests' | 'RequestEntityTooLarge'
  | 'MethodNotAllowed' | 'NotAcceptable' | 'UnsupportedMediaType' | 'InternalError' | 'Expired' | 'ServiceUnavailable' | '';

export interface StatusCause {
  /** e.g. FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, FieldValueTooLong */
  reason: string;
  message: string;
  /** Kubernetes field path, e.g. spec.containers[0].image */
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { resourceVersion?: string; continue?: string };
  status: 'Success' | 'Failure';
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  readonly status: Status;
  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiError';
    this.status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): StatusReason {
    return this.status.reason;
  }
  static fromStatus(s: Status): ApiError {
    return new ApiError(s.code, s.reason, s.message, s.details);
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
const det = (r: ResourceRef, extra: Partial<StatusDetails> = {}): StatusDetails => ({
  ...(r.name !== undefined ? { name: r.name } : {}),
  group: r.group,
  kind: r.resource,
  ...extra,
});

export const errors = {
  badRequest: (message: string): ApiError => new ApiError(400, 'BadRequest', message),
  unauthorized: (message = 'Unauthorized'): ApiError => new ApiError(401, 'Unauthorized', message),
  forbidden: (message: string): ApiError => new ApiError(403, 'Forbidden', message),
  notFound: (r: ResourceRef): ApiError => new ApiError(404, 'NotFound', `${qualified(r)} "${r.name ?? ''}" not found`, det(r)),
  alreadyExists: (r: ResourceRef): ApiError => new ApiError(409, 'AlreadyExists', `${qualified(r)} "${r.name ?? ''}" already exists`, det(r)),
  conflict: (r: ResourceRef, why: string): ApiError =>
    new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${r.name ?? ''}": ${why}`, det(r)),
  gone: (message: string): ApiError => new ApiError(410, 'Expired', message),
  tooLarge: (message: string): ApiError => new ApiError(413, 'RequestEntityTooLarge', message),
  invalid: (kind: string, group: string, name: string, causes: StatusCause[]): ApiError => {
    // An invalid name can be megabytes long: shown cut, as field.ts cuts bad values.
    const shown = name.length > 1024 ? `${name.slice(0, 1024)}... (${name.length} characters, truncated)` : name;
    return new ApiError(
      422,
      'Invalid',
      `${kind}${group ? '.' + group : ''} "${shown}" is invalid: ${causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ')}`,
      { name: shown, group, kind, causes },
    );
  },
  methodNotAllowed: (message: string): ApiError => new ApiError(405, 'MethodNotAllowed', message),
  notAcceptable: (message: string): ApiError => new ApiError(406, 'NotAcceptable', message),
  unsupportedMediaType: (message: string): ApiError => new ApiError(415, 'UnsupportedMediaType', message),
  tooManyRequests: (message: string, retryAfterSeconds = 1): ApiError => new ApiError(429, 'TooManyRequests', message, { retryAfterSeconds }),
  internal: (message: string): ApiError => new ApiError(500, 'InternalError', `Internal error occurred: ${message}`),
  timeout: (message: string): ApiError => new ApiError(504, 'Timeout', message),
  unavailable: (message: string): ApiError => new ApiError(503, 'ServiceUnavailable', message),
};

const is = (reason: StatusReason) => (err: unknown): boolean => err instanceof ApiError && err.reason === reason;
export const isNotFound = is('NotFound');
export const isAlreadyExists = is('AlreadyExists');
export const isConflict = is('Conflict');
export const isInvalid = is('Invalid');
export const isGone = (err: unknown): boolean => err instanceof ApiError && err.code === 410;
export const isTooManyRequests = is('TooManyRequests');
