// kube-controller-manager's flags (same names and defaults) for `ketch controller-manager` and `ketch server`:
// a table to register with commander, a parser for raw argv, and the conversion to ControllerManagerOptions.
import type { Command } from 'commander';
import type { ControllerManagerOptions } from './manager.js';

export interface FlagSpec {
  /** e.g. '--node-monitor-grace-period' */
  flag: string;
  kind: 'string' | 'bool' | 'int' | 'duration' | 'list';
  default?: string;
  description: string;
}

export const CONTROLLER_MANAGER_FLAGS: readonly FlagSpec[] = [
  { flag: '--kubeconfig', kind: 'string', description: 'path to a kubeconfig with the API server and credentials' },
  { flag: '--leader-elect', kind: 'bool', default: 'true', description: 'elect a leader on a Lease before running the controllers (for replicated managers)' },
  { flag: '--leader-elect-lease-duration', kind: 'duration', default: '15s', description: 'how long non-leaders wait before taking over an unrenewed lease' },
  { flag: '--leader-elect-renew-deadline', kind: 'duration', default: '10s', description: 'how long the leader keeps trying to renew before it stops leading' },
  { flag: '--leader-elect-retry-period', kind: 'duration', default: '2s', description: 'how long to wait between attempts to acquire or renew' },
  { flag: '--leader-elect-resource-namespace', kind: 'string', default: 'kube-system', description: 'namespace of the leader-election Lease' },
  { flag: '--leader-elect-resource-name', kind: 'string', default: 'kube-controller-manager', description: 'name of the leader-election Lease' },
  // Not a kube-controller-manager flag (it always uses <hostname>_<uuid>): replicas on one host are told apart by it.
  { flag: '--leader-elect-identity', kind: 'string', description: 'holder identity written to the leader-election Lease (default <hostname>_<uuid>)' },
  { flag: '--controllers', kind: 'list', default: '*', description: "controllers to enable: '*' for all, 'foo' to enable foo, '-foo' to disable foo (replicaset, deployment, garbagecollector, namespace, nodelifecycle, nodeipam, podgc, endpointslice, endpoint, servicelb)" },
  { flag: '--cluster-cidr', kind: 'string', default: '10.42.0.0/16', description: 'CIDR range for pods in the cluster' },
  { flag: '--allocate-node-cidrs', kind: 'bool', default: 'true', description: 'allocate a pod CIDR to each node from --cluster-cidr' },
  { flag: '--node-cidr-mask-size', kind: 'int', default: '24', description: 'mask size of each node\'s pod CIDR' },
  { flag: '--node-monitor-grace-period', kind: 'duration', default: '40s', description: 'how long a node may go without renewing its Lease before it is marked unhealthy' },
  { flag: '--node-monitor-period', kind: 'duration', default: '5s', description: 'how often node health is checked' },
  { flag: '--concurrent-replicaset-syncs', kind: 'int', default: '5', description: 'ReplicaSets synced at once' },
  { flag: '--concurrent-deployment-syncs', kind: 'int', default: '5', description: 'Deployments synced at once' },
  { flag: '--concurrent-gc-syncs', kind: 'int', default: '20', description: 'garbage collector workers' },
  { flag: '--concurrent-namespace-syncs', kind: 'int', default: '10', description: 'namespaces synced at once' },
  { flag: '--concurrent-service-endpoint-syncs', kind: 'int', default: '5', description: 'services whose EndpointSlices are synced at once' },
  { flag: '--concurrent-endpoint-syncs', kind: 'int', default: '5', description: 'services whose Endpoints are synced at once' },
  { flag: '--max-endpoints-per-slice', kind: 'int', default: '100', description: 'endpoints in one EndpointSlice (at most 1000)' },
  { flag: '--terminated-pod-gc-threshold', kind: 'int', default: '12500', description: 'terminated pods kept before the pod garbage collector deletes the oldest (0 disables)' },
];

const camel = (flag: string): string => flag.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("40s", "1m30s", "300ms") in milliseconds. */
export function parseDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (!s || pos !== s.length) throw new Error(`invalid duration "${s}"`);
  return total;
}

function parseBool(v: string | boolean, flag: string): boolean {
  if (typeof v === 'boolean') return v;
  if (/^(true|1|t)$/i.test(v)) return true;
  if (/^(false|0|f)$/i.test(v)) return false;
  throw new Error(`invalid boolean value "${v}" for ${flag}`);
}

function parseIntFlag(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`invalid value "${v}" for ${flag}`);
  return n;
}

/** --max-endpoints-per-slice: 1..1000, as kube-controller-manager checks it. */
function parseMaxEndpointsPerSlice(v: string): number {
  const n = parseIntFlag(v, '--max-endpoints-per-slice');
  if (n < 1 || n > 1000) throw new Error(`invalid value "${v}" for --max-endpoints-per-slice: must be between 1 and 1000`);
  return n;
}

