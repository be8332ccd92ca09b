// Rules for the core/v1 kinds: Pod, Node, Namespace, Service, Endpoints, ConfigMap, Secret, Event, ServiceAccount.
import type { ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount, ServicePort } from '../schemas/core.js';
import { child, duplicate, forbidden, immutable, index, invalid, key, notSupported, required, tooLong, type Cause } from '../field.js';
import {
  isConfigMapKey, isDNS1123Label, isValidLabelValue, isDNS1123Subdomain, isValidCIDR, isValidIP, isValidPortNum,
  nameIsDNS1035Label, nameIsDNSLabel, nameIsDNSSubdomain, validateLabels, validateQualifiedName,
} from '../names.js';
import { validatePodSpec, validatePodSpecUpdate, validatePortNumOrName, validateResourceList } from './pod.js';
import { rules } from './rules.js';

export const pod = rules<Pod>({
  name: nameIsDNSSubdomain,
  validate: (p) => (p.spec ? validatePodSpec(p.spec, 'spec') : [required('spec')]),
  validateUpdate: (p, old) => (p.spec && old.spec ? validatePodSpecUpdate(p.spec, old.spec) : []),
  validateStatus: (p) => {
    const causes: Cause[] = [];
    const st = p.status;
    for (const f of ['podIP', 'hostIP'] as const) {
      const v = st?.[f];
      if (v) causes.push(...isValidIP(v).map((m) => invalid(child('status', f), v, m)));
    }
    (st?.podIPs ?? []).forEach((x, i) => causes.push(...isValidIP(x.ip).map((m) => invalid(child(index('status.podIPs', i), 'ip'), x.ip, m))));
    if (st?.nominatedNodeName) {
      causes.push(...isDNS1123Subdomain(st.nominatedNodeName).map((m) => invalid('status.nominatedNodeName', st.nominatedNodeName, m)));
    }
    return causes;
  },
});

export const namespace = rules<Namespace>({
  name: nameIsDNSLabel,
  validate: (ns) => (ns.spec?.finalizers ?? []).flatMap((f) => validateQualifiedName(f, 'spec.finalizers')),
});

export const node = rules<Node>({
  name: nameIsDNSSubdomain,
  validate: (n) => {
    const causes: Cause[] = [];
    const spec = n.spec ?? {};
    if (spec.podCIDR) causes.push(...isValidCIDR(spec.podCIDR).map((m) => invalid('spec.podCIDR', spec.podCIDR, m)));
    (spec.podCIDRs ?? []).forEach((c, i) => causes.push(...isValidCIDR(c).map((m) => invalid(index('spec.podCIDRs', i), c, m))));
    const seen = new Set<string>();
    (spec.taints ?? []).forEach((t, i) => {
      const p = index('spec.taints', i);
      if (!t.key) causes.push(required(child(p, 'key')));
      else causes.push(...validateQualifiedName(t.key, child(p, 'key')));
      if (t.value) {
        const msgs = isValidLabelValue(t.value);
        if (msgs.length) causes.push(invalid(child(p, 'value'), t.value, msgs.join(';')));
      }
      const k = `${t.key}/${t.effect}`;
      if (seen.has(k)) causes.push(duplicate(p, { key: t.key, effect: t.effect }, 'taints must be unique by key and effect pair'));
      seen.add(k);
    });
    for (const list of ['capacity', 'allocatable'] as const) causes.push(...validateResourceList(n.status?.[list], child('status', list)));
    return causes;
  },
  validateUpdate: (n, old) => {
    const causes: Cause[] = [];
    const was = old.spec ?? {};
    const is = n.spec ?? {};
    if (was.podCIDR && is.podCIDR !== was.podCIDR) causes.push(forbidden('spec.podCIDR', 'node updates may not change podCIDR except from "" to valid'));
    if ((was.podCIDRs ?? []).length && JSON.stringify(is.podCIDRs ?? []) !== JSON.stringify(was.podCIDRs)) {
      causes.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
    }
    if (was.providerID && is.providerID !== was.providerID) {
      causes.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
    }
    return causes;
  },
});

