// KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1, the parts ketch honours): profiles with their plugin
// sets, score weights and plugin args, percentageOfNodesToScore, pod backoff and leader election.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { DEFAULT_SCHEDULER_NAME } from '../api/index.js';
import { parseDuration } from '../lib/duration.js';

export interface PluginRef {
  name: string;
  weight?: number;
}
export interface PluginSet {
  enabled?: PluginRef[];
  disabled?: PluginRef[];
}
export const EXTENSION_POINTS = ['preFilter', 'filter', 'postFilter', 'preScore', 'score', 'reserve', 'preBind', 'bind'] as const;
export type ExtensionPoint = (typeof EXTENSION_POINTS)[number];
export type Plugins = Partial<Record<ExtensionPoint | 'multiPoint', PluginSet>>;

export interface Profile {
  schedulerName?: string;
  percentageOfNodesToScore?: number;
  plugins?: Plugins;
  pluginConfig?: Array<{ name: string; args?: Record<string, unknown> }>;
}

export interface SchedulerConfiguration {
  apiVersion?: string;
  kind?: string;
  /** 0 or unset: adaptive (50% minus 1% per 125 nodes, at least 5%, at least 100 nodes). */
  percentageOfNodesToScore?: number;
  podInitialBackoffSeconds?: number;
  podMaxBackoffSeconds?: number;
  leaderElection?: {
    leaderElect?: boolean;
    leaseDuration?: string;
    renewDeadline?: string;
    retryPeriod?: string;
    resourceName?: string;
    resourceNamespace?: string;
  };
  profiles?: Profile[];
}

/** The default plugins in filter order, with their default score weights (Kubernetes v1 defaults). */
export const DEFAULT_PLUGINS: readonly PluginRef[] = [
  { name: 'NodeUnschedulable' },
  { name: 'NodeName' },
  { name: 'TaintToleration', weight: 3 },
  { name: 'NodeAffinity', weight: 2 },
  { name: 'NodePorts' },
  { name: 'NodeResourcesFit', weight: 1 },
  { name: 'VolumeRestrictions' },
  { name: 'VolumeBinding' },
  { name: 'PodTopologySpread', weight: 2 },
  { name: 'InterPodAffinity', weight: 2 },
  { name: 'DefaultPreemption' },
  { name: 'NodeResourcesBalancedAllocation', weight: 1 },
  { name: 'ImageLocality', weight: 1 },
  { name: 'DefaultBinder' },
];

/** A profile with its plugin lists per extension point resolved. */
export interface ResolvedProfile {
  schedulerName: string;
  percentageOfNodesToScore: number;
  /** Every plugin to build, in order. */
  plugins: string[];
  points: Record<Exclude<ExtensionPoint, 'score'>, string[]> & { score: Array<{ name: string; weight: number }> };
  args: Map<string, Record<string, unknown>>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Which extension points a plugin implements; the runtime fills this in from the built plugins. */
export type Implements = (plugin: string, point: ExtensionPoint) => boolean;

/**
 * Resolves a profile as the kube-scheduler does: multiPoint (defaults plus enabled, minus disabled) expands to
 * every point a plugin implements; a point's own disabled list (names or '*') removes, its enabled list appends.
 */
export function resolveProfile(profile: Profile, global: SchedulerConfiguration, impl: Implements): ResolvedProfile {
  const p = profile.plugins ?? {};
  const names = (refs: PluginRef[] | undefined): Set<string> => new Set((refs ?? []).map((r) => r.name));
  const multiDisabled = names(p.multiPoint?.disabled);
  const multi: PluginRef[] = multiDisabled.has('*') ? [] : DEFAULT_PLUGINS.filter((r) => !multiDisabled.has(r.name));
  for (const r of p.multiPoint?.enabled ?? []) {
    const i = multi.findIndex((m) => m.name === r.name);
    if (i >= 0) multi[i] = { ...multi[i], ...r };
    else multi.push(r);
  }
  const all = new Set<string>(multi.map((r) => r.name));
  const points = {} as ResolvedProfile['points'];
  for (const point of EXTENSION_POINTS) {
    const set = p[point] ?? {};
    const disabled = names(set.disabled);
    let refs = disabled.has('*') ? [] : multi.filter((r) => !disabled.has(r.name) && impl(r.name, point));
    for (const r of set.enabled ?? []) {
      all.add(r.name);
      const i = refs.findIndex((m) => m.name === r.name);
      if (i >= 0) refs[i] = { ...refs[i], ...r };
      else refs = [...refs, r];
    }
    if (point === 'score') points.score = refs.map((r) => ({ name: r.name, weight: r.weight ?? 1 }));
    else points[point] = refs.map((r) => r.name);
  }
  for (const s of points.score) if (!Number.isInteger(s.weight) || s.weight < 0) throw new ConfigError(`score plugin ${s.name}: weight must be a non-negative integer`);
  const pct = profile.percentageOfNodesToScore ?? global.percentageOfNodesToScore ?? 0;
  if (pct < 0 || pct > 100) throw new ConfigError(`percentageOfNodesToScore must be between 0 and 100, got ${pct}`);
  return {
    schedulerName: profile.schedulerName ?? DEFAULT_SCHEDULER_NAME,
    percentageOfNodesToScore: pct,
    plugins: [...all],
    points,
    args: new Map((profile.pluginConfig ?? []).map((c) => [c.name, c.args ?? {}])),
  };
}

/** Reads a KubeSchedulerConfiguration YAML (or JSON) file. */
export function loadConfigFile(path: string): SchedulerConfiguration {
  return parseConfig(readFileSync(path, 'utf8'));
}

export function parseConfig(text: string): SchedulerConfiguration {
  const doc = (YAML.parse(text) ?? {}) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError('scheduler configuration must be a YAML mapping');
  const cfg = doc as SchedulerConfiguration;
  if (cfg.kind !== undefined && cfg.kind !== 'KubeSchedulerConfiguration') throw new ConfigError(`unexpected kind ${JSON.stringify(cfg.kind)}; want KubeSchedulerConfiguration`);
  if (cfg.profiles !== undefined && !Array.isArray(cfg.profiles)) throw new ConfigError('profiles must be a list');
  const seen = new Set<string>();
  for (const p of cfg.profiles ?? []) {
    const n = p.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    if (seen.has(n)) throw new ConfigError(`duplicate profile for schedulerName ${JSON.stringify(n)}`);
    seen.add(n);
  }
  return cfg;
}

/** A metav1.Duration field ("15s", "1m30s") in milliseconds; fallbackMs when unset. */
export function configDurationMs(s: string | undefined, fallbackMs: number): number {
  if (!s) return fallbackMs;
  try {
    return parseDuration(s);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
}