/**
 * Options from flag values keyed by camel-cased name (as commander gives them), defaults filled in.
 * The kubeconfig path comes back separately: the caller builds the RestClient.
 */
export function controllerManagerOptionsFromFlags(values: Record<string, unknown>): { kubeconfig?: string; options: Omit<ControllerManagerOptions, 'rest'> } {
  const v = (flag: string): string | boolean | undefined => {
    const x = values[camel(flag)];
    if (x === undefined) return CONTROLLER_MANAGER_FLAGS.find((f) => f.flag === flag)?.default;
    return typeof x === 'boolean' ? x : Array.isArray(x) ? x.join(',') : String(x);
  };
  const str = (flag: string): string => String(v(flag) ?? '');
  const kubeconfig = v('--kubeconfig');
  const identity = v('--leader-elect-identity');
  return {
    ...(typeof kubeconfig === 'string' && kubeconfig ? { kubeconfig } : {}),
    options: {
      ...(typeof identity === 'string' && identity ? { identity } : {}),
      leaderElect: parseBool(v('--leader-elect') ?? true, '--leader-elect'),
      leaseDurationMs: parseDuration(str('--leader-elect-lease-duration')),
      renewDeadlineMs: parseDuration(str('--leader-elect-renew-deadline')),
      retryPeriodMs: parseDuration(str('--leader-elect-retry-period')),
      leaderElectNamespace: str('--leader-elect-resource-namespace'),
      leaderElectName: str('--leader-elect-resource-name'),
      controllers: str('--controllers').split(',').map((s) => s.trim()).filter(Boolean),
      clusterCidr: str('--cluster-cidr'),
      allocateNodeCidrs: parseBool(v('--allocate-node-cidrs') ?? true, '--allocate-node-cidrs'),
      nodeCidrMaskSize: parseIntFlag(str('--node-cidr-mask-size'), '--node-cidr-mask-size'),
      nodeMonitorGracePeriodMs: parseDuration(str('--node-monitor-grace-period')),
      nodeMonitorPeriodMs: parseDuration(str('--node-monitor-period')),
      concurrentReplicaSetSyncs: parseIntFlag(str('--concurrent-replicaset-syncs'), '--concurrent-replicaset-syncs'),
      concurrentDeploymentSyncs: parseIntFlag(str('--concurrent-deployment-syncs'), '--concurrent-deployment-syncs'),
      concurrentGcSyncs: parseIntFlag(str('--concurrent-gc-syncs'), '--concurrent-gc-syncs'),
      concurrentNamespaceSyncs: parseIntFlag(str('--concurrent-namespace-syncs'), '--concurrent-namespace-syncs'),
      concurrentServiceEndpointSyncs: parseIntFlag(str('--concurrent-service-endpoint-syncs'), '--concurrent-service-endpoint-syncs'),
      concurrentEndpointSyncs: parseIntFlag(str('--concurrent-endpoint-syncs'), '--concurrent-endpoint-syncs'),
      maxEndpointsPerSlice: parseMaxEndpointsPerSlice(str('--max-endpoints-per-slice')),
      terminatedPodGcThreshold: parseIntFlag(str('--terminated-pod-gc-threshold'), '--terminated-pod-gc-threshold'),
    },
  };
}

/** Parses raw arguments (`--flag=value`, `--flag value`, `--bool`, `--bool=false`); unknown flags are an error. */
export function parseControllerManagerFlags(argv: string[]): { kubeconfig?: string; options: Omit<ControllerManagerOptions, 'rest'> } {
  const values: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = CONTROLLER_MANAGER_FLAGS.find((f) => f.flag === name);
    if (!spec) throw new Error(`unknown flag: ${name}`);
    let value: string | boolean;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool') value = true;
    else {
      const next = argv[++i];
      if (next === undefined) throw new Error(`flag needs an argument: ${name}`);
      value = next;
    }
    values[camel(name)] = value;
  }
  return controllerManagerOptionsFromFlags(values);
}

/** Registers the flags on a commander command; read them back with controllerManagerOptionsFromFlags(cmd.opts()). */
export function addControllerManagerFlags(cmd: Command, opts: { skip?: string[] } = {}): Command {
  for (const f of CONTROLLER_MANAGER_FLAGS) {
    if (opts.skip?.includes(f.flag)) continue;
    const desc = f.default !== undefined ? `${f.description} (default ${f.default})` : f.description;
    // Booleans take an optional value so that `--leader-elect=false` works as with kube-controller-manager.
    cmd.option(f.kind === 'bool' ? `${f.flag} [bool]` : `${f.flag} <value>`, desc);
  }
  return cmd;
}
