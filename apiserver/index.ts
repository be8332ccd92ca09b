// The API server component: HTTPS with authentication, discovery, OpenAPI and the resource API over a Storage.
// A host process (`ketch server`) starts it with startApiServer() and stops it with close(). This file only wires:
// the parts are in filters/ (the handler chain), handlers/, registry/, server/ (routes, HTTPS, post-start hooks).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { nthIPv4, primaryIPv4 } from '../lib/ipv4.js';
import { logger as makeLogger, type Logger } from '../lib/logger.js';
import { CertificateReloader } from '../lib/tls.js';
import { loadPodSecurityConfiguration, DEFAULT_POD_SECURITY, type PodSecurityConfiguration } from './admission/pod-security/config.js';
import { PodSecurityAdmission } from './admission/pod-security/admission.js';
import { AuditLog, type AuditLogOptions } from './audit/log.js';
import { loadAuditPolicy } from './audit/policy.js';
import type { AuthorizationMode } from './authorization/union.js';
import { withAudit, type AuditSink } from './filters/audit.js';
import { Authenticator, loadTokenFile, withAuthentication } from './filters/authentication.js';
import { rulesOf, withAuthorization, type Authorizer, type RuleResolver } from './filters/authorization.js';
import { withImpersonation } from './filters/impersonation.js';
import { buildHandlerChain, type Handler } from './filters/chain.js';
import type { UserInfo } from './authorization/types.js';
import { requestDeadlines, withDeadline } from './filters/deadlines.js';
import { InFlightLimiter, withMaxInFlight } from './filters/inflight.js';
import { withRequestLog } from './filters/logging.js';
import { ApiServerMetrics, type MetricsSource } from './filters/metrics.js';
import { withRecovery } from './filters/recovery.js';
import { withRequestInfo } from './filters/request-info.js';
import type { HandlerContext } from './handlers/context.js';
import { resourceHandler } from './handlers/rest.js';
import { upgradeHandler } from './handlers/upgrade.js';
import { WatchLimiter } from './handlers/watch-limiter.js';
import { fetchSummary, type MetricsDeps } from './nodeproxy/metrics-api.js';
import type { NodeProxyDeps, ProxyNode, ProxyPod } from './nodeproxy/node-proxy.js';
import { ensurePki, kubeconfigYaml, SUPER_ADMIN_USER, type ClusterPki } from './pki/pki.js';
import { ensureTokenFile } from './pki/token-file.js';
import type { Admission, Clock } from './registry/index.js';
import { DEFAULT_SERVICE_RANGES, type ServiceRanges } from './registry/kinds/service.js';
import { serverAuthorization } from './server/authorization.js';
import { bootstrapNamespaces, bootstrapPriorityClasses } from './server/bootstrap.js';
import { clientAddress, closeServer, httpsServer, listen, listenLocal, localServer } from './server/https.js';
import { KubernetesServiceReconciler } from './server/kubernetes-service.js';
import { newRegistry, type CoreStores } from './server/registry.js';
import { routes } from './server/routes.js';
import { NamespaceContentPublisher } from './serviceaccount/publisher.js';
import { handleTokenRequest, serviceAccountAuthenticator, type ServiceAccountTokenDeps } from './serviceaccount/token-request.js';
import { ensureServiceAccountKey, TokenIssuer } from './serviceaccount/tokens.js';
import { SYSTEM_NAMESPACES } from './admission/namespace-lifecycle.js';
import type { EncryptionConfig } from './encryption/config.js';
import { CLUSTER_INFO_PATH, ensureClusterInfo } from './bootstrap/cluster-info.js';
import { bootstrapTokenAuthenticator } from './bootstrap/token-authenticator.js';
import { apiExtensions } from './apiextensions/index.js';
import { serviceResolver } from './admission/extension.js';
import { Aggregator, localGroupVersions } from './aggregator/aggregator.js';
import { ensureFrontProxyPki, publishAuthenticationConfigMap } from './aggregator/front-proxy.js';
import { METRICS_RESOURCES } from './nodeproxy/metrics-api.js';
import { REVIEWS } from '../api/resources.js';
import type { Storage } from './storage/interface.js';
import { isLoopbackAddress } from './nodeproxy/agent-address.js';

