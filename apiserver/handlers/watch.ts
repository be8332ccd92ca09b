// Watches: the checks and the counting shared by the chunked HTTP stream and the WebSocket, and the events sent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import { errors } from '../../api/errors.js';
import { parseListOptions } from '../../api/list-options.js';
import { findByResource, type ResourceInfo } from '../../api/resources.js';
import { tableVersion, type TableVersion } from '../http/requests.js';
import type { RequestInfo } from '../http/request-info.js';
import { notFoundPath } from '../http/responses.js';
import type { Obj } from '../registry/object.js';
import type { WatchOut } from '../registry/rest.js';
import type { Store } from '../registry/store.js';
import { watchLine } from '../registry/watch-line.js';
import type { HandlerContext } from './context.js';
import { includeParam } from './params.js';
import { toTable, type IncludeObject } from './tables.js';

/** Where a watch's events go: a chunked HTTP response or a WebSocket. */
export interface WatchSink {
  /** Sends one event's JSON (without a line end); false when it had to be queued (the client is behind). */
  send(json: string | Buffer): boolean;
  /** Bytes queued for the client and not sent yet. */
  buffered(): number;
  onClose(listener: () => void): void;
  /** The watch is over (timeout, error, server stop): a clean end. */
  end(): void;
  /** The client fell too far behind: the connection is cut, and what was queued for it is dropped. */
  abort(): void;
}

/** A watch opened (checked, counted, its storage side started), before anything is sent: errors here are still answers. */
interface OpenWatch {
  run(sink: WatchSink): Promise<void>;
  /** Gives the watch up without running it. */
  close(): void;
}

function openWatch(req: IncomingMessage, ri: RequestInfo, info: ResourceInfo, store: Store, ctx: HandlerContext): OpenWatch {
  const options = parseListOptions(ri.query);
  const min = ctx.minWatchTimeoutSec;
  const timeoutSec = options.timeoutSeconds !== undefined && options.timeoutSeconds > 0 ? options.timeoutSeconds : min + Math.floor(Math.random() * min);
  const watch = store.watch(ri.namespace, { ...options, ...(ri.name ? { name: ri.name } : {}) });
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    watch.close();
  };
  let release: () => void;
  try {
    release = ctx.watches.add(stop);
  } catch (err) {
    watch.close();
    throw err;
  }
  const table = tableVersion(req.headers.accept);
  const include = includeParam(ri.query);
  return {
    close() {
      stop();
      release();
    },
    async run(sink) {
      const timer = setTimeout(stop, timeoutSec * 1000);
      sink.onClose(stop);
      let cut = false;
      try {
        for await (const ev of watch) {
          if (stopped) break;
          const change = ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED';
          const json = table && change ? JSON.stringify({ type: ev.type, object: tableEvent(info, ev, include, table, ctx) }) : change ? changeJson(ev) : JSON.stringify(ev);
          // A client that stops reading is cut off rather than given an ever-growing buffer.
          if (!sink.send(json) && sink.buffered() > ctx.watchMaxBufferedBytes) {
            cut = true;
            ctx.log.warn('slow watcher cut off', { resource: info.resource, bufferedBytes: sink.buffered() });
            break;
          }
          if (ev.type === 'ERROR') break;
        }
      } catch (err) {
        ctx.log.warn('watch failed', { resource: info.resource, error: (err as Error).message });
      } finally {
        clearTimeout(timer);
        release();
        watch.close();
        if (cut) sink.abort();
        else sink.end();
      }
    },
  };
}

/** A watch as a chunked HTTP stream of JSON WatchEvents, one per line. */
export async function serveWatch(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, info: ResourceInfo, store: Store, ctx: HandlerContext): Promise<void> {
  const opened = openWatch(req, ri, info, store, ctx);
  // Send the headers now: client-go waits for them before it reads any event (kubectl wait would hang).
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  // The events of one turn of the event loop go out in one write (one TLS record, one syscall) rather than one each:
  // the response stays corked from its first event of the turn until the turn's check phase.
  let corked = false;
  const uncork = (): void => {
    if (!corked) return;
    corked = false;
    res.uncork();
  };
  await opened.run({
    send: (json) => {
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(uncork);
      }
      return res.write(typeof json === 'string' ? json + '\n' : json);
    },
    buffered: () => res.writableLength,
    onClose: (listener) => res.on('close', listener),
    end: () => {
      uncork();
      res.end();
    },
    abort: () => {
      uncork();
      res.destroy();
    },
  });
}

/**
 * A watch over WebSocket (`?watch=true` with an Upgrade, as browsers and some clients ask): the same checks and events
 * as the chunked stream, one JSON WatchEvent per text message. `upgrade` completes the handshake once the watch is
 * open, so that a refused one (404, 400, 429) is still an HTTP answer.
 */
export async function serveWatchUpgrade(req: IncomingMessage, ri: RequestInfo, ctx: HandlerContext, upgrade: () => Promise<WebSocket>): Promise<void> {
  const info = findByResource(ri.group, ri.version, ri.resource);
  const store = info && ctx.registry.store(info);
  if (!info || !store || ri.subresource || (!info.namespaced && ri.namespace)) throw notFoundPath();
  if (!info.verbs.includes('watch')) throw errors.methodNotSupported({ group: info.group, resource: info.resource }, 'watch');
  const opened = openWatch(req, { ...ri, verb: 'watch' }, info, store, ctx);
  let ws: WebSocket;
  try {
    ws = await upgrade();
  } catch (err) {
    opened.close();
    throw err;
  }
  ws.on('error', () => ws.terminate());
  // Messages from the client mean nothing to a watch; its close ends the watch.
  await opened.run({
    send: (json) => {
      // A Buffer line ends in '\n' (see changeJson): the message is the JSON without it, as text.
      ws.send(typeof json === 'string' ? json : json.subarray(0, json.length - 1), { binary: false });
      return ws.bufferedAmount === 0;
    },
    buffered: () => ws.bufferedAmount,
    onClose: (listener) => ws.on('close', listener),
    end: () => ws.close(1000),
    abort: () => ws.terminate(),
  });
}

/**
 * A change's line: from the object's shared JSON (its stored bytes) when the watch cache has it, ending in '\n' as
 * the chunked stream sends it, made once per change and type and shared by every watcher it goes to (for the
 * change's own type, the line the cache keeps the JSON in); else its serialization, shared by every watcher of that object.
 */
function changeJson(ev: WatchOut): Buffer | string {
  if (ev.json) {
    const json = ev.json();
    const made = changeLines.get(json);
    if (made?.type === ev.type) return made.line;
    const { line, made: fresh } = watchLine(ev.type, json);
    if (fresh) changeLines.set(json, { type: ev.type, line });
    return line;
  }
  return `{"type":"${ev.type}","object":${objectJson(ev.object)}}`;
}

/** The line of each change sent, by the change's shared JSON (kept while the watch cache keeps the change). */
const changeLines = new WeakMap<Buffer, { type: string; line: Buffer }>();

/** The JSON of each object a watch sent, shared by every watcher it goes to (objects of the watch cache never change). */
const watchedJson = new WeakMap<object, string>();
function objectJson(obj: object): string {
  let json = watchedJson.get(obj);
  if (json === undefined) watchedJson.set(obj, (json = JSON.stringify(obj)));
  return json;
}

function tableEvent(info: ResourceInfo, ev: WatchOut, include: IncludeObject, version: TableVersion, ctx: HandlerContext): unknown {
  const obj = ev.object as Obj;
  return toTable(info.kind, [obj], { include, now: ctx.clock.now(), printer: ctx.registry.store(info).strategy.printer, version, ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) });
}

