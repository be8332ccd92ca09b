// CSR approval (pkg/controller/certificates/approver/sarapprove.go): a node's client certificate request is approved
// when a SubjectAccessReview says its requester may create certificatesigningrequests/selfnodeclient (renewing its own
// certificate) or /nodeclient (bootstrapping with a token). ketch also approves a node's serving certificate request
// (kube leaves kubelet-serving to an external approver; kubeadm and k3s setups approve them) when the node asks for
// itself and every SAN is one of its Node's addresses or its name.
import { SIGNERS, type CertificateSigningRequest } from '../../api/schemas/certificates.js';
import type { Node } from '../../api/index.js';
import type { Informer } from '../../client/informer.js';
import { NODES, refFor } from '../../client/resources.js';
import type { ResourceClient, RestClient } from '../../client/rest.js';
import { parseCsr, type ParsedCsr } from '../../lib/x509.js';
import { Controller, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { condition, isDecided, kubeletClientProblem, kubeletServingProblem, NODE_USER_PREFIX, NODES_GROUP, requestPem } from './signers.js';

export const CSRS = refFor('certificates.k8s.io/v1', 'CertificateSigningRequest');

export interface ApproverOptions {
  /** Approve kubelet-serving requests whose SANs match the Node (default true). */
  approveKubeletServing?: boolean;
}

/** Whether user may create certificatesigningrequests/<subresource>, as the API server's authorizer answers. */
async function mayCreate(rest: RestClient, csr: CertificateSigningRequest, subresource: string): Promise<boolean> {
  const review = await rest.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: csr.spec.username ?? '',
        ...(csr.spec.uid ? { uid: csr.spec.uid } : {}),
        groups: csr.spec.groups ?? [],
        ...(csr.spec.extra ? { extra: csr.spec.extra } : {}),
        resourceAttributes: { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create', subresource },
      },
    },
  });
  return review.status?.allowed === true;
}

/** Why a serving request does not name exactly its node's own addresses, or undefined. */
export function servingSansProblem(req: ParsedCsr, node: Node | undefined): string | undefined {
  const name = req.commonName.slice(NODE_USER_PREFIX.length);
  if (!node) return `node ${name} is not registered`;
  const known = new Set([name, ...(node.status?.addresses ?? []).map((a) => a.address)]);
  const stray = [...req.dns, ...req.ips].filter((n) => !known.has(n));
  return stray.length ? `subjectAltNames ${JSON.stringify(stray)} are not addresses of node ${name}` : undefined;
}

export class CsrApprovingController extends Controller {
  private readonly csrs: Informer<CertificateSigningRequest>;
  private readonly nodes: Informer<Node>;
  private readonly client: ResourceClient<CertificateSigningRequest>;
  protected readonly informers;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly opts: ApproverOptions = {},
  ) {
    super({ name: 'csrapproving', clock: ctx.clock, workers: 1 });
    this.csrs = ctx.informers.for<CertificateSigningRequest>(CSRS);
    this.nodes = ctx.informers.for<Node>(NODES);
    this.informers = [this.csrs, this.nodes];
    this.client = ctx.rest.resource<CertificateSigningRequest>(CSRS);
    this.csrs.addEventHandler(this.enqueueOnChange());
    // A serving request may come before its Node's addresses do: look again when the node changes.
    const pendingFor = (node: Node): void => {
      for (const c of this.csrs.indexer.list()) if (!isDecided(c) && c.spec.username === `${NODE_USER_PREFIX}${node.metadata.name ?? ''}`) this.enqueue(c);
    };
    this.nodes.addEventHandler({ onAdd: pendingFor, onUpdate: (_o, n) => pendingFor(n) });
  }

  protected async sync(name: string, { log }: SyncContext): Promise<void> {
    const csr = this.csrs.indexer.get(name);
    if (!csr || isDecided(csr)) return;
    const signer = csr.spec.signerName;
    if (signer !== SIGNERS.kubeletClient && !(signer === SIGNERS.kubeletServing && this.opts.approveKubeletServing !== false)) return;
    let req: ParsedCsr;
    try {
      req = await parseCsr(requestPem(csr));
    } catch (err) {
      // Not a request this approver recognizes: left to a person (the signer fails it if it is ever approved).
      log.info('request not recognized', { csr: name, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    const message = signer === SIGNERS.kubeletClient ? await this.clientVerdict(csr, req) : this.servingVerdict(csr, req);
    if (typeof message !== 'string') {
      log.debug('not auto-approved', { csr: name, reason: message.no });
      return;
    }
    await this.client.rest.request('PUT', this.client.path(undefined, name, 'approval'), {
      body: { ...csr, status: { ...(csr.status ?? {}), conditions: [...(csr.status?.conditions ?? []), condition('Approved', 'AutoApproved', message, this.clock.now())] } },
    });
    log.info('approved', { csr: name, signer, requestor: csr.spec.username });
  }

  /** kube's recognizers: a node renewing its own certificate (selfnodeclient), or any allowed requester (nodeclient). */
  private async clientVerdict(csr: CertificateSigningRequest, req: ParsedCsr): Promise<string | { no: string }> {
    const problem = kubeletClientProblem(req, csr.spec.usages ?? []);
    if (problem) return { no: problem };
    const subresources = csr.spec.username === req.commonName ? ['selfnodeclient', 'nodeclient'] : ['nodeclient'];
    for (const sub of subresources) {
      if (await mayCreate(this.ctx.rest, csr, sub)) return 'Auto approving kubelet client certificate after SubjectAccessReview.';
    }
    return { no: `${csr.spec.username ?? ''} may not create certificatesigningrequests/${subresources.join(' or /')}` };
  }

  private servingVerdict(csr: CertificateSigningRequest, req: ParsedCsr): string | { no: string } {
    const problem = kubeletServingProblem(req, csr.spec.usages ?? []);
    if (problem) return { no: problem };
    if (csr.spec.username !== req.commonName || !(csr.spec.groups ?? []).includes(NODES_GROUP)) return { no: 'a serving certificate is approved for the node itself only' };
    const sans = servingSansProblem(req, this.nodes.indexer.get(req.commonName.slice(NODE_USER_PREFIX.length)));
    return sans ? { no: sans } : "Auto approving kubelet serving certificate: its subjectAltNames are the Node's name and addresses.";
  }
}