export interface ApiServerOptions {
  dataDir: string;
  /** 0 picks a free port. */
  securePort: number;
  bindAddress: string;
  storage: Storage;
  logger?: Logger;
  /** kube-apiserver token file (token,user,uid,"group1,group2"); default DIR/token-file, created with an admin token. */
  tokenFile?: string;
  clock?: Clock;
  /** Idle time after which a watch that allows bookmarks gets one (default 10s). */
  watchBookmarkIntervalMs?: number;
  /** Watches without timeoutSeconds end after a random time in [min, 2*min) seconds (default 1800). */
  minRequestTimeoutSec?: number;
  /** Non-watch requests taking longer get 504 (default 60s). */
  requestTimeoutMs?: number;
  maxWatches?: number;
  /** Bytes a watcher may leave unread before it is cut off (default 16 MiB). */
  watchMaxBufferedBytes?: number;
  /** Non-mutating requests in flight before 429 (kube-apiserver's --max-requests-inflight, default 400; 0: no limit). */
  maxRequestsInflight?: number;
  /** Mutating requests in flight before 429 (--max-mutating-requests-inflight, default 200; 0: no limit). */
  maxMutatingRequestsInflight?: number;
  serviceRanges?: ServiceRanges;
  /**
   * The address the `kubernetes` Service's endpoint names for this server, also written in kube-public/cluster-info for
   * joining nodes (kube-apiserver's --advertise-address); default: the bind address when it is a specific one, else the host's first non-loopback IPv4.
   */
  advertiseAddress?: string;
  /** Whether to keep the `kubernetes` Service and its endpoints (default true). */
  kubernetesService?: boolean;
  /** --authorization-mode: the authorizers in order (default Node, RBAC), after system:masters. */
  authorizationModes?: readonly AuthorizationMode[];
  /** A custom authorizer instead of the modes' (tests); the access reviews ask it too, and its rules when it resolves them. */
  authorizer?: Authorizer & Partial<RuleResolver>;
  /** How often the serving certificate is re-read (and renewed when near expiry) while the server runs (default 60 s). */
  servingCertCheckIntervalMs?: number;
  /** Encryption at rest (--encryption-provider-config); absent: values stored as their JSON. */
  encryption?: EncryptionConfig;
  /** Where audit events go, and the policy (default: --audit-policy-file and --audit-log-path's, else none). */
  audit?: AuditSink;
  /** How often aggregated APIServices are checked for availability (default 10s). */
  apiServiceCheckIntervalMs?: number;
  /** --audit-policy-file: an audit.k8s.io/v1 Policy; with auditLog, requests are logged as it says. */
  auditPolicyFile?: string;
  /** --audit-log-path (- for stdout) and its rotation. */
  auditLog?: AuditLogOptions;
  /** --admission-control-config-file: PodSecurity's defaults and exemptions (AdmissionConfiguration). */
  admissionControlConfigFile?: string;
  /** PodSecurity's configuration given directly (overrides the file's). */
  podSecurity?: PodSecurityConfiguration;
  /**
   * Also serve the handler chain over plain HTTP on <dataDir>/local/apiserver.sock, for components in this process
   * (ApiServer.local): `ketch server` and `ketch up` give its controller manager and scheduler threads a token each.
   */
  localSocket?: boolean;
  /** Agents may be reached on loopback whatever the bind address (`ketch up`: the only node is this host). */
  loopbackAgents?: boolean;
  /** --kubelet-certificate-authority: PEM of the CA agents' serving certificates are checked against (default: the cluster CA). */
  kubeletCertificateAuthority?: string;
  /** Do not verify agents' serving certificates (kube-apiserver without --kubelet-certificate-authority). */
  kubeletInsecureSkipTlsVerify?: boolean;
}

