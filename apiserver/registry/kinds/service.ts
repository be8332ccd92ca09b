// Services: a cluster IP from the service range and node ports for NodePort/LoadBalancer, allocated on create.
import { errors } from '../../../api/errors.js';
import { DEFAULT_SERVICE_CIDR } from '../../../api/network.js';
import type { ResourceInfo } from '../../../api/resources.js';
import { isObject, type JsonObject, type Obj } from '../object.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

export interface ServiceRanges {
  /** IPv4 CIDR of cluster IPs; the first address goes to the `kubernetes` service. */
  serviceCidr: string;
  nodePortRange: [number, number];
}

export const DEFAULT_SERVICE_RANGES: ServiceRanges = { serviceCidr: DEFAULT_SERVICE_CIDR, nodePortRange: [30000, 32767] };

const ipToInt = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const intToIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

function cidrRange(cidr: string): { first: number; size: number } {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits ?? 32));
  return { first: Math.floor(ipToInt(base ?? '0.0.0.0') / size) * size, size };
}

function inRange(ip: string, cidr: string): boolean {
  const { first, size } = cidrRange(cidr);
  const n = ipToInt(ip);
  return /^\d+\.\d+\.\d+\.\d+$/.test(ip) && n > first && n < first + size - 1;
}

const portsOf = (spec: JsonObject): JsonObject[] => (Array.isArray(spec.ports) ? spec.ports.filter(isObject) : []);

const needsNodePorts = (spec: JsonObject): boolean => spec.type === 'NodePort' || spec.type === 'LoadBalancer';
const externallyAccessible = (spec: JsonObject): boolean =>
  needsNodePorts(spec) || (spec.type === 'ClusterIP' && Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);

/**
 * dropTypeDependentFields (kube's service REST): a type change wipes what the old type needed and the new one does
 * not, when the update left it as it was (so `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` works on a NodePort).
 */
function dropTypeDependentFields(spec: JsonObject, old: JsonObject): void {
  const ports = portsOf(spec);
  const oldPorts = portsOf(old);
  const sameNodePorts = ports.every((p) => p.nodePort === undefined || oldPorts.some((o) => o.port === p.port && o.nodePort === p.nodePort));
  if (needsNodePorts(old) && !needsNodePorts(spec) && sameNodePorts) for (const p of ports) delete p.nodePort;
  if (old.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (spec.allocateLoadBalancerNodePorts === old.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
    if (spec.loadBalancerClass === old.loadBalancerClass) delete spec.loadBalancerClass;
  }
  if (externallyAccessible(old) && !externallyAccessible(spec) && spec.externalTrafficPolicy === old.externalTrafficPolicy) delete spec.externalTrafficPolicy;
}

export function serviceStrategy(info: ResourceInfo, ranges: ServiceRanges = DEFAULT_SERVICE_RANGES): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: false,
    prepareForCreate(obj) {
      obj.status = { loadBalancer: {} };
    },
    prepareForUpdate(obj, old) {
      obj.status = old.status;
      const spec = isObject(obj.spec) ? obj.spec : {};
      const oldSpec = isObject(old.spec) ? old.spec : {};
      // An update that leaves clusterIP out keeps the allocated one, as kubectl apply expects.
      if (spec.clusterIP === undefined && oldSpec.clusterIP !== undefined) spec.clusterIP = oldSpec.clusterIP;
      if (spec.clusterIPs === undefined && oldSpec.clusterIPs !== undefined) spec.clusterIPs = oldSpec.clusterIPs;
      const oldPorts = portsOf(oldSpec);
      if (needsNodePorts(spec)) {
        for (const p of portsOf(spec)) {
          if (p.nodePort !== undefined) continue;
          const o = oldPorts.find((x) => x.port === p.port && (x.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
          if (o?.nodePort !== undefined) p.nodePort = o.nodePort;
        }
      }
      dropTypeDependentFields(spec, oldSpec);
    },
    async allocate(obj: Obj, _old, ctx) {
      const spec = isObject(obj.spec) ? obj.spec : (obj.spec = {});
      const type = typeof spec.type === 'string' ? spec.type : 'ClusterIP';
      if (type === 'ExternalName') return;
      // kube-apiserver's allocator fills the families of a single-stack IPv4 cluster (headless services too).
      spec.ipFamilyPolicy ??= 'SingleStack';
      spec.ipFamilies ??= ['IPv4'];
      const needIp = spec.clusterIP === undefined || spec.clusterIP === '';
      const needPorts = (type === 'NodePort' || type === 'LoadBalancer') && portsOf(spec).some((p) => p.nodePort === undefined);
      if (!needIp && !needPorts) return;
      const others = await ctx.listAll();
      if (needIp) {
        const used = new Set(others.map((s) => (isObject(s.spec) ? s.spec.clusterIP : undefined)));
        const { first, size } = cidrRange(ranges.serviceCidr);
        // Start at a random offset so concurrent creates rarely pick the same address; .1 is the kubernetes service.
        const start = 2 + Math.floor(Math.random() * (size - 3));
        let ip: string | undefined;
        for (let i = 0; i < size - 3 && !ip; i++) {
          const cand = intToIp(first + 2 + ((start - 2 + i) % (size - 3)));
          if (!used.has(cand)) ip = cand;
        }
        if (obj.metadata.name === 'kubernetes' && obj.metadata.namespace === 'default') ip = intToIp(first + 1);
        if (!ip) throw errors.internal(`failed to allocate a serviceIP: range is full`);
        spec.clusterIP = ip;
        spec.clusterIPs = [ip];
      } else if (spec.clusterIP !== 'None' && typeof spec.clusterIP === 'string' && !inRange(spec.clusterIP, ranges.serviceCidr)) {
        throw errors.invalid(info.kind, info.group, obj.metadata.name ?? '', [
          { reason: 'FieldValueInvalid', field: 'spec.clusterIPs', message: `Invalid value: ${JSON.stringify([spec.clusterIP])}: failed to allocate IP ${spec.clusterIP}: the provided network does not match the current range` },
        ]);
      }
      if (needPorts) {
        const used = new Set<number>();
        for (const s of others) for (const p of portsOf(isObject(s.spec) ? s.spec : {})) if (typeof p.nodePort === 'number') used.add(p.nodePort);
        const [lo, hi] = ranges.nodePortRange;
        for (const p of portsOf(spec)) {
          if (typeof p.nodePort === 'number') {
            used.add(p.nodePort);
            continue;
          }
          let port = lo + Math.floor(Math.random() * (hi - lo + 1));
          for (let i = 0; used.has(port) && i <= hi - lo; i++) port = port >= hi ? lo : port + 1;
          if (used.has(port)) throw errors.internal('failed to allocate a nodePort: range is full');
          used.add(port);
          p.nodePort = port;
        }
      }
    },
  });
}
