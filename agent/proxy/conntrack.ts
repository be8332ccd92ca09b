// Stale UDP conntrack entries (kube-proxy's conntrack.CleanStaleEntries): UDP has no connection to end, so an entry that
// was NATed to an endpoint that went away would keep sending a client's packets there. After the rules change:
// entries NATed to a removed endpoint are deleted, and when a UDP service gets its first endpoint, entries for its
// addresses (made while packets to it were rejected) go too.
import { endpointString, type EndpointInfo, type ServicePortInfo } from './model.js';

export interface ConntrackCleanup {
  /** Arguments to `conntrack -D`. */
  args: string[];
}

interface PortState {
  info: ServicePortInfo;
  reachable: EndpointInfo[];
}

const addresses = (p: ServicePortInfo): string[] => [p.clusterIP, ...p.externalIPs, ...p.loadBalancerIPs];

/** The deletions a change of one service port calls for (none unless it is UDP). */
export function conntrackCleanup(old: PortState | undefined, cur: PortState | undefined): ConntrackCleanup[] {
  const out: ConntrackCleanup[] = [];
  if (old?.info.protocol === 'UDP') {
    const kept = new Set((cur?.info.protocol === 'UDP' ? cur.reachable : []).map(endpointString));
    for (const ep of old.reachable) {
      if (kept.has(endpointString(ep))) continue;
      for (const ip of addresses(old.info)) out.push({ args: ['-p', 'udp', '--orig-dst', ip, '--dst-nat', ep.ip] });
      if (old.info.nodePort) out.push({ args: ['-p', 'udp', '--orig-port-dst', String(old.info.nodePort), '--dst-nat', ep.ip] });
    }
    if (!cur) out.push({ args: ['-p', 'udp', '--orig-dst', old.info.clusterIP] });
  }
  if (cur?.info.protocol === 'UDP' && cur.reachable.length > 0 && !(old?.info.protocol === 'UDP' && old.reachable.length > 0)) {
    for (const ip of addresses(cur.info)) out.push({ args: ['-p', 'udp', '--orig-dst', ip] });
    if (cur.info.nodePort) out.push({ args: ['-p', 'udp', '--orig-port-dst', String(cur.info.nodePort)] });
  }
  return out;
}
