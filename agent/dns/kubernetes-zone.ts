// Answers for the cluster domain and the reverse zones, as CoreDNS's kubernetes plugin gives them (handler.go,
// kubernetes.go, parse.go, reverse.go and plugin/backend_lookup.go): services, endpoints, pods, SRV for named ports,
// ExternalName as CNAME, PTR for service, endpoint and pod IPs, NXDOMAIN or NODATA with the zone's SOA.
import { isIP } from 'node:net';
import type { Answer, SrvAnswer, StringAnswer } from 'dns-packet';
import { canonicalIP, endpointHostname, type ClusterRecords, type ServiceRecord } from './cluster-records.js';
import { DNS_SCHEMA_VERSION } from './types.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** What a question is answered with (the message around it is built by the wire layer). */
export interface Reply {
  rcode: number;
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  truncated?: boolean;
}

/** How an ExternalName's target outside the zone is resolved: through the server's forwarding path. */
export type Lookup = (name: string, type: 'A' | 'AAAA') => Promise<{ answers: Answer[]; truncated: boolean } | undefined>;

/** disabled: no pod records; insecure: any a-b-c-d.NS.pod name in an existing namespace; verified: only pod IPs in NS. */
export type PodMode = 'disabled' | 'insecure' | 'verified';

export interface KubernetesZoneOptions {
  /** The cluster domain, e.g. cluster.local. */
  zone: string;
  ttl: number;
  podMode: PodMode;
  /** The cluster DNS service's addresses: ns.dns.ZONE and the glue of the zone's NS record. */
  dnsIPs: string[];
  lookup: Lookup;
}

/** One thing a name leads to (CoreDNS's msg.Service): an address or a name, its port, and the SRV target's name. */
interface Found {
  host: string;
  port: number;
  target: string;
}

const NAME_ERROR = Symbol('NXDOMAIN');
type FoundOrError = Found[] | typeof NAME_ERROR;

interface RecordRequest {
  podOrSvc: '' | 'pod' | 'svc';
  namespace: string;
  service: string;
  endpoint: string;
  port: string;
  protocol: string;
}

const stripUnderscore = (s: string): string => (s.startsWith('_') ? s.slice(1) : s);

/**
 * The labels left of the zone, read as CoreDNS's parseRequest reads them:
 * [_port._proto.|endpoint.]service.namespace.(svc|pod). Undefined for a name that cannot exist.
 */
export function parseRequest(base: string): RecordRequest | undefined {
  const r: RecordRequest = { podOrSvc: '', namespace: '', service: '', endpoint: '', port: '', protocol: '' };
  if (base === '' || base === 'svc' || base === 'pod') return r;
  const segs = base.split('.');
  let last = segs.length - 1;
  const kind = segs[last];
  if (kind !== 'svc' && kind !== 'pod') return undefined;
  r.podOrSvc = kind;
  if (--last < 0) return r;
  r.namespace = segs[last]!;
  if (--last < 0) return r;
  r.service = segs[last]!;
  if (--last < 0) return r;
  if (last === 0) r.endpoint = segs[0]!;
  else if (last === 1) {
    r.port = stripUnderscore(segs[0]!);
    r.protocol = stripUnderscore(segs[1]!);
  } else return undefined;
  return r;
}

/** The address a reverse name stands for (4.3.2.1.in-addr.arpa -> 1.2.3.4), or '' when it names none. */
export function addressFromReverse(lname: string): string {
  if (lname.endsWith('.in-addr.arpa')) {
    const parts = lname.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4) return '';
    const ip = parts.reverse().join('.');
    return isIP(ip) === 4 ? ip : '';
  }
  if (lname.endsWith('.ip6.arpa')) {
    const nibbles = lname.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return '';
    const hex = nibbles.reverse().join('');
    return canonicalIP(hex.match(/.{4}/g)!.join(':'));
  }
  return '';
}

const matchPortAndProtocol = (r: RecordRequest, name: string, protocol: string): boolean =>
  (r.port === '' || r.port === name.toLowerCase()) && (r.protocol === '' || r.protocol === protocol.toLowerCase());

/** The cluster domain's answers, computed per question from the indexed cluster state. */
export class KubernetesZone {
  readonly zone: string;
  private readonly suffix: string;

