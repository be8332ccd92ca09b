// Authorization as the server runs it (--authorization-mode): the RBAC cache and the node graph fed from the registry's
// watch caches (one storage watch per type, shared; never a list per request), the union chain in kube's order, the
// admission checks that need them (RBAC escalation prevention, NodeRestriction), and the bootstrap policy reconciled as
// a post-start hook. See authorization/README.md for each piece.
import { findByKind } from '../../api/resources.js';
import { RBAC_GROUP } from '../../api/schemas/rbac.js';
import type { KubeObject } from '../../api/schemas/meta.js';
import type { Logger } from '../../lib/logger.js';
import { feed, type Feed } from '../authorization/feed.js';
import { NodeAuthorizer } from '../authorization/node/authorizer.js';
import { NodeGraph } from '../authorization/node/graph.js';
import { nodeRestriction } from '../authorization/node/restriction.js';
import { RBAC_KINDS, RbacAuthorizer, type RbacKind } from '../authorization/rbac/authorizer.js';
import { rbacEscalationCheck } from '../authorization/rbac/escalation.js';
import { reconcileBootstrapPolicy, type RbacClient } from '../authorization/rbac/reconcile.js';
import { storeRbacClient } from '../authorization/rbac/store-client.js';
import type { AdmissionCheck, Authorizer, RuleResolver } from '../authorization/types.js';
import { allowAll, alwaysDeny, UnionAuthorizer, type AuthorizationMode } from '../authorization/union.js';
import { alwaysAllow } from '../filters/authorization.js';
import type { Registry, Store } from '../registry/index.js';
import type { Admission, AdmissionAttributes } from '../registry/rest.js';
import type { CoreStores } from './registry.js';

export interface ServerAuthorization {
  authorizer: Authorizer & RuleResolver;
  /** Admission checks the modes bring (escalation prevention with RBAC, NodeRestriction with Node). */
  admission: Admission[];
  /** Post-start: the bootstrap policy reconciled (with RBAC), then every cache synced. */
  start(log: Logger): Promise<void>;
  close(): void;
}

const rbacStore = (registry: Registry, kind: RbacKind): Store => registry.store(findByKind(`${RBAC_GROUP}/v1`, kind)!);
const watchAll = (s: Store) => () => s.watch('', { sendInitialEvents: true, allowWatchBookmarks: true });

/** A check of authorization/ (AdmissionRequest) as a registry admission plugin. */
function asAdmission(check: AdmissionCheck): Admission {
  return (a: AdmissionAttributes) =>
    check({
      user: a.scope.user,
      operation: a.operation,
      group: a.info.group,
      resource: a.info.resource,
      subresource: a.subresource,
      namespace: a.namespace,
      name: a.name,
      ...(a.obj ? { obj: a.obj as KubeObject } : {}),
      ...(a.old ? { old: a.old as KubeObject } : {}),
    });
}

/** The client, noting per kind the newest resourceVersion it wrote. */
function recordingWrites(client: RbacClient, written: Map<RbacKind, string>): RbacClient {
  const note = (kind: RbacKind, obj: KubeObject): KubeObject => {
    const rv = obj.metadata.resourceVersion ?? '';
    if (Number(rv) > Number(written.get(kind) ?? 0)) written.set(kind, rv);
    return obj;
  };
  return { ...client, create: async (kind, obj) => note(kind, await client.create(kind, obj)), update: async (kind, obj) => note(kind, await client.update(kind, obj)) };
}

export function serverAuthorization(modes: readonly AuthorizationMode[], registry: Registry, stores: CoreStores, log: Logger): ServerAuthorization {
  const feeds: Feed[] = [];
  const authorizers: Authorizer[] = [];
  const resolvers: RuleResolver[] = [];
  const admission: Admission[] = [];
  let rbac: RbacAuthorizer | undefined;
  const rbacFeeds = new Map<RbacKind, Feed>();
  for (const mode of modes) {
    switch (mode) {
      case 'AlwaysAllow':
        authorizers.push(allowAll);
        resolvers.push(allowAll);
        break;
      case 'AlwaysDeny':
        authorizers.push(alwaysDeny);
        resolvers.push(alwaysDeny);
        break;
      case 'Node': {
        const graph = new NodeGraph();
        feeds.push(feed('pods', watchAll(stores.pods), graph.podSink(), log));
        // A bound PersistentVolume (and the Secrets it names) is readable by the nodes of its claim's pods.
        const pvs = registry.byResource('', 'v1', 'persistentvolumes');
        if (pvs) feeds.push(feed('persistentvolumes', watchAll(pvs), graph.persistentVolumeSink(), log));
        const node = new NodeAuthorizer(graph);
        authorizers.push(node);
        resolvers.push(node);
        // NodeRestriction comes with the Node authorizer: it limits the writes that authorizer lets a node make.
        admission.push(asAdmission(nodeRestriction({ getPod: (ns, name) => stores.pods.lookup(ns, name) as Promise<KubeObject | undefined>, getNode: (name) => stores.nodes.lookup('', name) as Promise<KubeObject | undefined> })));
        break;
      }
      case 'RBAC': {
        const cache = (rbac = new RbacAuthorizer());
        for (const k of RBAC_KINDS) {
          const f = feed(k, watchAll(rbacStore(registry, k)), cache.sink(k), log);
          rbacFeeds.set(k, f);
          feeds.push(f);
        }
        authorizers.push(cache);
        resolvers.push(cache);
        break;
      }
    }
  }
  const only = modes.length === 1 ? modes[0] : undefined;
  // AlwaysAllow alone needs no chain at all (the filter skips it).
  const authorizer: Authorizer & RuleResolver = only === 'AlwaysAllow' ? alwaysAllow : new UnionAuthorizer(authorizers, resolvers);
  if (rbac) {
    const escalation = rbacEscalationCheck({ rbac, authorize: (a) => authorizer.authorize(a) });
    admission.push(async (a) => {
      if (a.info.group !== RBAC_GROUP || !a.obj || a.operation === 'delete') return;
      await escalation(a.scope.user, a.operation, a.obj as KubeObject, a.old as KubeObject | undefined);
    });
  }
  return {
    authorizer,
    admission,
    async start(hookLog) {
      // ensure-rbac: written as the server's own system:masters identity, after the system namespaces exist.
      const written = new Map<RbacKind, string>();
      if (rbac) await reconcileBootstrapPolicy(recordingWrites(storeRbacClient((k) => rbacStore(registry, k)), written), hookLog);
      await Promise.all(feeds.map((f) => f.synced));
      // What it wrote is in the RBAC cache before the server is up: the admin kubeconfig works through its binding.
      await Promise.all([...written].map(([kind, rv]) => rbacFeeds.get(kind)?.reached(rv)));
    },
    close() {
      for (const f of feeds) f.close();
    },
  };
}
