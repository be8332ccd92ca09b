// `ketch port-forward TYPE/NAME [LOCAL:]REMOTE...`: listen locally and carry each connection to the pod's port over
// pods/portforward (WebSocket, portforward.k8s.io: data on channel 2i, errors on 2i+1, each opened by the port).
import type { Command } from 'commander';
import { createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { openWebSocket, podPath, resolvePod, type PodObj } from '../streams.js';

interface PortSpec {
  local: number;
  remote: number;
}

export function register(program: Command): void {
  program
    .command('port-forward')
    .description('forward local ports to a pod')
    .argument('<target>', 'POD or TYPE/NAME (a pod of a deployment, or of a service, with its target port)')
    .argument('<ports...>', '[LOCAL_PORT:]REMOTE_PORT (LOCAL empty or 0: pick one)')
    .option('--address <addrs...>', 'local addresses to listen on', ['localhost'])
    .action(async (target: string, ports: string[], flags: { address: string[] }, cmd: Command) => {
      const cli = cliOf(cmd);
      const pod = await resolvePod(cli, target);
      if (pod.status?.phase !== 'Running') throw new CliError(`unable to forward port because pod is not running. Current status=${pod.status?.phase ?? 'Unknown'}`);
      const specs = await parsePorts(cli, target, pod, ports);
      const servers: Server[] = [];
      for (const spec of specs) {
        for (const addr of flags.address) {
          const host = addr === 'localhost' ? '127.0.0.1' : addr;
          const srv = createServer((sock) => void forward(cli, pod, spec.remote, sock));
          await new Promise<void>((res, rej) => srv.once('error', rej).listen(spec.local, host, () => res()));
          const port = (srv.address() as { port: number }).port;
          cli.out(`Forwarding from ${host}:${port} -> ${spec.remote}`);
          servers.push(srv);
        }
      }
      await new Promise<void>((res) => {
        const stop = (): void => res();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      for (const s of servers) s.close();
    });
}

async function parsePorts(cli: Cli, target: string, pod: PodObj, ports: string[]): Promise<PortSpec[]> {
  const isSvc = /^(svc|service|services)\//.test(target);
  let svcPorts: { port: number; name?: string; targetPort?: number | string }[] = [];
  if (isSvc) {
    const svc = await cli.rest.request<{ spec?: { ports?: typeof svcPorts } }>('GET', `/api/v1/namespaces/${encodeURIComponent(cli.namespace)}/services/${encodeURIComponent(target.slice(target.indexOf('/') + 1))}`);
    svcPorts = svc.spec?.ports ?? [];
  }
  return ports.map((p) => {
    const [l, r] = p.includes(':') ? p.split(':') : [p, p];
    let remote: number | undefined = /^\d+$/.test(r ?? '') ? Number(r) : undefined;
    if (isSvc) {
      const sp = svcPorts.find((x) => x.port === remote || x.name === r);
      if (!sp) throw new CliError(`Service ${target} does not have a service port ${r ?? ''}`);
      const tp = sp.targetPort ?? sp.port;
      remote = typeof tp === 'number' ? tp : (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((x) => x.name === tp)?.containerPort;
    } else if (remote === undefined) {
      remote = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((x) => x.name === r)?.containerPort;
    }
    if (!remote) throw new CliError(`invalid port: ${p}`);
    const local = l === '' ? 0 : Number(l);
    if (!Number.isInteger(local) || local < 0 || local > 65535) throw new CliError(`invalid local port: ${p}`);
    return { local, remote };
  });
}

/** One local connection, one WebSocket: bytes both ways on the data channel, errors printed. */
async function forward(cli: Cli, pod: PodObj, port: number, sock: Socket): Promise<void> {
  let ws: WebSocket;
  try {
    const q = new URLSearchParams({ ports: String(port), port: String(port) });
    ws = await openWebSocket(cli, podPath(pod, 'portforward'), q, ['portforward.k8s.io', 'v4.channel.k8s.io']);
  } catch (e) {
    cli.err(`E0000 error forwarding port ${port}: ${(e as Error).message}`);
    sock.destroy();
    return;
  }
  cli.out(`Handling connection for ${port}`);
  const seen = new Set<number>();
  ws.on('message', (data: Buffer) => {
    if (!data.length) return;
    const ch = data[0]!;
    let payload = data.subarray(1);
    // The first frame of each channel carries the port (uint16, little-endian).
    if (!seen.has(ch)) {
      seen.add(ch);
      payload = payload.subarray(2);
    }
    if (!payload.length) return;
    if (ch === 0) sock.write(payload);
    else if (ch === 1) cli.err(`error forwarding port ${port} to pod ${pod.metadata?.name ?? ''}: ${payload.toString('utf8')}`);
  });
  sock.on('data', (chunk: Buffer) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([0]), chunk]));
  });
  sock.on('close', () => ws.close());
  sock.on('error', () => ws.close());
  ws.on('close', () => sock.end());
  ws.on('error', () => sock.destroy());
}