  constructor(
    private readonly db: ClusterRecords,
    private readonly opts: KubernetesZoneOptions,
  ) {
    this.zone = opts.zone.toLowerCase().replace(/^\.|\.$/g, '');
    this.suffix = '.' + this.zone;
  }

  /** Whether a lower-cased name is in the cluster domain. */
  contains(lname: string): boolean {
    return lname === this.zone || lname.endsWith(this.suffix);
  }

  /** The answer for a question in the cluster domain (qname as asked, lname lower-cased, no trailing dot). */
  answer(qname: string, lname: string, qtype: string): Reply | Promise<Reply> {
    const zoneOwner = qname.slice(qname.length - this.zone.length);
    switch (qtype) {
      case 'A':
      case 'AAAA': {
        const r = this.address(qname, lname, qtype, new Set());
        return r instanceof Promise ? r.then((x) => this.finish(zoneOwner, x.records, [], x.error, x.truncated)) : this.finish(zoneOwner, r.records, [], r.error, r.truncated);
      }
      case 'SRV':
        return this.srv(qname, lname, zoneOwner);
      case 'TXT':
        return this.txt(qname, lname, zoneOwner);
      case 'CNAME': {
        const found = this.found(lname, qtype);
        if (found === NAME_ERROR) return this.finish(zoneOwner, [], [], true);
        const first = found[0];
        return this.finish(zoneOwner, first && isIP(first.host) === 0 ? [this.rr(qname, 'CNAME', first.host)] : [], [], false);
      }
      case 'SOA':
        return this.finish(zoneOwner, lname === this.zone ? [this.soa(zoneOwner)] : [], [], false);
      case 'AXFR':
      case 'IXFR':
        return { rcode: RCODE.REFUSED, authoritative: false, answers: [], authorities: [], additionals: [] };
      case 'NS':
        if (lname === this.zone) return this.ns(zoneOwner);
      // fall through: NS below the apex is any other type
      default:
        // A lookup of the name tells NODATA from NXDOMAIN.
        return this.finish(zoneOwner, [], [], this.found(lname, 'A') === NAME_ERROR);
    }
  }

  /** PTR for a service, endpoint or pod IP; undefined when the name is not ours (the question is forwarded). */
  reverse(qname: string, lname: string): Reply | undefined {
    const ip = addressFromReverse(lname);
    if (!ip) return undefined;
    const names: string[] = [];
    const svc = this.db.servicesByIP(ip)[0];
    if (svc) names.push(`${svc.name}.${svc.namespace}.svc.${this.zone}`);
    else {
      for (const e of this.db.endpointsByIP(ip)) names.push(`${e.hostname}.${e.service}.${e.namespace}.svc.${this.zone}`);
      // Not in CoreDNS: a pod IP behind no service names the pod record this server answers.
      if (!names.length && this.opts.podMode !== 'disabled') for (const ns of this.db.podNamespaces(ip)) names.push(`${podLabel(ip)}.${ns}.pod.${this.zone}`);
    }
    if (!names.length) return undefined;
    const answers = [...new Set(names)].map((n) => this.rr(qname, 'PTR', n));
    return { rcode: RCODE.NOERROR, authoritative: true, answers, authorities: [], additionals: [] };
  }

  /** Success with records, NODATA, or a name error, each with the SOA where CoreDNS puts it. */
  private finish(zoneOwner: string, answers: Answer[], additionals: Answer[], nameError: boolean, truncated = false): Reply {
    if (nameError) {
      const rcode = this.db.hasSynced ? RCODE.NXDOMAIN : RCODE.SERVFAIL;
      return { rcode, authoritative: true, answers: [], authorities: [this.soa(zoneOwner)], additionals: [] };
    }
    if (!answers.length) return { rcode: RCODE.NOERROR, authoritative: true, answers: [], authorities: [this.soa(zoneOwner)], additionals: [] };
    return { rcode: RCODE.NOERROR, authoritative: true, answers, authorities: [], additionals, truncated };
  }

  private rr(name: string, type: 'A' | 'AAAA' | 'CNAME' | 'PTR' | 'NS', data: string): StringAnswer {
    return { name, type, ttl: this.opts.ttl, class: 'IN', data };
  }

