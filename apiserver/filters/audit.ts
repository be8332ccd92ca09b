// The audit filter (kube-apiserver's WithAudit): once a request is authenticated, the AuditSink's policy says at which
// level it is recorded; the events of its stages (RequestReceived, ResponseStarted for long-running requests,
// ResponseComplete, or Panic) go to the sink as audit.k8s.io/v1 Events, with the request and response objects from
// Request and RequestResponse level on. The steps after this filter complete the event (filters/audit-context.ts).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nowRFC3339Micro as rfc3339Micro } from '../../api/keys.js';
import { attributesOf, type Attributes } from './authorization.js';
import { auditUser, levelAtLeast, type AuditEvent, type AuditLevel, type AuditObjectRef, type AuditRequestContext, type AuditStage } from './audit-context.js';
import type { Filter } from './chain.js';

export type { AuditEvent, AuditLevel, AuditStage } from './audit-context.js';

/** What the audit policy says of a request (kube's auditinternal.RequestAuditConfig). */
export interface AuditDecision {
  level: AuditLevel;
  omitStages: readonly AuditStage[];
  omitManagedFields: boolean;
}

export interface AuditSink {
  /** The policy's answer for requests with these attributes (level None: not recorded). */
  decide(attrs: Attributes): AuditDecision;
  /** Takes an event over (to buffer or write it): it must not throw, and is not waited for. */
  process(event: AuditEvent): void;
}

/** kube's default long-running check: watches and the streaming subresources get a ResponseStarted event. */
const LONG_RUNNING_SUBRESOURCES = new Set(['attach', 'exec', 'proxy', 'log', 'portforward']);
const isLongRunning = (a: Attributes): boolean => a.resourceRequest && (a.verb === 'watch' || LONG_RUNNING_SUBRESOURCES.has(a.subresource));

/** The audit filter; `now` stamps the events. */
export function withAudit(sink: AuditSink | undefined, now: () => Date): Filter {
  if (!sink) return (req, res, next) => next(req, res);
  return (req, res, next) => {
    const attrs = attributesOf(req);
    const decision = sink.decide(attrs);
    if (decision.level === 'None') return next(req, res);
    const longRunning = isLongRunning(attrs);
    const ctx: AuditRequestContext = {
      event: eventOf(req, attrs, decision.level, rfc3339Micro(now())),
      omitManagedFields: decision.omitManagedFields,
      keepResponse: decision.level === 'RequestResponse' && !longRunning,
    };
    req.audit = ctx;
    const emit = (stage: AuditStage): void => {
      if (!decision.omitStages.includes(stage)) sink.process(stageEvent(ctx, res, stage, rfc3339Micro(now())));
    };
    emit('RequestReceived');
    if (longRunning) {
      let started = false;
      ctx.responseStarted = () => {
        if (started) return;
        started = true;
        emit('ResponseStarted');
      };
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
      res.writeHead = ((...args: unknown[]) => {
        const out = writeHead(...args);
        ctx.responseStarted?.();
        return out;
      }) as ServerResponse['writeHead'];
    }
    return next(req, res).then(
      () => emit('ResponseComplete'),
      (err: unknown) => {
        emit('Panic');
        throw err;
      },
    );
  };
}

function eventOf(req: IncomingMessage, attrs: Attributes, level: AuditLevel, at: string): AuditEvent {
  const ua = req.headers['user-agent'];
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level,
    auditID: auditIdOf(req),
    stage: 'RequestReceived',
    requestURI: req.url ?? '/',
    verb: attrs.verb,
    user: auditUser(attrs.user),
    sourceIPs: sourceIPs(req),
    ...(ua ? { userAgent: ua } : {}),
    ...(attrs.resourceRequest ? { objectRef: objectRef(attrs) } : {}),
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  };
}

/** The client's Audit-ID when it sent a usable one (kube keeps it), else a new UUID. */
function auditIdOf(req: IncomingMessage): string {
  const given = req.headers['audit-id'];
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}

/** X-Forwarded-For's addresses, then the peer's (kube's utilnet.SourceIPs, without X-Real-Ip). */
function sourceIPs(req: IncomingMessage): string[] {
  const out: string[] = [];
  const fwd = req.headers['x-forwarded-for'];
  if (typeof fwd === 'string') for (const a of fwd.split(',')) if (a.trim() && out.length < 10) out.push(a.trim());
  const peer = req.socket.remoteAddress?.replace(/^::ffff:/, '');
  if (peer && !out.includes(peer)) out.push(peer);
  return out;
}

function objectRef(a: Attributes): AuditObjectRef {
  return {
    resource: a.resource,
    ...(a.namespace ? { namespace: a.namespace } : {}),
    ...(a.name ? { name: a.name } : {}),
    ...(a.apiGroup ? { apiGroup: a.apiGroup } : {}),
    ...(a.apiVersion ? { apiVersion: a.apiVersion } : {}),
    ...(a.subresource ? { subresource: a.subresource } : {}),
  };
}

/** One stage's event: a copy of the request's event as it stands, with what that stage adds. */
function stageEvent(ctx: AuditRequestContext, res: ServerResponse, stage: AuditStage, at: string): AuditEvent {
  const ev: AuditEvent = { ...ctx.event, stage, stageTimestamp: at };
  if (ctx.event.objectRef) ev.objectRef = { ...ctx.event.objectRef };
  if (ctx.event.annotations) ev.annotations = { ...ctx.event.annotations };
  if (stage === 'RequestReceived') return ev;
  const code = stage === 'Panic' ? 500 : res.statusCode;
  ev.responseStatus = ctx.event.responseStatus && stage !== 'Panic' ? { ...ctx.event.responseStatus } : { metadata: {}, code };
  if (levelAtLeast(ev.level, 'Request') && ctx.requestBody !== undefined) {
    const obj = parsed(ctx.requestBody);
    if (obj !== undefined) ev.requestObject = ctx.omitManagedFields ? withoutManagedFields(obj) : obj;
  }
  if (stage === 'ResponseComplete' && ctx.keepResponse && ctx.responseBody !== undefined) {
    const obj = parsed(ctx.responseBody);
    if (obj !== undefined) ev.responseObject = ctx.omitManagedFields ? withoutManagedFields(obj) : obj;
  }
  return ev;
}

/** A body as JSON; one that is not (a protobuf answer, text) is left out rather than logged as bytes. */
function parsed(body: Buffer | string): unknown {
  try {
    return JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as unknown;
  } catch {
    return undefined; // not JSON: kube would log it as opaque bytes, which say nothing in a JSON log
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** omitManagedFields: metadata.managedFields dropped from an object and from a list's items. */
function withoutManagedFields(obj: unknown): unknown {
  if (!isRecord(obj)) return obj;
  const strip = (o: Record<string, unknown>): Record<string, unknown> => {
    if (!isRecord(o.metadata) || !('managedFields' in o.metadata)) return o;
    const { managedFields: _mf, ...metadata } = o.metadata;
    return { ...o, metadata };
  };
  const out = strip(obj);
  return Array.isArray(out.items) ? { ...out, items: out.items.map((i) => (isRecord(i) ? strip(i) : i)) } : out;
}
