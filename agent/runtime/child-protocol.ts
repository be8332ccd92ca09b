// The IPC messages between the node agent and its runtime child (child.ts and child-main.ts).

/** Agent -> child: stop and remove every pod sandbox, then the bridge. */
export interface ChildRequest {
  type: 'removeAllPods';
  id: number;
  /** How long running containers get to exit after their stop signal (0: killed at once). */
  graceSeconds?: number;
}

/** Child -> agent: the gRPC server listens; or a request finished. */
export type ChildReply = { type: 'ready' } | { type: 'done'; id: number; error?: string };

export function isChildRequest(m: unknown): m is ChildRequest {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'removeAllPods' && typeof (m as { id?: unknown }).id === 'number';
}

export function isChildReply(m: unknown): m is ChildReply {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as { type?: unknown; id?: unknown };
  return r.type === 'ready' || (r.type === 'done' && typeof r.id === 'number');
}