  private soa(zoneOwner: string): Answer {
    const ttl = Math.min(this.opts.ttl, 300);
    return {
      name: zoneOwner,
      type: 'SOA',
      ttl,
      class: 'IN',
      data: { mname: `ns.dns.${this.zone}`, rname: `hostmaster.${this.zone}`, serial: this.db.modified >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: this.opts.ttl },
    };
  }

  private ns(zoneOwner: string): Reply {
    const target = `ns.dns.${this.zone}`;
    const extra = this.opts.dnsIPs.map((ip) => this.rr(target, isIP(ip) === 6 ? 'AAAA' : 'A', ip));
    return this.finish(zoneOwner, extra.length ? [this.rr(zoneOwner, 'NS', target)] : [], extra, false);
  }

  /** What a name leads to: the apex and ns.dns.ZONE first (checkForApex, isDefaultNS), then services and pods. */
  private found(lname: string, qtype: string): FoundOrError {
    if (lname === this.zone) return [];
    if (lname === `ns.dns.${this.zone}`) {
      const fam = qtype === 'A' ? 4 : qtype === 'AAAA' ? 6 : 0;
      return this.opts.dnsIPs.filter((ip) => isIP(ip) === fam).map((host) => ({ host, port: 0, target: lname }));
    }
    const base = lname.slice(0, lname.length - this.suffix.length);
    const r = parseRequest(base);
    if (!r) return NAME_ERROR;
    if (r.podOrSvc === '') return [];
    if (!this.db.namespaceExists(r.namespace)) return NAME_ERROR;
    return r.podOrSvc === 'pod' ? this.findPods(r) : this.findServices(r);
  }

  private findPods(r: RecordRequest): FoundOrError {
    if (this.opts.podMode === 'disabled') return NAME_ERROR;
    const podname = r.service;
    if (podname === '') return [];
    const dashes = podname.split('-').length - 1;
    const ip = canonicalIP(dashes === 3 && !podname.includes('--') ? podname.replaceAll('-', '.') : podname.replaceAll('-', ':'));
    if (isIP(ip) === 0) return NAME_ERROR;
    if (this.opts.podMode === 'verified' && !this.db.podNamespaces(ip).includes(r.namespace)) return NAME_ERROR;
    return [{ host: ip, port: 0, target: `${podname}.${r.namespace}.pod.${this.zone}` }];
  }

  private findServices(r: RecordRequest): FoundOrError {
    if (r.service === '') return [];
    const svc = this.db.service(r.service, r.namespace);
    if (!svc) return NAME_ERROR;
    const target = `${svc.name}.${svc.namespace}.svc.${this.zone}`;
    if (svc.externalName !== undefined) {
      // An ExternalName has no endpoints or ports below it, and an IP there is no name to alias.
      if (r.endpoint || r.port || r.protocol || isIP(svc.externalName) !== 0) return NAME_ERROR;
      return [{ host: svc.externalName, port: 0, target }];
    }
    if (svc.headless || r.endpoint) return this.findEndpoints(r, svc, target);
    const out: Found[] = [];
    let matched = false;
    for (const p of svc.ports) {
      if (!matchPortAndProtocol(r, p.name, p.protocol)) continue;
      matched = true;
      for (const ip of svc.clusterIPs) out.push({ host: ip, port: p.port, target });
    }
    return matched ? out : NAME_ERROR;
  }

  private findEndpoints(r: RecordRequest, svc: ServiceRecord, svcName: string): FoundOrError {
    const out: Found[] = [];
    for (const slice of this.db.endpoints(svc)) {
      for (const e of slice.endpoints) {
        if (!e.ready && !svc.publishNotReadyAddresses) continue;
        if (r.endpoint && r.endpoint !== e.hostname.toLowerCase()) continue;
        for (const p of slice.ports) {
          if (!matchPortAndProtocol(r, p.name, p.protocol)) continue;
          out.push({ host: e.ip, port: p.port, target: `${e.hostname}.${svcName}` });
        }
      }
    }
    return out.length ? out : NAME_ERROR;
  }

