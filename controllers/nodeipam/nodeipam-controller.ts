// Node IPAM (pkg/controller/nodeipam, range allocator): gives every node a spec.podCIDR from the cluster CIDR.
import { DEFAULT_CLUSTER_CIDR } from '../../api/network.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import type { Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { NODES, type Node } from '../framework/types.js';
import { CidrSet } from './cidr-set.js';

export { DEFAULT_CLUSTER_CIDR };
export const DEFAULT_NODE_CIDR_MASK_SIZE = 24;

export interface NodeIpamOptions {
  clusterCidr?: string;
  nodeCidrMaskSize?: number;
}

export class NodeIpamController extends Controller {
  readonly cidrs: CidrSet;
  private readonly nodeInformer: Informer<Node>;
  private readonly nodes: ResourceClient<Node>;
  private readonly recorder: EventRecorder;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: NodeIpamOptions = {}) {
    super({ name: 'node-ipam-controller', clock: ctx.clock, workers: 1 });
    this.cidrs = new CidrSet(opts.clusterCidr ?? DEFAULT_CLUSTER_CIDR, opts.nodeCidrMaskSize ?? DEFAULT_NODE_CIDR_MASK_SIZE);
    this.nodeInformer = ctx.informers.for<Node>(NODES);
    this.informers = [this.nodeInformer];
    this.nodes = ctx.rest.resource<Node>(NODES);
    this.recorder = ctx.recorder(this.name);
    this.nodeInformer.addEventHandler(
      this.enqueueOnChange((n) => {
        for (const c of podCidrsOf(n)) this.cidrs.release(c);
      }),
    );
  }

  /** Before allocating anything, every subnet already assigned is marked taken. */
  protected override started(): void {
    for (const n of this.nodeInformer.indexer.list()) for (const c of podCidrsOf(n)) this.cidrs.occupy(c);
  }

  protected async sync(name: string, { log }: SyncContext): Promise<void> {
    const node = this.nodeInformer.indexer.get(name);
    if (!node || node.metadata.deletionTimestamp) return;
    const existing = podCidrsOf(node);
    if (existing.length) {
      for (const c of existing) this.cidrs.occupy(c);
      return;
    }
    const cidr = this.cidrs.allocateNext();
    if (!cidr) {
      void this.recorder.event(objectReference(node, NODES), 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      throw new Error(`no pod CIDR left in the cluster CIDR for node ${name}`);
    }
    try {
      // The resourceVersion makes this fail if someone else set a CIDR meanwhile.
      await this.nodes.patch(undefined, name, { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { podCIDR: cidr, podCIDRs: [cidr] } });
      log.info('allocated pod CIDR', { node: name, podCIDR: cidr });
    } catch (err) {
      this.cidrs.release(cidr);
      void this.recorder.event(objectReference(node, NODES), 'Warning', 'CIDRAssignmentFailed', `Node ${name} status is now: CIDRAssignmentFailed`);
      throw err;
    }
  }
}

function podCidrsOf(n: Node): string[] {
  const s = n.spec ?? {};
  return s.podCIDRs?.length ? s.podCIDRs : s.podCIDR ? [s.podCIDR] : [];
}
