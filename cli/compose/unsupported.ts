// What `ketch compose` honours, key by key; any other key in a file is refused by name, never dropped.
import { ComposeError } from './load.js';

const SERVICE_KEYS = new Set([
  'annotations', 'build', 'cap_add', 'cap_drop', 'command', 'configs', 'container_name', 'cpus', 'depends_on', 'deploy',
  'dns', 'dns_search', 'entrypoint', 'env_file', 'environment', 'expose', 'extra_hosts', 'group_add', 'healthcheck',
  'hostname', 'image', 'labels', 'links', 'mem_limit', 'mem_reservation', 'networks', 'platform', 'ports', 'privileged',
  'profiles', 'pull_policy', 'read_only', 'restart', 'scale', 'secrets', 'shm_size', 'stdin_open', 'stop_grace_period',
  'sysctls', 'tmpfs', 'tty', 'user', 'volumes', 'working_dir',
]);
const NESTED: Record<string, Set<string>> = {
  build: new Set(['context', 'dockerfile', 'args', 'target']),
  deploy: new Set(['mode', 'replicas', 'resources', 'restart_policy', 'labels', 'placement']),
  'deploy.resources': new Set(['limits', 'reservations']),
  'deploy.resources.limits': new Set(['cpus', 'memory']),
  'deploy.resources.reservations': new Set(['cpus', 'memory']),
  'deploy.restart_policy': new Set(['condition', 'max_attempts']),
  'deploy.placement': new Set(['constraints']),
  healthcheck: new Set(['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable']),
};
const TOP_KEYS = new Set(['name', 'version', 'services', 'volumes', 'configs', 'secrets', 'networks']);
const VOLUME_KEYS = new Set(['name', 'external', 'labels']);
const CONFIG_KEYS = new Set(['name', 'file', 'content', 'environment', 'external', 'labels']);
const NETWORK_KEYS = new Set(['name', 'external', 'labels', 'driver', 'attachable']);

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const extension = (k: string): boolean => k.startsWith('x-');

function check(obj: unknown, allowed: Set<string>, path: string, problems: string[], why = 'ketch compose cannot honour it'): void {
  if (!isMap(obj)) return;
  for (const k of Object.keys(obj)) if (!allowed.has(k) && !extension(k)) problems.push(`${path}.${k}: not supported (${why})`);
}

/** Every key of the file that ketch compose would not honour, as `path: reason` lines. */
export function unsupportedKeys(model: Record<string, unknown>, services: string[]): string[] {
  const problems: string[] = [];
  check(model, TOP_KEYS, '(top level)', problems);
  const svcs = (model.services ?? {}) as Record<string, Record<string, unknown>>;
  for (const name of services) {
    const svc = svcs[name] ?? {};
    const base = `services.${name}`;
    check(svc, SERVICE_KEYS, base, problems);
    for (const [path, allowed] of Object.entries(NESTED)) {
      const value = path.split('.').reduce<unknown>((o, k) => (isMap(o) ? o[k] : undefined), svc);
      check(value, allowed, `${base}.${path}`, problems);
    }
    const mode = (svc.deploy as { mode?: unknown } | undefined)?.mode;
    if (mode !== undefined && mode !== 'replicated' && mode !== 'global') problems.push(`${base}.deploy.mode: "${String(mode)}" is not supported (replicated or global)`);
    const networks = svc.networks;
    if (isMap(networks)) for (const [n, cfg] of Object.entries(networks)) check(cfg, new Set(['aliases']), `${base}.networks.${n}`, problems, 'only aliases are honoured');
  }
  for (const [section, allowed] of [['volumes', VOLUME_KEYS], ['configs', CONFIG_KEYS], ['secrets', CONFIG_KEYS], ['networks', NETWORK_KEYS]] as const) {
    for (const [n, def] of Object.entries((model[section] ?? {}) as Record<string, unknown>)) check(def, allowed, `${section}.${n}`, problems);
  }
  for (const [n, def] of Object.entries((model.networks ?? {}) as Record<string, { driver?: unknown }>)) {
    if (def?.driver !== undefined && def.driver !== 'bridge') problems.push(`networks.${n}.driver: "${String(def.driver)}" is not supported (one flat pod network)`);
  }
  return problems;
}

export function assertSupported(model: Record<string, unknown>, services: string[]): void {
  const problems = unsupportedKeys(model, services);
  if (problems.length) throw new ComposeError(`the compose file uses what ketch compose cannot honour:\n  ${problems.join('\n  ')}`);
}