  /** A or AAAA records for a name, following CNAMEs (ExternalName) inside the zone and through the lookup outside. */
  private address(qname: string, lname: string, qtype: 'A' | 'AAAA', seen: Set<string>): AddressResult | Promise<AddressResult> {
    const found = this.found(lname, qtype);
    if (found === NAME_ERROR) return { records: [], error: true, truncated: false };
    if (found.some((f) => isIP(f.host) === 0)) return this.addressWithAliases(qname, lname, qtype, found, seen);
    const fam = qtype === 'A' ? 4 : 6;
    const records: Answer[] = [];
    const dup = new Set<string>();
    for (const f of found) {
      if (isIP(f.host) !== fam || dup.has(f.host)) continue;
      dup.add(f.host);
      records.push(this.rr(qname, qtype, f.host));
    }
    return { records, error: false, truncated: false };
  }

  private async addressWithAliases(qname: string, lname: string, qtype: 'A' | 'AAAA', found: Found[], seen: Set<string>): Promise<AddressResult> {
    const records: Answer[] = [];
    let truncated = false;
    seen.add(lname);
    for (const f of found) {
      const fam = isIP(f.host);
      if (fam !== 0) {
        if (fam === (qtype === 'A' ? 4 : 6)) records.push(this.rr(qname, qtype, f.host));
        continue;
      }
      const ltarget = f.host.toLowerCase();
      // x CNAME x, a loop through names already followed, or a chain past CoreDNS's 10 links is not added.
      if (seen.has(ltarget) || seen.size > MAX_CNAME_CHAIN) continue;
      const cname = this.rr(qname, 'CNAME', f.host);
      if (this.contains(ltarget)) {
        const next = await this.address(f.host, ltarget, qtype, seen);
        truncated ||= next.truncated;
        if (!next.error && next.records.length) records.push(cname, ...next.records);
        continue;
      }
      const m = await this.opts.lookup(f.host, qtype);
      truncated ||= m?.truncated ?? false;
      // CoreDNS drops the CNAME when the target cannot be looked up; ketch keeps it so that clients can follow it.
      records.push(cname, ...(m?.answers ?? []));
    }
    return { records, error: false, truncated };
  }

  private srv(qname: string, lname: string, zoneOwner: string): Reply {
    const all = this.found(lname, 'SRV');
    if (all === NAME_ERROR) return this.finish(zoneOwner, [], [], true);
    // SRV for ExternalName services is not built (kubernetes.go Services).
    const found = all.filter((f) => isIP(f.host) !== 0);
    const weight = Math.max(1, Math.floor(100 / found.length));
    const records: SrvAnswer[] = [];
    const extra: Answer[] = [];
    const dup = new Set<string>();
    for (const f of found) {
      if (f.port === -1) continue;
      const srvKey = `${f.target}|${f.port}`;
      if (!dup.has(srvKey)) {
        dup.add(srvKey);
        records.push({ name: qname, type: 'SRV', ttl: this.opts.ttl, class: 'IN', data: { priority: 0, weight, port: f.port, target: f.target } });
      }
      const addrKey = `${f.target}|${f.host}`;
      if (!dup.has(addrKey)) {
        dup.add(addrKey);
        extra.push(this.rr(f.target, isIP(f.host) === 6 ? 'AAAA' : 'A', f.host));
      }
    }
    return this.finish(zoneOwner, records, extra, false);
  }

  private txt(qname: string, lname: string, zoneOwner: string): Reply {
    if (lname === `dns-version.${this.zone}`) {
      return this.finish(zoneOwner, [{ name: qname, type: 'TXT', ttl: 28800, class: 'IN', data: DNS_SCHEMA_VERSION }], [], false);
    }
    // Only dns-version has TXT: a name with other records is NODATA, anything else (even an empty namespace) NXDOMAIN.
    const found = this.found(lname, 'TXT');
    return this.finish(zoneOwner, [], [], found === NAME_ERROR || found.length === 0);
  }
}

interface AddressResult {
  records: Answer[];
  error: boolean;
  truncated: boolean;
}

const MAX_CNAME_CHAIN = 10;

/** The pod record's label for an IP: dots (or colons) as dashes. */
export const podLabel = (ip: string): string => endpointHostname(ip, undefined);