export interface ApiServer {
  port: number;
  url: string;
  caCertPem: string;
  /** Client certificate of user admin in kubeadm:cluster-admins (cluster-admin through RBAC). */
  adminKubeconfigPath: string;
  /** Client certificate in system:masters: the break-glass credential (kubeadm's super-admin.conf). */
  superAdminKubeconfigPath: string;
  /** Client certificate of user system:kube-scheduler. */
  schedulerKubeconfigPath: string;
  /** Client certificate of user system:kube-controller-manager. */
  controllerManagerKubeconfigPath: string;
  /**
   * With localSocket: the Unix socket, and a token for a user of a component in this process, good on that socket only
   * and only while this server runs. Undefined when the socket could not be made (then components use TLS).
   */
  local?: { socketPath: string; token(user: UserInfo): string };
  /**
   * Appends a hosted component's Prometheus text to this server's /metrics (`ketch server`: the controller manager's
   * and the scheduler's, which serve no port of their own there).
   */
  addMetricsSource(source: MetricsSource): void;
  close(): Promise<void>;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.logger ?? makeLogger('apiserver');
  const clock: Clock = opts.clock ?? { now: () => new Date() };
  const advertiseAddress = opts.advertiseAddress || defaultAdvertiseAddress(opts.bindAddress);
  const serviceRanges = opts.serviceRanges ?? DEFAULT_SERVICE_RANGES;
  // Clients reach the server by its address, the advertised one, and (from pods) the kubernetes Service's cluster IP.
  const pki = await ensurePki(opts.dataDir, [opts.bindAddress, advertiseAddress, nthIPv4(serviceRanges.serviceCidr, 1)]);
  const bookmarkIntervalMs = opts.watchBookmarkIntervalMs ?? 10_000;
  const watches = new WatchLimiter(opts.maxWatches ?? 1000);
  // /metrics (see filters/metrics.ts): open watches are read from the limiter at each scrape; storage calls are timed.
  const metrics = new ApiServerMetrics(() => watches.size, log);
  const encryption = opts.encryption;
  const { registry, stores, admission } = newRegistry(metrics.instrumentStorage(opts.storage), {
    clock,
    log,
    bookmarkIntervalMs,
    serviceRanges,
    ...(encryption ? { transformerFor: (info) => encryption.chainFor(info.group, info.resource) } : {}),
  });
  if (encryption) log.info('encryption at rest', { resources: encryption.resources });
  const authz = serverAuthorization(opts.authorizationModes ?? ['Node', 'RBAC'], registry, stores, log);
  const authorizer = opts.authorizer ?? authz.authorizer;
  // Validating admission after the mutating plugins, in kube's order: NodeRestriction (and RBAC's escalation checks), PodSecurity.
  admission.push(...authz.admission, podSecurity(await podSecurityConfig(opts), stores));
  const services = serviceResolver(registry);
  const extensions = apiExtensions(registry, clock, log, services);
  const frontProxy = await ensureFrontProxyPki(opts.dataDir);
  const apiServices = registry.byResource('apiregistration.k8s.io', 'v1', 'apiservices');
  if (!apiServices) throw new Error('apiservices missing from the resource table');
  const aggregator = new Aggregator(apiServices, services, frontProxy, clock, log.child({ component: 'aggregator' }), opts.apiServiceCheckIntervalMs);
  const { tokens, authn } = await serverAuthentication(opts, stores, clock, log);
  const audit = opts.audit ?? (await auditLogOf(opts, log));
  const publisher = new NamespaceContentPublisher(stores, pki.ca.certPem, log);
  const nodeProxy = nodeProxyDeps(opts, stores, pki);
  const ctx: HandlerContext = {
    nodeProxy, registry, clock, log, watches,
    serviceAccountToken: (req, res, ri) => handleTokenRequest(req, res, ri, tokens),
    minWatchTimeoutSec: opts.minRequestTimeoutSec ?? 1800,
    watchMaxBufferedBytes: opts.watchMaxBufferedBytes ?? 16 * 1024 * 1024,
  };
  // Watches over WebSocket: one JSON WatchEvent per message; what a client sends is not read (64 KiB at most).
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  let serverAddress = '';
  const router: Handler = routes({
    resource: resourceHandler(ctx),
    upgrade: upgradeHandler(ctx, wss),
    metrics,
    nodeProxy,
    metricsApi: metricsApiDeps(stores, nodeProxy, clock, log),
    reviews: { reviewToken: (token, audiences) => authn.reviewToken(token, audiences), authorizer, rules: rulesOf(authorizer) },
    serverAddress: () => serverAddress,
    openapi: extensions.openapi,
    aggregator: { handles: (url) => aggregator.handles(url), proxy: (req, res) => aggregator.proxy(req, res), discovery: () => aggregator.discovery() },
  });
  const deadlines = requestDeadlines(opts.requestTimeoutMs ?? 60_000);
  const chain = handlerChain(opts, { log, metrics, authn, audit, clock, authorizer, deadlines }, router);
  const server = httpsServer(pki, chain, log);
  const reloader = servingCertReloader(server, opts, pki, log);
  await reloader.start();
  const port = await listen(server, opts.securePort, opts.bindAddress).catch((err: unknown) => {
    reloader.stop();
    throw err;
  });
  serverAddress = clientAddress(opts.bindAddress, port);
  const url = `https://${serverAddress}`;
  const local = opts.localSocket ? await startLocal(opts.dataDir, chain, log) : undefined;