function validateServicePorts(ports: ServicePort[], type: string, requireNames: boolean): Cause[] {
  const causes: Cause[] = [];
  const names = new Set<string>();
  const portProto = new Set<string>();
  ports.forEach((p, i) => {
    const pp = index('spec.ports', i);
    if (requireNames && !p.name) causes.push(required(child(pp, 'name')));
    if (p.name) {
      causes.push(...isDNS1123Label(p.name).map((m) => invalid(child(pp, 'name'), p.name, m)));
      if (names.has(p.name)) causes.push(duplicate(child(pp, 'name'), p.name));
      names.add(p.name);
    }
    if (p.port !== undefined) causes.push(...isValidPortNum(p.port).map((m) => invalid(child(pp, 'port'), p.port, m)));
    const k = `${p.port}/${p.protocol ?? 'TCP'}`;
    if (portProto.has(k)) causes.push(duplicate(pp, { port: p.port, protocol: p.protocol ?? 'TCP' }));
    portProto.add(k);
    causes.push(...validatePortNumOrName(p.targetPort, child(pp, 'targetPort')));
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') causes.push(forbidden(child(pp, 'nodePort'), `may not be used when \`type\` is '${type}'`));
      else causes.push(...isValidPortNum(p.nodePort).map((m) => invalid(child(pp, 'nodePort'), p.nodePort, m)));
    }
  });
  return causes;
}

