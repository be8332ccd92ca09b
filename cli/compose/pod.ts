// One Compose service as a pod template: the container (image, command, environment, healthcheck as probes,
// resources, security) and the pod around it (volumes, host aliases, DNS, hostname).
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ComposeError, listOrDict } from './load.js';
import { type Lookup, parseEnvFile } from './interpolate.js';
import type { PortSpec } from './net.js';
import { commandList, cpuQuantity, quantity, seconds } from './units.js';
import type { Mounts, Obj } from './volumes.js';

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** env_file entries (in order) then environment; an entry without a value takes the shell's, or is left out. */
export function environmentOf(name: string, svc: Obj, projectDir: string, env: Lookup): { name: string; value: string }[] {
  const vars: Record<string, string> = {};
  const files = svc.env_file === undefined ? [] : Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
  for (const [i, f] of files.entries()) {
    const spec: Obj = isMap(f) ? f : { path: f };
    const path = isAbsolute(String(spec.path)) ? String(spec.path) : resolve(projectDir, String(spec.path));
    if (!existsSync(path)) {
      if (spec.required === false) continue;
      throw new ComposeError(`services.${name}.env_file[${i}]: ${path} not found`);
    }
    Object.assign(vars, parseEnvFile(readFileSync(path, 'utf8'), path, env));
  }
  for (const [k, v] of Object.entries(listOrDict(svc.environment))) {
    const value = v ?? env(k);
    if (value === undefined) delete vars[k];
    else vars[k] = value;
  }
  return Object.entries(vars).map(([k, v]) => ({ name: k, value: v }));
}

/** healthcheck -> readinessProbe (and a startupProbe for start_period), or none when disabled. */
export function probesOf(name: string, svc: Obj): Obj {
  const hc = isMap(svc.healthcheck) ? svc.healthcheck : undefined;
  if (!hc || hc.disable === true) return {};
  const where = `services.${name}.healthcheck`;
  const test = hc.test;
  let command: string[];
  if (typeof test === 'string') command = ['/bin/sh', '-c', test];
  else if (Array.isArray(test) && test[0] === 'CMD') command = test.slice(1).map(String);
  else if (Array.isArray(test) && test[0] === 'CMD-SHELL') command = ['/bin/sh', '-c', test.slice(1).map(String).join(' ')];
  else if (Array.isArray(test) && test[0] === 'NONE') return {};
  else throw new ComposeError(`${where}.test: must be a string or a list starting with CMD, CMD-SHELL or NONE`);
  const period = hc.interval === undefined ? 30 : seconds(hc.interval, `${where}.interval`, 1);
  const timeout = hc.timeout === undefined ? 30 : seconds(hc.timeout, `${where}.timeout`, 1);
  const retries = hc.retries === undefined ? 3 : Math.max(1, Number(hc.retries));
  const probe = { exec: { command }, periodSeconds: period, timeoutSeconds: timeout, failureThreshold: retries, successThreshold: 1 };
  if (hc.start_period === undefined) return { readinessProbe: probe };
  // During start_period failures do not count: a startup probe that may fail that long, then readiness as usual.
  const startEvery = hc.start_interval === undefined ? Math.min(period, 5) : seconds(hc.start_interval, `${where}.start_interval`, 1);
  const startFor = seconds(hc.start_period, `${where}.start_period`);
  return { readinessProbe: probe, startupProbe: { ...probe, periodSeconds: startEvery, failureThreshold: Math.max(1, Math.ceil(startFor / startEvery) + retries) } };
}

function resourcesOf(name: string, svc: Obj): Obj | undefined {
  const where = `services.${name}`;
  const res = isMap(svc.deploy) && isMap(svc.deploy.resources) ? svc.deploy.resources : {};
  const limits: Obj = {};
  const requests: Obj = {};
  const lim = isMap(res.limits) ? res.limits : {};
  const req = isMap(res.reservations) ? res.reservations : {};
  if (lim.cpus !== undefined) limits.cpu = cpuQuantity(lim.cpus, `${where}.deploy.resources.limits.cpus`);
  if (lim.memory !== undefined) limits.memory = quantity(lim.memory, `${where}.deploy.resources.limits.memory`);
  if (req.cpus !== undefined) requests.cpu = cpuQuantity(req.cpus, `${where}.deploy.resources.reservations.cpus`);
  if (req.memory !== undefined) requests.memory = quantity(req.memory, `${where}.deploy.resources.reservations.memory`);
  if (svc.cpus !== undefined) limits.cpu = cpuQuantity(svc.cpus, `${where}.cpus`);
  if (svc.mem_limit !== undefined) limits.memory = quantity(svc.mem_limit, `${where}.mem_limit`);
  if (svc.mem_reservation !== undefined) requests.memory = quantity(svc.mem_reservation, `${where}.mem_reservation`);
  if (!Object.keys(limits).length && !Object.keys(requests).length) return undefined;
  return { ...(Object.keys(limits).length ? { limits } : {}), ...(Object.keys(requests).length ? { requests } : {}) };
}

const capName = (c: unknown): string => String(c).toUpperCase().replace(/^CAP_/, '');

