// The CRI's one error type: a gRPC status code and a message; the runtime throws it, server.ts turns it into a gRPC status.
import * as grpc from '@grpc/grpc-js';

export type RuntimeErrorCode = 'NotFound' | 'InvalidArgument' | 'AlreadyExists' | 'FailedPrecondition' | 'Unavailable' | 'Internal' | 'DeadlineExceeded' | 'PermissionDenied';

const CODES: Record<RuntimeErrorCode, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  Unavailable: grpc.status.UNAVAILABLE,
  Internal: grpc.status.INTERNAL,
  DeadlineExceeded: grpc.status.DEADLINE_EXCEEDED,
  PermissionDenied: grpc.status.PERMISSION_DENIED,
};

export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    /** An error the caller is expected to handle (not found, bad input): logged at debug level only. */
    readonly expected = code === 'NotFound' || code === 'InvalidArgument',
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export const notFound = (what: string): RuntimeError => new RuntimeError('NotFound', `${what} not found`);
export const invalid = (msg: string): RuntimeError => new RuntimeError('InvalidArgument', msg);

export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof RuntimeError) return { code: CODES[err.code], details: err.message, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.UNKNOWN, details: message, message };
}
