// Per-node pod CIDRs cut from the cluster CIDR (pkg/controller/nodeipam/ipam/cidrset), IPv4: 10.42.0.0/16 in /24s
// gives 10.42.0.0/24, 10.42.1.0/24, ... as k3s hands them out.
import { formatIPv4, parseCIDR as parseCidr } from '../../lib/ipv4.js';

export { parseCidr };

export class CidrSet {
  private readonly base: number;
  private readonly subnetSize: number;
  readonly capacity: number;
  private readonly used = new Set<number>();
  private next = 0;

  constructor(
    clusterCidr: string,
    readonly maskSize: number,
  ) {
    const { base, prefix } = parseCidr(clusterCidr);
    if (maskSize < prefix || maskSize > 32) throw new Error(`node CIDR mask size ${maskSize} does not fit in ${clusterCidr}`);
    if (maskSize - prefix > 16) throw new Error(`node CIDR mask size ${maskSize} is too large for ${clusterCidr} (more than 65536 subnets)`);
    this.base = base;
    this.subnetSize = 2 ** (32 - maskSize);
    this.capacity = 2 ** (maskSize - prefix);
  }

  private cidrOf(i: number): string {
    return `${formatIPv4(this.base + i * this.subnetSize)}/${this.maskSize}`;
  }

  /** The index of a subnet of this set, or undefined when cidr is not one. */
  private indexOf(cidr: string): number | undefined {
    const { base, prefix } = parseCidr(cidr);
    if (prefix !== this.maskSize) return undefined;
    const i = (base - this.base) / this.subnetSize;
    return Number.isInteger(i) && i >= 0 && i < this.capacity ? i : undefined;
  }

  /** The next free subnet, searching round-robin from the last one handed out. */
  allocateNext(): string | undefined {
    for (let k = 0; k < this.capacity; k++) {
      const i = (this.next + k) % this.capacity;
      if (!this.used.has(i)) {
        this.used.add(i);
        this.next = (i + 1) % this.capacity;
        return this.cidrOf(i);
      }
    }
    return undefined;
  }

  /** Marks a subnet taken (a node that has one already); false when it is not part of this set. */
  occupy(cidr: string): boolean {
    const i = this.indexOf(cidr);
    if (i === undefined) return false;
    this.used.add(i);
    return true;
  }

  release(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  get allocated(): number {
    return this.used.size;
  }
}