  // Post-start hooks: the system namespaces with their service account and CA, the built-in priority classes, the
  // bootstrap RBAC policy, the kubernetes Service with this server's endpoint; then the authorizers' caches are synced
  // before anyone is told the server is up.
  publisher.start();
  const kubernetesService =
    opts.kubernetesService === false ? undefined : new KubernetesServiceReconciler({ stores, advertiseAddress, securePort: port, serviceCidr: serviceRanges.serviceCidr, log });
  // What the post-start hooks started, stopped after a failed start and by close(); the lease and endpoint go first,
  // while storage is still there.
  const stopHooks = async (): Promise<void> => {
    await kubernetesService?.stop().catch((err: unknown) => log.warn('kubernetes service endpoint not withdrawn', { error: String(err) }));
    reloader.stop();
    publisher.stop();
    extensions.stop();
    aggregator.stop();
    authz.close();
  };
  try {
    await bootstrapNamespaces(stores.namespaces, log);
    await publisher.syncNow(SYSTEM_NAMESPACES);
    await bootstrapPriorityClasses(stores.priorityClasses, log);
    await ensureClusterInfo(stores.configMaps, `https://${clientAddress(advertiseAddress, port)}`, pki.ca.certPem, log);
    await extensions.start();
    await publishAuthenticationConfigMap(stores.configMaps, pki.ca.certPem, frontProxy);
    await aggregator.start(localGroupVersions([...METRICS_RESOURCES, ...REVIEWS]));
    await kubernetesService?.start();
    await authz.start(log);
  } catch (err) {
    await stopHooks();
    server.close();
    if (local) await closeServer(local.server);
    throw err;
  }

  const kubeconfigs = await writeKubeconfigs(opts.dataDir, url, pki);
  log.info('api server listening', { url, kubeconfig: kubeconfigs.admin });

  return {
    port,
    url,
    caCertPem: pki.ca.certPem,
    adminKubeconfigPath: kubeconfigs.admin,
    superAdminKubeconfigPath: kubeconfigs.superAdmin,
    schedulerKubeconfigPath: kubeconfigs.scheduler,
    controllerManagerKubeconfigPath: kubeconfigs.controllerManager,
    ...(local ? { local: { socketPath: local.socketPath, token: (user: UserInfo) => authn.localToken(user) } } : {}),
    addMetricsSource: (source) => metrics.addSource(source),
    async close() {
      await stopHooks();
      deadlines.close();
      watches.stopAll();
      registry.close();
      await Promise.all([closeServer(server), ...(local ? [closeServer(local.server)] : [])]);
      if (audit instanceof AuditLog) audit.close();
    },
  };
}

/**
 * The local socket's server (localServer), or undefined when it cannot listen (a data dir path too long for a socket,
 * another server on it): said, and the hosted components reach the API over loopback TLS as before.
 */
async function startLocal(dataDir: string, chain: Handler, log: Logger): Promise<{ server: ReturnType<typeof localServer>; socketPath: string } | undefined> {
  const dir = join(dataDir, 'local');
  const socketPath = join(dir, 'apiserver.sock');
  const server = localServer(chain, log);
  try {
    await listenLocal(server, socketPath, dir);
  } catch (err) {
    log.warn('local socket not served; hosted components use loopback TLS', { path: socketPath, error: String(err instanceof Error ? err.message : err) });
    return undefined;
  }
  return { server, socketPath };
}

