// IPv4 addresses as numbers (0 .. 2^32-1): parsing and formatting shared by node IPAM, the runtime's pod network and
// the agent's pod routes.

/** "10.42.0.1" -> 170524673; throws on anything that is not a dotted-quad IPv4 address. */
export function parseIPv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address "${s}"`);
  let n = 0;
  for (const p of parts) {
    const b = Number(p);
    if (!/^\d{1,3}$/.test(p) || b > 255) throw new Error(`invalid IPv4 address "${s}"`);
    n = n * 256 + b;
  }
  return n;
}

export const formatIPv4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