export const service = rules<Service>({
  name: nameIsDNS1035Label,
  validate: (svc) => {
    const causes: Cause[] = [];
    const spec = svc.spec ?? {};
    const type = spec.type ?? 'ClusterIP';
    const headless = spec.clusterIP === 'None';
    const ports = spec.ports ?? [];
    if (type === 'ExternalName') {
      if (!spec.externalName) causes.push(required('spec.externalName'));
      else causes.push(...isDNS1123Subdomain(spec.externalName.replace(/\.$/, '')).map((m) => invalid('spec.externalName', spec.externalName, m)));
      if (spec.clusterIP && spec.clusterIP !== '') causes.push(forbidden('spec.clusterIP', 'may not be set for ExternalName services'));
    } else if (ports.length === 0 && !headless) {
      causes.push(required('spec.ports'));
    }
    if (headless && (type === 'NodePort' || type === 'LoadBalancer')) causes.push(invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
    causes.push(...validateServicePorts(ports, type, ports.length > 1));
    causes.push(...validateLabels(spec.selector, 'spec.selector'));
    const ips = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
    if (spec.clusterIP && spec.clusterIPs?.length && spec.clusterIPs[0] !== spec.clusterIP) {
      causes.push(invalid('spec.clusterIPs', spec.clusterIPs, 'first value must match `clusterIP`'));
    }
    ips.forEach((ip, i) => {
      if (ip === 'None' || ip === '') return;
      causes.push(...isValidIP(ip).map((m) => invalid(index('spec.clusterIPs', i), ip, m)));
    });
    (spec.externalIPs ?? []).forEach((ip, i) => causes.push(...isValidIP(ip).map((m) => invalid(index('spec.externalIPs', i), ip, m))));
    // Externally accessible: a node port, a load balancer, or external IPs (as defaulting sets the policy).
    const external = type === 'NodePort' || type === 'LoadBalancer' || (type === 'ClusterIP' && (spec.externalIPs ?? []).length > 0);
    if (spec.externalTrafficPolicy && !external) {
      causes.push(invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
    }
    const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (timeout !== undefined && (timeout <= 0 || timeout > 86400)) {
      causes.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400'));
    }
    return causes;
  },
  validateUpdate: (svc, old) => {
    const was = old.spec?.clusterIP;
    const is = svc.spec?.clusterIP;
    if (!was || svc.spec?.type === 'ExternalName' || is === was) return [];
    return [invalid('spec.clusterIPs[0]', is ?? '', 'may not change once set')];
  },
});

export const endpoints = rules<Endpoints>({
  name: nameIsDNSSubdomain,
  validate: (ep) => {
    const causes: Cause[] = [];
    (ep.subsets ?? []).forEach((s, i) => {
      const sp = index('subsets', i);
      for (const list of ['addresses', 'notReadyAddresses'] as const) {
        (s[list] ?? []).forEach((a, j) => {
          const ap = index(child(sp, list), j);
          if (a.ip !== undefined) causes.push(...isValidIP(a.ip).map((m) => invalid(child(ap, 'ip'), a.ip, m)));
          if (a.hostname) causes.push(...isDNS1123Label(a.hostname).map((m) => invalid(child(ap, 'hostname'), a.hostname, m)));
          if (a.nodeName) causes.push(...isDNS1123Subdomain(a.nodeName).map((m) => invalid(child(ap, 'nodeName'), a.nodeName, m)));
        });
      }
      const ports = s.ports ?? [];
      const names = new Set<string>();
      ports.forEach((p, j) => {
        const pp = index(child(sp, 'ports'), j);
        if (ports.length > 1 && !p.name) causes.push(required(child(pp, 'name')));
        if (p.name) {
          causes.push(...isDNS1123Label(p.name).map((m) => invalid(child(pp, 'name'), p.name, m)));
          if (names.has(p.name)) causes.push(duplicate(child(pp, 'name'), p.name));
          names.add(p.name);
        }
        if (p.port !== undefined) causes.push(...isValidPortNum(p.port).map((m) => invalid(child(pp, 'port'), p.port, m)));
      });
    });
    return causes;
  },
});

/** ConfigMap and Secret values together may not exceed 1 MiB. */
export const MAX_DATA_SIZE = 1024 * 1024;

function validateDataKeys(maps: [string, Record<string, string> | undefined][]): Cause[] {
  const causes: Cause[] = [];
  const seen = new Map<string, string>();
  let size = 0;
  for (const [field, m] of maps) {
    for (const [k, v] of Object.entries(m ?? {})) {
      causes.push(...isConfigMapKey(k).map((msg) => invalid(key(field, k), k, msg)));
      const other = seen.get(k);
      if (other !== undefined && other !== field) causes.push(invalid(key(field, k), k, `duplicate of key present in ${other}`));
      seen.set(k, field);
      size += Buffer.byteLength(v);
    }
  }
  if (size > MAX_DATA_SIZE) causes.push(tooLong('', MAX_DATA_SIZE));
  return causes;
}

const IMMUTABLE_WHEN_SET = 'field is immutable when `immutable` is set';

function validateImmutableData<T extends { immutable?: boolean }>(next: T, old: T, fields: (keyof T & string)[]): Cause[] {
  if (!old.immutable) return [];
  const causes: Cause[] = [];
  if (!next.immutable) causes.push(forbidden('immutable', IMMUTABLE_WHEN_SET));
  for (const f of fields) if (immutable(next[f] ?? {}, old[f] ?? {}, f).length) causes.push(forbidden(f, IMMUTABLE_WHEN_SET));
  return causes;
}

export const configMap = rules<ConfigMap>({
  name: nameIsDNSSubdomain,
  validate: (cm) => validateDataKeys([['data', cm.data], ['binaryData', cm.binaryData]]),
  validateUpdate: (cm, old) => validateImmutableData(cm, old, ['data', 'binaryData']),
});

/** Keys that secrets of the well-known types must hold. */
const SECRET_REQUIRED_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
};

export const secret = rules<Secret>({
  name: nameIsDNSSubdomain,
  validate: (s) => {
    const causes = validateDataKeys([['data', s.data], ['stringData', s.stringData]]);
    const type = s.type ?? 'Opaque';
    for (const k of SECRET_REQUIRED_KEYS[type] ?? []) {
      if (s.data?.[k] === undefined && s.stringData?.[k] === undefined) causes.push(required(key('data', k)));
    }
    if (type === 'kubernetes.io/service-account-token' && !s.metadata.annotations?.['kubernetes.io/service-account.name']) {
      causes.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
    }
    if (type === 'kubernetes.io/basic-auth' && s.data?.username === undefined && s.data?.password === undefined &&
      s.stringData?.username === undefined && s.stringData?.password === undefined) {
      causes.push(required(key('data', 'username')));
    }
    return causes;
  },
  validateUpdate: (s, old) => [
    ...immutable(s.type ?? 'Opaque', old.type ?? 'Opaque', 'type'),
    ...validateImmutableData(s, old, ['data']),
  ],
});

export const EVENT_TYPES = ['Normal', 'Warning'] as const;

export const event = rules<Event>({
  name: nameIsDNSSubdomain,
  validate: (e) => {
    const causes: Cause[] = [];
    const ns = e.metadata.namespace ?? '';
    const involved = e.involvedObject?.namespace ?? '';
    // Events about cluster-scoped objects may live in "default", for old clients.
    if (involved === '' ? ns !== '' && ns !== 'default' : involved !== ns) {
      causes.push(invalid('involvedObject.namespace', involved, 'does not match event.namespace'));
    }
    if (e.type && !(EVENT_TYPES as readonly string[]).includes(e.type)) causes.push(notSupported('type', e.type, EVENT_TYPES));
    if (e.count !== undefined && e.count < 0) causes.push(invalid('count', e.count, 'must be greater than or equal to 0'));
    return causes;
  },
});

export const serviceAccount = rules<ServiceAccount>({
  name: nameIsDNSSubdomain,
  validate: () => [],
});
