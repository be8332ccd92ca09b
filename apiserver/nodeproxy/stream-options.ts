// The options of pods/log, exec, attach and portforward as kube-apiserver decodes them from the query
// (PodLogOptions, PodExecOptions, PodAttachOptions, PodPortForwardOptions: booleans and integers converted as every
// query parameter is, see api/query.ts), the container checked against the pod, and the query the node agent reads
// (agent/README-streaming.md), in the one spelling it understands (`stdout=true`).
import { errors, type StatusCause } from '../../api/errors.js';
import { parseUint, queryBool, queryInt64 } from '../../api/query.js';
import { goQuote } from '../../api/quote.js';

/** The containers of a pod, as much as the checks read. */
export interface PodContainers {
  metadata: { name?: string };
  spec?: { containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
}

type Query = Pick<URLSearchParams, 'get' | 'getAll'>;

/**
 * kube's validateContainer: a named container must be one of the pod's (init and ephemeral ones included); no name is
 * the only container, or a 400 that lists the choices.
 */
export function containerOf(pod: PodContainers, name: string | null): string {
  const spec = pod.spec ?? {};
  const all = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
  const podName = pod.metadata.name ?? '';
  if (name) {
    if (!all.includes(name)) throw errors.badRequest(`container ${name} is not valid for pod ${podName}`);
    return name;
  }
  const containers = spec.containers ?? [];
  if (containers.length === 1) return containers[0]!.name;
  if (!containers.length) throw errors.badRequest(`a container name must be specified for pod ${podName}`);
  throw errors.badRequest(`a container name must be specified for pod ${podName}, choose one of: [${all.join(' ')}]`);
}

export interface LogRequest {
  container: string | null;
  /** The agent's query: follow, previous, timestamps, tailLines, sinceSeconds, limitBytes. */
  agentQuery: URLSearchParams;
  /** insecureSkipTLSVerifyBackend: read the log even when the agent's certificate does not verify. */
  skipVerify: boolean;
}

/** PodLogOptions from the query, validated as kube's ValidatePodLogOptions (a 422 naming PodLogOptions). */
export function logRequest(q: Query, podName: string, now: number): LogRequest {
  const agentQuery = new URLSearchParams();
  for (const k of ['follow', 'previous', 'timestamps']) if (queryBool(q.get(k))) agentQuery.set(k, 'true');
  const tailLines = queryInt64(q, 'tailLines');
  const limitBytes = queryInt64(q, 'limitBytes');
  let sinceSeconds = queryInt64(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime');
  const causes: StatusCause[] = [];
  const invalid = (field: string, value: number, detail: string): void => void causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${value}: ${detail}` });
  if (tailLines !== undefined && tailLines < 0) invalid('tailLines', tailLines, 'must be greater than or equal to 0');
  if (limitBytes !== undefined && limitBytes < 1) invalid('limitBytes', limitBytes, 'must be greater than 0');
  if (sinceSeconds !== undefined && sinceTime !== null) {
    causes.push({ reason: 'FieldValueForbidden', field: '', message: 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified' });
  } else if (sinceSeconds !== undefined && sinceSeconds < 1) invalid('sinceSeconds', sinceSeconds, 'must be greater than 0');
  if (causes.length) throw errors.invalid('PodLogOptions', '', podName, causes);
  if (sinceTime !== null) {
    // metav1.Time's query form is RFC 3339; the agent reads an age, so the time becomes one (at least a second).
    const t = Date.parse(sinceTime);
    if (!/^\d{4}-\d\d-\d\dT/.test(sinceTime) || Number.isNaN(t)) throw errors.badRequest(`parsing time ${goQuote(sinceTime)} as RFC 3339: cannot parse`);
    sinceSeconds = Math.max(1, Math.ceil((now - t) / 1000));
  }
  if (tailLines !== undefined) agentQuery.set('tailLines', String(tailLines));
  if (sinceSeconds !== undefined) agentQuery.set('sinceSeconds', String(sinceSeconds));
  if (limitBytes !== undefined) agentQuery.set('limitBytes', String(limitBytes));
  return { container: q.get('container'), agentQuery, skipVerify: queryBool(q.get('insecureSkipTLSVerifyBackend')) };
}

export interface ExecFlags {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface ExecRequest {
  flags: ExecFlags;
  /** exec only: the command, every `command` value in order. */
  command: string[];
  agentQuery: URLSearchParams;
}

/**
 * PodExecOptions / PodAttachOptions from the query, checked as the kubelet checks them (at least one stream; a
 * terminal has no separate stderr; exec needs a command).
 */
export function execRequest(q: Query, sub: 'exec' | 'attach'): ExecRequest {
  const tty = queryBool(q.get('tty'));
  const flags: ExecFlags = { stdin: queryBool(q.get('stdin')), stdout: queryBool(q.get('stdout')), stderr: queryBool(q.get('stderr')) && !tty, tty };
  if (!flags.stdin && !flags.stdout && !flags.stderr) throw errors.badRequest('you must specify at least 1 of stdin, stdout, stderr');
  const command = sub === 'exec' ? q.getAll('command') : [];
  if (sub === 'exec' && !command.length) throw errors.badRequest('you must specify a command to run in the container');
  const agentQuery = new URLSearchParams();
  for (const c of command) agentQuery.append('command', c);
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) if (flags[k]) agentQuery.set(k, 'true');
  return { flags, command, agentQuery };
}

/**
 * PodPortForwardOptions.ports: every `ports` value, each a comma-separated list (Convert_Slice_string_To_Slice_int32),
 * each from 1 to 65535 (the kubelet's check); none given is an empty list (SPDY clients name ports in their streams).
 */
export function portForwardPorts(q: Query): number[] {
  const ports: number[] = [];
  for (const value of q.getAll('ports')) {
    for (const p of value.split(',')) {
      const n = parseUint(p, 16);
      if (typeof n === 'string') throw errors.badRequest(`cannot convert to []int32: ${n}`);
      if (n < 1) throw errors.badRequest(`port ${goQuote(value)} must be > 0`);
      ports.push(n);
    }
  }
  return ports;
}
