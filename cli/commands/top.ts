// `ketch top node|pod`: CPU and memory usage from the metrics API (metrics.k8s.io), else from each node agent's
// stats summary through the API server's node proxy.
import type { Command } from 'commander';
import { bytes, cpuMillis } from '../../api/quantity.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { formatColumns } from '../printers/table.js';

interface Usage {
  namespace?: string;
  name: string;
  cpuMilli: number;
  memBytes: number;
  containers?: Usage[];
}

interface TopFlags {
  selector?: string;
  allNamespaces?: boolean;
  sortBy?: string;
  noHeaders?: boolean;
  containers?: boolean;
}

const fmtCpu = (m: number): string => `${Math.round(m)}m`;
const fmtMem = (b: number): string => `${Math.round(b / (1024 * 1024))}Mi`;

export function register(program: Command): void {
  const top = program.command('top').description('CPU and memory use of nodes and pods');
  top
    .command('node')
    .alias('nodes')
    .alias('no')
    .argument('[name]')
    .option('-l, --selector <selector>', 'label selector')
    .option('--sort-by <field>', 'cpu or memory')
    .option('--no-headers', "don't print headers")
    .action(async (name: string | undefined, flags: TopFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const nodes = await nodeUsage(cli, name, flags.selector);
      const alloc = await allocatable(cli, name, flags.selector);
      sortUsage(nodes, flags.sortBy);
      const rows = [...(flags.noHeaders ? [] : [['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%']])];
      for (const n of nodes) {
        const a = alloc.get(n.name);
        rows.push([n.name, fmtCpu(n.cpuMilli), a?.cpu ? `${Math.round((n.cpuMilli / a.cpu) * 100)}%` : '<unknown>', fmtMem(n.memBytes), a?.mem ? `${Math.round((n.memBytes / a.mem) * 100)}%` : '<unknown>']);
      }
      cli.io.stdout.write(formatColumns(rows));
    });
  top
    .command('pod')
    .alias('pods')
    .alias('po')
    .argument('[name]')
    .option('-l, --selector <selector>', 'label selector')
    .option('-A, --all-namespaces', 'across all namespaces')
    .option('--containers', 'per container')
    .option('--sort-by <field>', 'cpu or memory')
    .option('--no-headers', "don't print headers")
    .action(async (name: string | undefined, flags: TopFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const ns = flags.allNamespaces ? undefined : cli.namespace;
      let pods = await podUsage(cli, ns, flags.selector);
      if (name) pods = pods.filter((p) => p.name === name);
      if (!pods.length) {
        if (name) throw new CliError(`pods "${name}" not found`);
        cli.err(ns ? `No resources found in ${ns} namespace.` : 'No resources found');
        return;
      }
      sortUsage(pods, flags.sortBy);
      const withNs = !!flags.allNamespaces;
      const rows: string[][] = flags.noHeaders ? [] : [[...(withNs ? ['NAMESPACE'] : []), 'NAME', ...(flags.containers ? ['CONTAINER'] : []), 'CPU(cores)', 'MEMORY(bytes)']];
      for (const p of pods) {
        if (flags.containers) for (const c of p.containers ?? []) rows.push([...(withNs ? [p.namespace ?? ''] : []), p.name, c.name, fmtCpu(c.cpuMilli), fmtMem(c.memBytes)]);
        else rows.push([...(withNs ? [p.namespace ?? ''] : []), p.name, fmtCpu(p.cpuMilli), fmtMem(p.memBytes)]);
      }
      cli.io.stdout.write(formatColumns(rows));
    });
}

function sortUsage(u: Usage[], by: string | undefined): void {
  if (by === 'cpu') u.sort((a, b) => b.cpuMilli - a.cpuMilli);
  else if (by === 'memory') u.sort((a, b) => b.memBytes - a.memBytes);
  else if (by) throw new CliError(`--sort-by accepts only cpu or memory`);
}

interface MetricsItem {
  metadata: { name: string; namespace?: string };
  usage?: { cpu?: string; memory?: string };
  containers?: { name: string; usage?: { cpu?: string; memory?: string } }[];
}

const usageOf = (u: { cpu?: string; memory?: string } | undefined): { cpuMilli: number; memBytes: number } => ({ cpuMilli: u?.cpu ? cpuMillis(u.cpu) : 0, memBytes: u?.memory ? bytes(u.memory) : 0 });

async function metricsApi<T>(cli: Cli, path: string, selector?: string): Promise<T | undefined> {
  try {
    return await cli.rest.request<T>('GET', `/apis/metrics.k8s.io/v1beta1${path}`, { query: { labelSelector: selector } });
  } catch (e) {
    if ((e as { code?: number }).code === 404 || (e as { code?: number }).code === 503) return undefined;
    throw e;
  }
}