/** The handler chain, built once and used by every request and upgrade (kube's DefaultBuildHandlerChain), outermost first. */
function handlerChain(
  opts: ApiServerOptions,
  d: { log: Logger; metrics: ApiServerMetrics; authn: Authenticator; audit: AuditSink | undefined; clock: Clock; authorizer: Authorizer; deadlines: ReturnType<typeof requestDeadlines> },
  router: Handler,
): Handler {
  return buildHandlerChain(
    [
      withRecovery(d.log),
      d.metrics.filter,
      withRequestInfo,
      withAuthentication(d.authn, d.log),
      withAudit(d.audit, () => d.clock.now()),
      withImpersonation(d.authorizer, d.log),
      withMaxInFlight(new InFlightLimiter(opts.maxRequestsInflight ?? 400, opts.maxMutatingRequestsInflight ?? 200)),
      withAuthorization(d.authorizer, d.log),
      withDeadline(d.deadlines),
      withRequestLog(d.log),
    ],
    router,
  );
}

/** Who makes a request: the token file, service-account tokens (and TokenRequest's issuer), bootstrap tokens, certificates. */
async function serverAuthentication(opts: ApiServerOptions, stores: CoreStores, clock: Clock, log: Logger): Promise<{ tokens: ServiceAccountTokenDeps; authn: Authenticator }> {
  const tokens: ServiceAccountTokenDeps = {
    issuer: new TokenIssuer(await ensureServiceAccountKey(opts.dataDir), clock),
    getServiceAccount: (ns, name) => stores.serviceAccounts.get(ns, name),
    getPod: (ns, name) => stores.pods.get(ns, name),
    lookupServiceAccount: (ns, name) => stores.serviceAccounts.lookup(ns, name),
    lookupPod: (ns, name) => stores.pods.lookup(ns, name),
    admit: (attrs) => stores.serviceAccounts.admit(attrs),
    clock,
  };
  const tokenFile = await loadTokenFile(await ensureTokenFile(opts.dataDir, opts.tokenFile, log));
  const bootstrapTokens = bootstrapTokenAuthenticator({
    getSecret: (ns, name) => stores.secrets.lookup(ns, name),
    now: () => clock.now().getTime(),
    apiAudiences: tokens.issuer.apiAudiences,
    log,
  });
  const authn = new Authenticator(tokenFile, [serviceAccountAuthenticator(tokens, log), bootstrapTokens], tokens.issuer.apiAudiences, [CLUSTER_INFO_PATH]);
  return { tokens, authn };
}

/**
 * The serving certificate, re-read while the server runs: ensurePki renews a leaf a week before it expires and reads
 * what is on disk, so a renewed or replaced certificate is served from the next check on.
 */
function servingCertReloader(server: ReturnType<typeof httpsServer>, opts: ApiServerOptions, pki: ClusterPki, log: Logger): CertificateReloader {
  return new CertificateReloader(server, {
    load: async () => {
      const { serving } = await ensurePki(opts.dataDir, [opts.bindAddress]);
      return { cert: serving.certPem, key: serving.keyPem };
    },
    context: { ca: pki.ca.certPem },
    ...(opts.servingCertCheckIntervalMs ? { intervalMs: opts.servingCertCheckIntervalMs } : {}),
    log,
  });
}

/** How the API server reaches the agents: stores for pods and nodes, its kubelet client certificate, the agents' CA. */
function nodeProxyDeps(opts: ApiServerOptions, stores: CoreStores, pki: ClusterPki): NodeProxyDeps {
  return {
    getPod: async (ns, name) => (await stores.pods.get(ns, name)) as unknown as ProxyPod,
    getNode: async (name) => (await stores.nodes.get('', name)) as unknown as ProxyNode,
    clientCert: { cert: pki.kubeletClient.certPem, key: pki.kubeletClient.keyPem },
    ...(opts.kubeletInsecureSkipTlsVerify ? {} : { agentCA: opts.kubeletCertificateAuthority ?? pki.ca.certPem }),
    // Loopback agents only for an API server that is itself on loopback, or ketch up's (all its nodes are this machine).
    addressPolicy: { allowLoopback: opts.loopbackAgents === true || isLoopbackAddress(opts.bindAddress) },
  };
}

