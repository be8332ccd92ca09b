// CSR signing (pkg/controller/certificates/signer): approved requests for kube-apiserver-client, -client-kubelet and
// kubelet-serving are signed by the cluster CA (--cluster-signing-cert-file/--cluster-signing-key-file, read at each
// signing so that a renewed CA is used), valid from five minutes back for the shorter of --cluster-signing-duration and
// the request's expirationSeconds, never past the CA's own expiry. A request the signer's rules refuse, or whose
// signature does not verify, gets a Failed condition. Other signers are left to whoever serves them.
import { readFile } from 'node:fs/promises';
import type { CertificateSigningRequest } from '../../api/schemas/certificates.js';
import type { Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { parseCsr, signCertificate, validity, type ParsedCsr } from '../../lib/x509.js';
import { Controller, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { CSRS } from './approver-controller.js';
import { condition, hasCondition, isApproved, requestPem, SIGNER_RULES } from './signers.js';

export interface SignerOptions {
  certFile: string;
  keyFile: string;
  /** The longest validity issued (kube-controller-manager's --cluster-signing-duration, default one year). */
  durationMs?: number;
}

const BACKDATE_MS = 5 * 60_000;
const MIN_DURATION_MS = 10 * 60_000;
export const DEFAULT_SIGNING_DURATION_MS = 365 * 24 * 3600_000;

export class CsrSigningController extends Controller {
  private readonly csrs: Informer<CertificateSigningRequest>;
  private readonly client: ResourceClient<CertificateSigningRequest>;
  protected readonly informers;

  constructor(
    ctx: ControllerContext,
    private readonly opts: SignerOptions,
  ) {
    super({ name: 'csrsigning', clock: ctx.clock, workers: 1 });
    this.csrs = ctx.informers.for<CertificateSigningRequest>(CSRS);
    this.informers = [this.csrs];
    this.client = ctx.rest.resource<CertificateSigningRequest>(CSRS);
    this.csrs.addEventHandler(this.enqueueOnChange());
  }

  protected async sync(name: string, { log }: SyncContext): Promise<void> {
    const csr = this.csrs.indexer.get(name);
    if (!csr || !isApproved(csr) || hasCondition(csr, 'Failed') || csr.status?.certificate) return;
    const rule = SIGNER_RULES[csr.spec.signerName];
    if (!rule) return;
    let req: ParsedCsr;
    try {
      req = await parseCsr(requestPem(csr));
    } catch (err) {
      return this.fail(csr, `unable to parse csr: ${err instanceof Error ? err.message : String(err)}`, log);
    }
    if (!req.signatureValid) return this.fail(csr, 'unable to verify certificate request signature', log);
    const problem = rule(req, csr.spec.usages ?? []);
    if (problem) return this.fail(csr, problem, log);
    const certPem = await this.sign(csr, req);
    await this.client.rest.request('PUT', this.client.path(undefined, name, 'status'), {
      body: { ...csr, status: { ...(csr.status ?? {}), certificate: Buffer.from(certPem).toString('base64') } },
    });
    log.info('signed', { csr: name, signer: csr.spec.signerName, subject: req.commonName, notAfter: validity(certPem).notAfter.toISOString() });
  }

  private async sign(csr: CertificateSigningRequest, req: ParsedCsr): Promise<string> {
    const ca = { certPem: await readFile(this.opts.certFile, 'utf8'), keyPem: await readFile(this.opts.keyFile, 'utf8') };
    const now = this.clock.now();
    const requested = csr.spec.expirationSeconds !== undefined ? Math.max(csr.spec.expirationSeconds * 1000, MIN_DURATION_MS) : Infinity;
    const duration = Math.min(this.opts.durationMs ?? DEFAULT_SIGNING_DURATION_MS, requested);
    const notAfter = Math.min(now + duration, validity(ca.certPem).notAfter.getTime());
    return signCertificate(ca, {
      subject: { commonName: req.commonName, organizations: req.organizations },
      publicKey: req.publicKey,
      usages: csr.spec.usages ?? [],
      dns: req.dns,
      ips: req.ips,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
    });
  }

  /** kube's Failed condition (reason SignerValidationFailure): the request will not be signed. */
  private async fail(csr: CertificateSigningRequest, message: string, log: SyncContext['log']): Promise<void> {
    await this.client.rest.request('PUT', this.client.path(undefined, csr.metadata.name ?? '', 'status'), {
      body: { ...csr, status: { ...(csr.status ?? {}), conditions: [...(csr.status?.conditions ?? []), condition('Failed', 'SignerValidationFailure', message, this.clock.now())] } },
    });
    log.info('refused to sign', { csr: csr.metadata.name, reason: message });
  }
}
