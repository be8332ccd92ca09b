// The undici package without its one side effect. On import it installs its own Agent as the process's global
// dispatcher when none is set yet; Node's built-in fetch (an older undici, another Dispatcher API) then sends through
// that Agent and breaks on details (an explicit content-length header is refused): a process that pulled an image
// through ketch's runtime had a different global fetch. Node's fetch loads its undici on its first call, which installs
// Node's own Agent: that call is made here first (a data: URL, no network). Callers of undici's fetch pass a
// dispatcher (defaultDispatcher when they need no TLS settings of their own), never relying on the global one.
import type * as Undici from 'undici';

await globalThis.fetch('data:,').then((r) => r.arrayBuffer());
const undici: typeof Undici = await import('undici');

export const { Agent, fetch } = undici;
export type Agent = Undici.Agent;
export type { RequestInit, Response } from 'undici';

/** The connection pool for undici's fetch when a request needs no TLS settings of its own. */
export const defaultDispatcher: Undici.Agent = new undici.Agent();