/**
 * The kubeconfigs written beside the PKI, once the bootstrap policy (the admin's binding) is in the authorizer: the
 * admin's (kubeadm:cluster-admins), the break-glass super-admin's (system:masters), the scheduler's and the controller
 * manager's.
 */
async function writeKubeconfigs(dataDir: string, url: string, pki: ClusterPki): Promise<{ admin: string; superAdmin: string; scheduler: string; controllerManager: string }> {
  const users = {
    admin: ['admin.kubeconfig', 'admin', pki.admin],
    superAdmin: ['super-admin.kubeconfig', SUPER_ADMIN_USER, pki.superAdmin],
    scheduler: ['scheduler.kubeconfig', 'system:kube-scheduler', pki.scheduler],
    controllerManager: ['controller-manager.kubeconfig', 'system:kube-controller-manager', pki.controllerManager],
  } as const;
  const out = { admin: '', superAdmin: '', scheduler: '', controllerManager: '' };
  for (const key of Object.keys(users) as (keyof typeof users)[]) {
    const [file, user, client] = users[key];
    out[key] = join(dataDir, file);
    await writeFile(out[key], kubeconfigYaml({ server: url, caPem: pki.ca.certPem, user, client }), { mode: 0o600 });
  }
  return out;
}

/** --audit-policy-file with --audit-log-path: the audit log; without a policy nothing is recorded (as kube-apiserver). */
async function auditLogOf(opts: ApiServerOptions, log: Logger): Promise<AuditSink | undefined> {
  if (!opts.auditPolicyFile) {
    if (opts.auditLog) log.warn('audit log path given without --audit-policy-file: nothing is audited');
    return undefined;
  }
  const policy = await loadAuditPolicy(opts.auditPolicyFile);
  if (!opts.auditLog) return undefined;
  return new AuditLog(policy, opts.auditLog, log.child({ component: 'audit' }));
}

async function podSecurityConfig(opts: ApiServerOptions): Promise<PodSecurityConfiguration> {
  if (opts.podSecurity) return opts.podSecurity;
  return opts.admissionControlConfigFile ? loadPodSecurityConfiguration(opts.admissionControlConfigFile) : DEFAULT_POD_SECURITY;
}

/** The PodSecurity plugin, reading namespaces and pods from the stores' caches. */
function podSecurity(config: PodSecurityConfiguration, stores: CoreStores): Admission {
  return new PodSecurityAdmission(config, {
    getNamespace: (name) => stores.namespaces.lookup('', name),
    listPods: async (ns) => (await stores.pods.lookupAll()).filter((p) => p.metadata.namespace === ns),
  }).admission();
}

/** kube-apiserver's default: the bind address when it names one, else the host's first non-loopback IPv4. */
export function defaultAdvertiseAddress(bindAddress: string): string {
  return bindAddress && bindAddress !== '0.0.0.0' && bindAddress !== '::' ? bindAddress : primaryIPv4();
}

/** metrics.k8s.io (kubectl top) reads nodes and pods from the stores and the usage from the agents. */
function metricsApiDeps(stores: CoreStores, nodeProxy: NodeProxyDeps, clock: Clock, log: Logger): MetricsDeps {
  return {
    listNodes: async (labelSelector) => (await stores.nodes.list('', labelSelector ? { labelSelector } : {})).items as never,
    listPods: async (ns, labelSelector, fieldSelector) =>
      (await stores.pods.list(ns, { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) })).items as never,
    summary: fetchSummary(nodeProxy),
    now: () => clock.now(),
    log,
  };
}

export type { UserInfo } from './filters/authentication.js';
export type { Attributes, AuthorizationResult, Authorizer, RuleResolver } from './filters/authorization.js';
export type { AuditDecision, AuditEvent, AuditSink } from './filters/audit.js';
export type { AuthorizationMode } from './authorization/union.js';
export { parseAuthorizationModes } from './authorization/union.js';
