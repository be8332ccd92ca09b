// Service environment variables in containers, as the kubelet makes them (pkg/kubelet/envvars/envvars.go and
// Kubelet.getServiceEnvVarMap): WEB_SERVICE_HOST, WEB_SERVICE_PORT[_NAME] and the docker-links WEB_PORT* variables
// for every service of the pod's namespace with a cluster IP, and always for the `kubernetes` service in `default`.
import type { EnvVar, Service } from '../../api/index.js';

/** The namespace and names of the services every pod gets variables for, whatever enableServiceLinks says. */
export const MASTER_SERVICE_NAMESPACE = 'default';
const MASTER_SERVICES = new Set(['kubernetes']);

/** Whether the service has a cluster IP (not None, not empty: headless and ExternalName services have none). */
export const isServiceIPSet = (svc: Service): boolean => !!svc.spec.clusterIP && svc.spec.clusterIP !== 'None';

/** my-svc -> MY_SVC (dashes to underscores, upper case), as makeEnvVariableName. */
export const envVariableName = (name: string): string => name.replaceAll('-', '_').toUpperCase();

function linkVariables(svc: Service): EnvVar[] {
  const prefix = envVariableName(svc.metadata.name ?? '');
  const ip = svc.spec.clusterIP ?? '';
  const out: EnvVar[] = [];
  (svc.spec.ports ?? []).forEach((sp, i) => {
    const protocol = sp.protocol || 'TCP';
    const url = `${protocol.toLowerCase()}://${ip}:${sp.port}`;
    // Docker special-cases the first port.
    if (i === 0) out.push({ name: `${prefix}_PORT`, value: url });
    const portPrefix = `${prefix}_PORT_${sp.port}_${protocol.toUpperCase()}`;
    out.push(
      { name: portPrefix, value: url },
      { name: `${portPrefix}_PROTO`, value: protocol.toLowerCase() },
      { name: `${portPrefix}_PORT`, value: String(sp.port) },
      { name: `${portPrefix}_ADDR`, value: ip },
    );
  });
  return out;
}

/** The variables for these services, in their order (envvars.FromServices). */
export function fromServices(services: Service[]): EnvVar[] {
  const out: EnvVar[] = [];
  for (const svc of services) {
    const ports = svc.spec.ports ?? [];
    const first = ports[0];
    if (!isServiceIPSet(svc) || !first) continue;
    const name = `${envVariableName(svc.metadata.name ?? '')}_SERVICE_PORT`;
    out.push({ name: `${envVariableName(svc.metadata.name ?? '')}_SERVICE_HOST`, value: svc.spec.clusterIP ?? '' });
    out.push({ name, value: String(first.port) });
    // Every named port (only the first may be unnamed, as validation requires).
    for (const sp of ports) if (sp.name) out.push({ name: `${name}_${envVariableName(sp.name)}`, value: String(sp.port) });
    out.push(...linkVariables(svc));
  }
  return out;
}

/**
 * The service variables a container of a pod in `namespace` starts with: those of the pod namespace's services when
 * enableServiceLinks is not false, and always those of the kubernetes service in default (getServiceEnvVarMap).
 * A name the container sets in its own env wins over these (the caller merges them after).
 */
export function serviceEnvVars(services: Iterable<Service>, namespace: string, enableServiceLinks: boolean | undefined): Map<string, string> {
  const chosen = new Map<string, Service>();
  for (const svc of services) {
    if (!isServiceIPSet(svc)) continue;
    const name = svc.metadata.name ?? '';
    if (svc.metadata.namespace === MASTER_SERVICE_NAMESPACE && MASTER_SERVICES.has(name)) {
      if (!chosen.has(name)) chosen.set(name, svc);
    } else if (svc.metadata.namespace === namespace && enableServiceLinks !== false) chosen.set(name, svc);
  }
  // The kubelet reads a Go map here (no order); sorted by service name, the output is the same on every run.
  const ordered = [...chosen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
  return new Map(fromServices(ordered).map((e) => [e.name, e.value ?? '']));
}
