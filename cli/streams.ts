// Streaming to pods through the API server: the WebSocket channel protocol (v5/v4.channel.k8s.io) of exec and attach,
// and picking the pod behind `deploy/web`, `svc/web` or `-l app=web` for logs, exec and port-forward.
import WebSocket from 'ws';
import { statusOf, type ObjectLike } from '../client/rest.js';
import type { Status } from '../api/errors.js';
import type { Cli } from './context.js';
import { CliError } from './errors.js';

type Any = Record<string, unknown>;
export type PodObj = ObjectLike & { spec?: { containers?: { name: string; ports?: { containerPort: number; name?: string }[] }[]; initContainers?: { name: string }[]; nodeName?: string }; status?: { phase?: string } };

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** Opens a WebSocket to an API path with the client's credentials. */
export function openWebSocket(cli: Cli, path: string, query: URLSearchParams, protocols: string[]): Promise<WebSocket> {
  const cfg = cli.config;
  const url = new URL(path, cfg.server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = query.toString();
  const ws = new WebSocket(url, protocols, {
    ...(cfg.ca ? { ca: cfg.ca } : {}),
    ...(cfg.cert && cfg.key ? { cert: cfg.cert, key: cfg.key } : {}),
    rejectUnauthorized: !cfg.insecureSkipTLSVerify,
    headers: cfg.token && url.protocol === 'wss:' ? { Authorization: `Bearer ${cfg.token}` } : {},
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        const st = statusOf(body);
        if (st) {
          reject(Object.assign(new CliError(st.message ?? `upgrade failed with ${res.statusCode ?? 0}`), { apiStatus: st }));
          return;
        }
        reject(new CliError(`unable to upgrade connection: ${body.trim() || String(res.statusCode)}`));
      });
    });
    ws.once('error', reject);
  });
}

export interface ExecStreams {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  tty: boolean;
  /** Terminal size for tty sessions. */
  size?: () => { width: number; height: number } | undefined;
}

/**
 * Runs the channel protocol until the server closes: stdin to channel 0, channels 1 and 2 to stdout and stderr, and
 * the Status on channel 3. Resolves to the exit code of the remote process.
 */
export function runChannels(ws: WebSocket, s: ExecStreams): Promise<number> {
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  let status: Partial<Status> | undefined;
  return new Promise<number>((resolve, reject) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const buf = isBinary ? data : Buffer.from(data.toString(), 'base64');
      if (!buf.length) return;
      const ch = buf[0]!;
      const payload = buf.subarray(1);
      if (ch === CHANNEL.stdout) s.stdout.write(payload);
      else if (ch === CHANNEL.stderr) s.stderr.write(payload);
      else if (ch === CHANNEL.error && payload.length) {
        try {
          status = JSON.parse(payload.toString('utf8')) as Partial<Status>;
        } catch {
          status = { status: 'Failure', message: payload.toString('utf8') };
        }
      }
    });
    const sendSize = (): void => {
      const size = s.size?.();
      if (size && ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([CHANNEL.resize]), Buffer.from(JSON.stringify({ Width: size.width, Height: size.height }))]));
    };
    if (s.tty) sendSize();
    let restore = (): void => undefined;
    if (s.stdin) {
      const input = s.stdin;
      if (s.tty && input.isTTY && input.setRawMode) {
        input.setRawMode(true);
        restore = () => void input.setRawMode?.(false);
      }
      const onData = (chunk: Buffer | string): void => {
        if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([CHANNEL.stdin]), Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)]));
      };
      const onEnd = (): void => {
        // v5 can half-close stdin; older protocols have no way to say so.
        if (v5 && ws.readyState === WebSocket.OPEN) ws.send(Buffer.from([CHANNEL.close, CHANNEL.stdin]));
      };
      input.on('data', onData);
      input.on('end', onEnd);
      const prev = restore;
      restore = () => {
        prev();
        input.off('data', onData);
        input.off('end', onEnd);
        input.pause?.();
      };
      input.resume?.();
    }
    const onResize = (): void => sendSize();
    if (s.tty) process.stdout.on('resize', onResize);
    ws.on('close', () => {
      restore();
      process.stdout.off('resize', onResize);
      resolve(exitCodeOf(status));
    });
    ws.on('error', (e) => {
      restore();
      reject(e);
    });
  }).then((code) => {
    if (code === -1) throw new CliError(status?.message ?? 'the remote command failed');
    return code;
  });
}

/** 0 on Success, the exit code on NonZeroExitCode, -1 for other failures. */
export function exitCodeOf(st: Partial<Status> | undefined): number {
  if (!st || st.status === 'Success') return 0;
  if ((st.reason as string | undefined) === 'NonZeroExitCode') {
    const cause = st.details?.causes?.find((c) => c.reason === 'ExitCode');
    const n = Number(cause?.message);
    return Number.isInteger(n) ? n : 1;
  }
  return -1;
}

/** The pod a verb acts on: `NAME`, `pod/NAME`, or the first (running) pod of `deploy/x`, `rs/x`, `svc/x`, `job/x`. */
export async function resolvePod(cli: Cli, arg: string): Promise<PodObj> {
  const resolver = await cli.resolver();
  const podRes = resolver.byKind('v1', 'Pod');
  if (!podRes) throw new CliError('the server has no pods');
  const i = arg.indexOf('/');
  if (i < 0) return cli.client<PodObj>(podRes).get(cli.namespace, arg);
  const res = resolver.resolve(arg.slice(0, i));
  const name = arg.slice(i + 1);
  if (res === podRes) return cli.client<PodObj>(podRes).get(cli.namespace, name);
  const obj = (await cli.client(res).get(cli.nsFor(res), name)) as ObjectLike & { spec?: { selector?: Any } };
  const sel = obj.spec?.selector;
  const labels = (res.kind === 'Service' ? sel : (sel as { matchLabels?: Record<string, string> } | undefined)?.matchLabels) as Record<string, string> | undefined;
  if (!labels || !Object.keys(labels).length) throw new CliError(`cannot find the pods of ${arg}: it has no selector`);
  const pods = await podsFor(cli, Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','));
  const pod = pods.find((p) => p.status?.phase === 'Running') ?? pods[0];
  if (!pod) throw new CliError(`no pods found for ${arg}`);
  return pod;
}

export async function podsFor(cli: Cli, selector: string, allNamespaces = false): Promise<PodObj[]> {
  const podRes = (await cli.resolver()).byKind('v1', 'Pod')!;
  const list = await cli.client<PodObj>(podRes).listAll(allNamespaces ? undefined : cli.namespace, { labelSelector: selector });
  return list.items.sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')));
}

/** -c, else the default-container annotation, else the first container (telling the user when there was a choice). */
export function pickContainer(cli: Cli, pod: PodObj, container: string | undefined, quiet = false): string {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const all = [...names, ...(pod.spec?.initContainers ?? []).map((c) => c.name)];
  if (container) {
    if (!all.includes(container)) throw new CliError(`container ${container} is not valid for pod ${pod.metadata?.name ?? ''}`);
    return container;
  }
  const dflt = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  const chosen = dflt && names.includes(dflt) ? dflt : names[0];
  if (!chosen) throw new CliError(`pod ${pod.metadata?.name ?? ''} has no containers`);
  if (names.length > 1 && !dflt && !quiet) cli.err(`Defaulted container "${chosen}" out of: ${names.join(', ')}`);
  return chosen;
}

export const podPath = (pod: PodObj, sub: string): string => `/api/v1/namespaces/${encodeURIComponent(pod.metadata?.namespace ?? '')}/pods/${encodeURIComponent(pod.metadata?.name ?? '')}/${sub}`;