interface Summary {
  node?: { nodeName?: string; cpu?: { usageNanoCores?: number }; memory?: { workingSetBytes?: number } };
  pods?: { podRef: { name: string; namespace: string }; containers?: { name: string; cpu?: { usageNanoCores?: number }; memory?: { workingSetBytes?: number } }[]; cpu?: { usageNanoCores?: number }; memory?: { workingSetBytes?: number } }[];
}

/** The agents' stats summaries (kubelet's /stats/summary) through the node proxy. */
async function summaries(cli: Cli, name?: string, selector?: string): Promise<Summary[]> {
  const nodes = name ? [name] : (await cli.rest.request<{ items: { metadata: { name: string } }[] }>('GET', '/api/v1/nodes', { query: { labelSelector: selector } })).items.map((n) => n.metadata.name);
  const out: Summary[] = [];
  for (const n of nodes) {
    try {
      out.push(await cli.rest.request<Summary>('GET', `/api/v1/nodes/${encodeURIComponent(n)}/proxy/stats/summary`));
    } catch (e) {
      if ((e as { code?: number }).code === 404 || (e as { code?: number }).code === 503) throw new CliError('Metrics API not available');
      throw e;
    }
  }
  return out;
}

async function nodeUsage(cli: Cli, name: string | undefined, selector?: string): Promise<Usage[]> {
  const m = await metricsApi<{ items?: MetricsItem[] } & MetricsItem>(cli, name ? `/nodes/${encodeURIComponent(name)}` : '/nodes', selector);
  if (m) return (name ? [m] : (m.items ?? [])).map((i) => ({ name: i.metadata.name, ...usageOf(i.usage) }));
  return (await summaries(cli, name, selector)).map((s) => ({ name: s.node?.nodeName ?? '', cpuMilli: (s.node?.cpu?.usageNanoCores ?? 0) / 1e6, memBytes: s.node?.memory?.workingSetBytes ?? 0 }));
}

async function podUsage(cli: Cli, ns: string | undefined, selector?: string): Promise<Usage[]> {
  const m = await metricsApi<{ items?: MetricsItem[] }>(cli, ns ? `/namespaces/${encodeURIComponent(ns)}/pods` : '/pods', selector);
  if (m) {
    return (m.items ?? []).map((i) => {
      const containers = (i.containers ?? []).map((c) => ({ name: c.name, ...usageOf(c.usage) }));
      return { name: i.metadata.name, ...(i.metadata.namespace ? { namespace: i.metadata.namespace } : {}), cpuMilli: containers.reduce((s, c) => s + c.cpuMilli, 0), memBytes: containers.reduce((s, c) => s + c.memBytes, 0), containers };
    });
  }
  let wanted: Set<string> | undefined;
  if (selector) {
    const pods = await cli.rest.request<{ items: { metadata: { name: string; namespace: string } }[] }>('GET', ns ? `/api/v1/namespaces/${encodeURIComponent(ns)}/pods` : '/api/v1/pods', { query: { labelSelector: selector } });
    wanted = new Set(pods.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
  }
  const out: Usage[] = [];
  for (const s of await summaries(cli)) {
    for (const p of s.pods ?? []) {
      if (ns && p.podRef.namespace !== ns) continue;
      if (wanted && !wanted.has(`${p.podRef.namespace}/${p.podRef.name}`)) continue;
      const containers = (p.containers ?? []).map((c) => ({ name: c.name, cpuMilli: (c.cpu?.usageNanoCores ?? 0) / 1e6, memBytes: c.memory?.workingSetBytes ?? 0 }));
      out.push({ name: p.podRef.name, namespace: p.podRef.namespace, cpuMilli: p.cpu?.usageNanoCores !== undefined ? p.cpu.usageNanoCores / 1e6 : containers.reduce((x, c) => x + c.cpuMilli, 0), memBytes: p.memory?.workingSetBytes ?? containers.reduce((x, c) => x + c.memBytes, 0), containers });
    }
  }
  return out;
}

async function allocatable(cli: Cli, name: string | undefined, selector?: string): Promise<Map<string, { cpu: number; mem: number }>> {
  const nodes = name
    ? [await cli.rest.request<{ metadata: { name: string }; status?: { allocatable?: Record<string, string> } }>('GET', `/api/v1/nodes/${encodeURIComponent(name)}`)]
    : (await cli.rest.request<{ items: { metadata: { name: string }; status?: { allocatable?: Record<string, string> } }[] }>('GET', '/api/v1/nodes', { query: { labelSelector: selector } })).items;
  return new Map(nodes.map((n) => [n.metadata.name, { cpu: n.status?.allocatable?.cpu ? cpuMillis(n.status.allocatable.cpu) : 0, mem: n.status?.allocatable?.memory ? bytes(n.status.allocatable.memory) : 0 }]));
}
