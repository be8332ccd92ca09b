// Rules for discovery.k8s.io/v1 EndpointSlice (pkg/apis/discovery/validation): address type, at most 1,000
// endpoints of at most 100 addresses each, at most 100 uniquely named ports.
import { ADDRESS_TYPES, type Endpoint, type EndpointSlice, type EndpointSlicePort } from '../schemas/discovery.js';
import { PROTOCOLS } from '../schemas/core.js';
import { child, duplicate, immutable, index, invalid, notSupported, required, tooMany, type Cause } from '../field.js';
import { isDNS1123Label, isDNS1123Subdomain, isIPv4, isIPv6, isQualifiedName, nameIsDNSSubdomain, validateLabels } from '../names.js';
import { rules } from './rules.js';

export const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 100;
const MAX_ZONE_HINTS = 8;

/** ValidateNonSpecialIP for IPv4: unspecified, loopback, link-local and link-local multicast addresses are refused. */
function specialIPv4(ip: string): string[] {
  const [a, b, c] = ip.split('.').map(Number);
  const out: string[] = [];
  if (ip === '0.0.0.0') out.push(`may not be unspecified (${ip})`);
  if (a === 127) out.push('may not be in the loopback range (127.0.0.0/8, ::1/128)');
  if (a === 169 && b === 254) out.push('may not be in the link-local range (169.254.0.0/16, fe80::/10)');
  if (a === 224 && b === 0 && c === 0) out.push('may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)');
  return out;
}

function addressErrors(addressType: string, address: string): string[] {
  switch (addressType) {
    case 'IPv4':
      return isIPv4(address) ? specialIPv4(address) : ['must be a valid IPv4 address'];
    case 'IPv6':
      return isIPv6(address) ? [] : ['must be a valid IPv6 address'];
    case 'FQDN': {
      const name = address.replace(/\.$/, '');
      if (!name.includes('.')) return ['should be a domain with at least two segments separated by dots'];
      return isDNS1123Subdomain(name);
    }
    default:
      return []; // an unknown type is reported on addressType
  }
}

function validateEndpoint(ep: Endpoint, addressType: string, path: string): Cause[] {
  const causes: Cause[] = [];
  const addrPath = child(path, 'addresses');
  const addrs = ep.addresses ?? [];
  if (addrs.length === 0) causes.push(required(addrPath, 'must contain at least 1 address'));
  else if (addrs.length > MAX_ADDRESSES) causes.push(tooMany(addrPath, addrs.length, MAX_ADDRESSES));
  addrs.slice(0, MAX_ADDRESSES).forEach((a, i) => causes.push(...addressErrors(addressType, a).map((m) => invalid(index(addrPath, i), a, m))));
  if (ep.nodeName !== undefined) causes.push(...isDNS1123Subdomain(ep.nodeName).map((m) => invalid(child(path, 'nodeName'), ep.nodeName, m)));
  if (ep.hostname !== undefined) causes.push(...isDNS1123Label(ep.hostname).map((m) => invalid(child(path, 'hostname'), ep.hostname, m)));
  if (ep.deprecatedTopology) causes.push(...validateLabels(ep.deprecatedTopology, child(path, 'deprecatedTopology')));
  const zones = ep.hints?.forZones ?? [];
  const zonesPath = child(path, 'hints', 'forZones');
  if (zones.length > MAX_ZONE_HINTS) causes.push(tooMany(zonesPath, zones.length, MAX_ZONE_HINTS));
  const seen = new Set<string>();
  zones.forEach((z, i) => {
    if (seen.has(z.name)) causes.push(duplicate(child(index(zonesPath, i), 'name'), z.name));
    seen.add(z.name);
  });
  return causes;
}

function validatePorts(ports: EndpointSlicePort[]): Cause[] {
  if (ports.length > MAX_PORTS) return [tooMany('ports', ports.length, MAX_PORTS)];
  const causes: Cause[] = [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const path = index('ports', i);
    const name = p.name ?? '';
    if (name !== '') causes.push(...isDNS1123Label(name).map((m) => invalid(child(path, 'name'), name, m)));
    if (names.has(name)) causes.push(duplicate(child(path, 'name'), name));
    names.add(name);
    if (p.protocol === undefined) causes.push(required(child(path, 'protocol')));
    else if (!(PROTOCOLS as readonly string[]).includes(p.protocol)) causes.push(notSupported(child(path, 'protocol'), p.protocol, PROTOCOLS));
    if (p.appProtocol !== undefined) causes.push(...isQualifiedName(p.appProtocol).map((m) => invalid(child(path, 'appProtocol'), p.appProtocol, m)));
  });
  return causes;
}

export const endpointSlice = rules<EndpointSlice>({
  name: nameIsDNSSubdomain,
  validate: (s) => {
    const causes: Cause[] = [];
    if (!s.addressType) causes.push(required('addressType'));
    else if (!(ADDRESS_TYPES as readonly string[]).includes(s.addressType)) causes.push(notSupported('addressType', s.addressType, ADDRESS_TYPES));
    const endpoints = s.endpoints ?? [];
    if (endpoints.length > MAX_ENDPOINTS) causes.push(tooMany('endpoints', endpoints.length, MAX_ENDPOINTS));
    else endpoints.forEach((ep, i) => causes.push(...validateEndpoint(ep, s.addressType, index('endpoints', i))));
    causes.push(...validatePorts(s.ports ?? []));
    return causes;
  },
  validateUpdate: (s, old) => immutable(s.addressType, old.addressType, 'addressType'),
});
