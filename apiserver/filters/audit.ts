// The audit slot (kube-apiserver's WithAudit): each authenticated request can be recorded as audit.k8s.io Events, one
// when it is received and one when its answer is complete. Where events go and which requests are recorded is an
// AuditSink's business (the audit log implements one); without a sink the filter passes requests on untouched.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nowRFC3339Micro as rfc3339Micro } from '../../api/keys.js';
import { attributesOf, type Attributes } from './authorization.js';
import type { UserInfo } from './authentication.js';
import type { Filter } from './chain.js';

export type AuditStage = 'RequestReceived' | 'ResponseComplete';

/** The fields of an audit.k8s.io/v1 Event that are known here (no request or response bodies). */
export interface AuditEvent {
  stage: AuditStage;
  /** One id per request, shared by its events. */
  auditID: string;
  requestURI: string;
  verb: string;
  user: UserInfo;
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: { resource: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string };
  responseStatus?: { code: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

export interface AuditSink {
  /** Whether requests with these attributes are recorded at all (an audit policy's level None says no). */
  wants(attrs: Attributes): boolean;
  /** Takes an event over (to buffer or write it): it must not throw, and is not waited for. */
  process(event: AuditEvent): void;
}

/** The audit filter; `now` stamps the events. */
export function withAudit(sink: AuditSink | undefined, now: () => Date): Filter {
  if (!sink) return (req, res, next) => next(req, res);
  return (req, res, next) => {
    const attrs = attributesOf(req);
    if (!sink.wants(attrs)) return next(req, res);
    const received = eventOf(req, attrs, rfc3339Micro(now()));
    sink.process(received);
    return next(req, res).then(() => sink.process(completed(received, res, rfc3339Micro(now()))));
  };
}

function eventOf(req: IncomingMessage, attrs: Attributes, at: string): AuditEvent {
  const ua = req.headers['user-agent'];
  return {
    stage: 'RequestReceived',
    auditID: randomUUID(),
    requestURI: req.url ?? '/',
    verb: attrs.verb,
    user: attrs.user,
    sourceIPs: req.socket.remoteAddress ? [req.socket.remoteAddress] : [],
    ...(ua ? { userAgent: ua } : {}),
    ...(attrs.resourceRequest ? { objectRef: objectRef(attrs) } : {}),
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  };
}

function objectRef(a: Attributes): NonNullable<AuditEvent['objectRef']> {
  return {
    resource: a.resource,
    ...(a.namespace ? { namespace: a.namespace } : {}),
    ...(a.name ? { name: a.name } : {}),
    ...(a.apiGroup ? { apiGroup: a.apiGroup } : {}),
    ...(a.apiVersion ? { apiVersion: a.apiVersion } : {}),
    ...(a.subresource ? { subresource: a.subresource } : {}),
  };
}

function completed(received: AuditEvent, res: ServerResponse, at: string): AuditEvent {
  return { ...received, stage: 'ResponseComplete', responseStatus: { code: res.statusCode }, stageTimestamp: at };
}