function securityOf(name: string, svc: Obj): { container?: Obj; pod?: Obj } {
  const container: Obj = {};
  const pod: Obj = {};
  if (svc.user !== undefined) {
    const [u, g] = String(svc.user).split(':');
    if (!/^\d+$/.test(u ?? '') || (g !== undefined && !/^\d+$/.test(g))) {
      throw new ComposeError(`services.${name}.user: "${String(svc.user)}" must be numeric (uid[:gid]); user names are not resolved`);
    }
    container.runAsUser = Number(u);
    if (g !== undefined) container.runAsGroup = Number(g);
  }
  const add = Array.isArray(svc.cap_add) ? svc.cap_add.map(capName) : [];
  const drop = Array.isArray(svc.cap_drop) ? svc.cap_drop.map(capName) : [];
  if (add.length || drop.length) container.capabilities = { ...(add.length ? { add } : {}), ...(drop.length ? { drop } : {}) };
  if (svc.read_only === true) container.readOnlyRootFilesystem = true;
  if (svc.privileged === true) container.privileged = true;
  if (Array.isArray(svc.group_add)) {
    if (!svc.group_add.every((g) => /^\d+$/.test(String(g)))) throw new ComposeError(`services.${name}.group_add: groups must be numeric`);
    pod.supplementalGroups = svc.group_add.map(Number);
  }
  const sysctls = listOrDict(svc.sysctls);
  if (Object.keys(sysctls).length) pod.sysctls = Object.entries(sysctls).map(([k, v]) => ({ name: k, value: v ?? '' }));
  return { ...(Object.keys(container).length ? { container } : {}), ...(Object.keys(pod).length ? { pod } : {}) };
}

const PULL_POLICIES: Record<string, string> = { always: 'Always', never: 'Never', missing: 'IfNotPresent', if_not_present: 'IfNotPresent', build: 'IfNotPresent' };

export interface PodInput {
  name: string;
  svc: Obj;
  image: string;
  projectDir: string;
  env: Lookup;
  ports: PortSpec[];
  mounts: Mounts;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
}

/** The pod template of a service. */
export function podTemplate(p: PodInput): Obj {
  const { name, svc } = p;
  const pull = svc.pull_policy === undefined ? undefined : PULL_POLICIES[String(svc.pull_policy)];
  if (svc.pull_policy !== undefined && !pull) throw new ComposeError(`services.${name}.pull_policy: "${String(svc.pull_policy)}" is not supported`);
  const security = securityOf(name, svc);
  const resources = resourcesOf(name, svc);
  const command = commandList(svc.entrypoint, `services.${name}.entrypoint`);
  const args = commandList(svc.command, `services.${name}.command`);
  const env = environmentOf(name, svc, p.projectDir, p.env);
  const hostPorts = p.ports.filter((x) => x.hostMode);
  const container: Obj = {
    name,
    image: p.image,
    ...(command ? { command } : {}),
    ...(args ? { args } : {}),
    ...(env.length ? { env } : {}),
    ...(typeof svc.working_dir === 'string' ? { workingDir: svc.working_dir } : {}),
    ...(hostPorts.length ? { ports: hostPorts.map((x) => ({ containerPort: x.target, hostPort: x.published ?? x.target, protocol: x.protocol })) } : {}),
    ...(p.mounts.mounts.length ? { volumeMounts: p.mounts.mounts } : {}),
    ...(resources ? { resources } : {}),
    ...(security.container ? { securityContext: security.container } : {}),
    ...(pull ? { imagePullPolicy: pull } : {}),
    ...(svc.stdin_open === true ? { stdin: true } : {}),
    ...(svc.tty === true ? { tty: true } : {}),
    ...probesOf(name, svc),
  };
  const hosts = listOrDict(svc.extra_hosts, ':');
  const byIp = new Map<string, string[]>();
  for (const [host, raw] of Object.entries(hosts)) {
    const ip = String(raw).replace(/^\[|\]$/g, '');
    byIp.set(ip, [...(byIp.get(ip) ?? []), host]);
  }
  const dns = Array.isArray(svc.dns) ? svc.dns.map(String) : svc.dns !== undefined ? [String(svc.dns)] : [];
  const searches = Array.isArray(svc.dns_search) ? svc.dns_search.map(String) : svc.dns_search !== undefined ? [String(svc.dns_search)] : [];
  const spec: Obj = {
    containers: [container],
    restartPolicy: p.restartPolicy,
    ...(p.mounts.volumes.length ? { volumes: p.mounts.volumes } : {}),
    ...(byIp.size ? { hostAliases: [...byIp].map(([ip, hostnames]) => ({ ip, hostnames })) } : {}),
    ...(dns.length || searches.length ? { dnsConfig: { ...(dns.length ? { nameservers: dns } : {}), ...(searches.length ? { searches } : {}) } } : {}),
    ...(typeof svc.hostname === 'string' ? { hostname: svc.hostname } : {}),
    ...(svc.stop_grace_period !== undefined ? { terminationGracePeriodSeconds: seconds(svc.stop_grace_period, `services.${name}.stop_grace_period`) } : {}),
    ...(security.pod ? { securityContext: security.pod } : {}),
    ...nodeSelectorOf(name, svc),
  };
  return { metadata: { labels: p.labels, ...(Object.keys(p.annotations).length ? { annotations: p.annotations } : {}) }, spec };
}

/** deploy.placement.constraints of the forms node.hostname==H and node.labels.K==V. */
function nodeSelectorOf(name: string, svc: Obj): Obj {
  const constraints = isMap(svc.deploy) && isMap(svc.deploy.placement) && Array.isArray(svc.deploy.placement.constraints) ? svc.deploy.placement.constraints : [];
  const sel: Record<string, string> = {};
  for (const c of constraints.map(String)) {
    const m = /^\s*node\.(hostname|labels\.([^=\s]+))\s*==\s*(\S+)\s*$/.exec(c);
    if (!m) throw new ComposeError(`services.${name}.deploy.placement.constraints: "${c}" is not supported (node.hostname==H or node.labels.K==V)`);
    sel[m[2] ?? 'kubernetes.io/hostname'] = m[3]!;
  }
  return Object.keys(sel).length ? { nodeSelector: sel } : {};
}
