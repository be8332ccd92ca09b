// The audit event of one request while it is served (kube's audit.AuditContext): created by the audit filter when the
// policy records the request, then completed by the steps after it: the authorization decision and impersonation
// (annotations, impersonatedUser), admission (annotations), the handlers (the request object and the answer).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Status } from '../../api/errors.js';
import type { UserInfo } from '../authorization/types.js';

/** audit.k8s.io/v1 levels, least to most. */
export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
export const AUDIT_LEVELS: readonly AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse'];
export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';
export const AUDIT_STAGES: readonly AuditStage[] = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'];

/** authentication.k8s.io/v1 UserInfo, as events carry it. */
export interface AuditUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AuditObjectRef {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

/** An audit.k8s.io/v1 Event. */
export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: AuditLevel;
  /** One id per request, shared by its events. */
  auditID: string;
  stage: AuditStage;
  requestURI: string;
  verb: string;
  user: AuditUser;
  impersonatedUser?: AuditUser;
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: Partial<Status> & { metadata: Record<string, unknown>; code: number };
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

/** The request's event being built, and what the policy asked to keep of it. */
export interface AuditRequestContext {
  event: AuditEvent;
  omitManagedFields: boolean;
  /** The request body, kept from Request level on: raw JSON bytes or the JSON of a decoded body. */
  requestBody?: Buffer | string;
  /** The answer's body, kept at RequestResponse for requests that are not long-running. */
  responseBody?: Buffer | string;
  keepResponse: boolean;
  /** Long-running requests: emits the ResponseStarted event (once) when the answer begins or the socket is handed on. */
  responseStarted?: () => void;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by the audit filter when the policy records this request. */
    audit?: AuditRequestContext;
  }
}

const atLeast = (level: AuditLevel, min: AuditLevel): boolean => AUDIT_LEVELS.indexOf(level) >= AUDIT_LEVELS.indexOf(min);
export const levelAtLeast = atLeast;

export function auditUser(u: UserInfo): AuditUser {
  const extra = u.extra && Object.keys(u.extra).length ? Object.fromEntries(Object.entries(u.extra).map(([k, v]) => [k, [...v]])) : undefined;
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: [...u.groups], ...(extra ? { extra } : {}) };
}

/** Adds an annotation to the request's audit event (kube's audit.AddAuditAnnotation); the first value of a key stays. */
export function annotateAudit(req: IncomingMessage, key: string, value: string): void {
  const ev = req.audit?.event;
  if (!ev) return;
  ev.annotations ??= {};
  if (!(key in ev.annotations)) ev.annotations[key] = value;
}

/** Records whom the request acts as (kube's audit.LogImpersonatedUser). */
export function auditImpersonation(req: IncomingMessage, user: UserInfo): void {
  if (req.audit) req.audit.event.impersonatedUser = auditUser(user);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Records the request's body (kube's LogRequestObject / LogRequestPatch): the object completes the objectRef (name,
 * namespace) at any level; the body itself is kept from Request level on, as sent when `raw` JSON is given.
 */
export function auditRequestBody(req: IncomingMessage, decoded: unknown, raw?: Buffer): void {
  const a = req.audit;
  if (!a) return;
  const ref = a.event.objectRef;
  if (ref && isRecord(decoded) && isRecord(decoded.metadata)) {
    const m = decoded.metadata;
    if (!ref.name && typeof m.name === 'string' && m.name) ref.name = m.name;
    if (!ref.namespace && typeof m.namespace === 'string' && m.namespace) ref.namespace = m.namespace;
  }
  if (!atLeast(a.event.level, 'Request')) return;
  a.requestBody = raw ?? JSON.stringify(decoded);
}

/** Records an answer's body (sendEncoded) when the policy keeps responses. */
export function auditResponse(res: ServerResponse, data: Buffer | string): void {
  const a = res.req?.audit;
  if (a?.keepResponse) a.responseBody = data;
}

/** Records an error answer's Status as the event's responseStatus (kube's LogResponseObject of a Status). */
export function auditResponseStatus(res: ServerResponse, status: Status): void {
  const a = res.req?.audit;
  if (!a) return;
  const { kind: _k, apiVersion: _v, ...rest } = status;
  a.event.responseStatus = { ...rest, code: rest.code ?? 200, metadata: {} };
}
