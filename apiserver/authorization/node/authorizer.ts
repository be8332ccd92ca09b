// The Node authorizer (plugin/pkg/auth/authorizer/node/node_authorizer.go, with AuthorizeNodeWithSelectors as in 1.32):
// a node (user system:node:<name> in group system:nodes) reads only the secrets, configmaps, claims, volumes and pods
// related to it through the graph, creates tokens only for its pods' service accounts, reads only its own Node, lists
// pods only with spec.nodeName=<itself>, and uses its own Lease. Anything else it gets from the fixed node rules (kube's
// NodeRules(), the system:node role); what a node may *write* of its own objects is NodeRestriction admission's call.
import { ApiError } from '../../../api/errors.js';
import { parseFieldSelector } from '../../registry/selectors.js';
import { compileRules, compiledRulesAllow, type CompiledRule } from '../rbac/rules.js';
import { NODE_RULES } from '../rbac/bootstrap-policy.js';
import { ALLOW, NO_OPINION, noOpinion, type Attributes, type AuthorizationResult, type Authorizer, type RuleResolver, type RulesResult, type UserInfo } from '../types.js';
import type { NodeGraph, VertexType } from './graph.js';

export const NODES_GROUP = 'system:nodes';
export const NODE_USER_PREFIX = 'system:node:';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** nodeidentifier.NodeIdentity: the node's name, '' when a node user names none; undefined for non-nodes. */
export function nodeIdentity(user: UserInfo): string | undefined {
  if (!user.name.startsWith(NODE_USER_PREFIX) || !user.groups.includes(NODES_GROUP)) return undefined;
  return user.name.slice(NODE_USER_PREFIX.length);
}

/** Whether a list/watch's field selector pins `field` to `value` (an unparsable selector pins nothing). */
function selects(attrs: Attributes, field: string, value: string): boolean {
  if (!attrs.fieldSelector) return false;
  try {
    return parseFieldSelector(attrs.fieldSelector).some((r) => r.field === field && r.op === '=' && r.value === value);
  } catch (err) {
    if (err instanceof ApiError) return false; // a malformed selector: the handler answers 400 on its own
    throw err;
  }
}

export class NodeAuthorizer implements Authorizer, RuleResolver {
  private readonly rules: CompiledRule[];

  constructor(private readonly graph: NodeGraph) {
    this.rules = compileRules(NODE_RULES);
  }

  authorize(a: Attributes): AuthorizationResult {
    const node = nodeIdentity(a.user);
    if (node === undefined) return NO_OPINION;
    if (node === '') return noOpinion(`unknown node for user ${JSON.stringify(a.user.name)}`);
    if (a.resourceRequest) {
      const special = this.byResource(node, a);
      if (special) return special;
    }
    return compiledRulesAllow(a, this.rules) ? ALLOW : NO_OPINION;
  }

  /** The resources whose access is subdivided per node; undefined: the fixed rules decide. */
  private byResource(node: string, a: Attributes): AuthorizationResult | undefined {
    const gr = a.apiGroup === '' ? a.resource : `${a.resource}.${a.apiGroup}`;
    switch (gr) {
      case 'secrets':
        return this.readNamespaced(node, 'secret', a);
      case 'configmaps':
        return this.readNamespaced(node, 'configmap', a);
      case 'persistentvolumeclaims':
        return a.subresource === 'status' ? this.statusUpdate(node, 'pvc', a) : this.get(node, 'pvc', a);
      case 'persistentvolumes':
        return this.get(node, 'pv', a);
      case 'serviceaccounts':
        return this.createToken(node, a);
      case 'leases.coordination.k8s.io':
        return this.lease(node, a);
      case 'nodes':
        return this.node(node, a);
      case 'pods':
        return this.pod(node, a);
      default:
        return undefined;
    }
  }

  private related(node: string, type: VertexType, a: Attributes): AuthorizationResult {
    if (!a.name) return noOpinion('No Object name found');
    return this.graph.hasPath(node, type, a.namespace, a.name) ? ALLOW : noOpinion(`no relationship found between node '${node}' and this object`);
  }

  private readNamespaced(node: string, type: VertexType, a: Attributes): AuthorizationResult {
    if (a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch') return noOpinion('can only read resources of this type');
    if (a.subresource) return noOpinion('cannot read subresource');
    if (!a.namespace) return noOpinion('can only read namespaced object of this type');
    return this.related(node, type, a);
  }

  private get(node: string, type: VertexType, a: Attributes): AuthorizationResult {
    if (a.verb !== 'get') return noOpinion('can only get individual resources of this type');
    if (a.subresource) return noOpinion('cannot get subresource');
    return this.related(node, type, a);
  }

  private statusUpdate(node: string, type: VertexType, a: Attributes): AuthorizationResult {
    if (a.verb !== 'update' && a.verb !== 'patch') return noOpinion('can only get/update/patch this type');
    return this.related(node, type, a);
  }

  private createToken(node: string, a: Attributes): AuthorizationResult {
    if (a.verb !== 'create' || !a.name) return noOpinion('can only create tokens for individual service accounts');
    if (a.subresource !== 'token') return noOpinion('can only create token subresource of serviceaccount');
    return this.related(node, 'serviceaccount', a);
  }

  private lease(node: string, a: Attributes): AuthorizationResult {
    if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return noOpinion('can only get, create, update, patch, or delete a node lease');
    if (a.namespace !== NODE_LEASE_NAMESPACE) return noOpinion(`can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`);
    // A create names no object here: NodeRestriction checks the body's name.
    if (a.verb !== 'create' && a.name !== node) return noOpinion('can only access node lease with the same name as the requesting node');
    return ALLOW;
  }

  private node(node: string, a: Attributes): AuthorizationResult {
    if (a.subresource === '') {
      // create/update/patch: NodeRestriction limits a node to its own Node object.
      if (a.verb === 'create' || a.verb === 'update' || a.verb === 'patch') return ALLOW;
      if (a.verb === 'get' || a.verb === 'list' || a.verb === 'watch') {
        if (a.name === node) return ALLOW;
        return noOpinion(a.name === '' ? `node '${node}' cannot read all nodes, only its own Node object` : `node '${node}' cannot read '${a.name}', only its own Node object`);
      }
    } else if (a.subresource === 'status' && (a.verb === 'update' || a.verb === 'patch')) return ALLOW;
    return NO_OPINION;
  }

  private pod(node: string, a: Attributes): AuthorizationResult {
    switch (a.subresource) {
      case '':
        if (a.verb === 'get') return this.get(node, 'pod', a);
        if (a.verb === 'list' || a.verb === 'watch') {
          if (selects(a, 'spec.nodeName', node)) return ALLOW;
          if (a.name) return this.related(node, 'pod', a);
          return noOpinion('can only list/watch pods with spec.nodeName field selector');
        }
        // Mirror pods: NodeRestriction limits them to the node's own.
        if (a.verb === 'create' || a.verb === 'delete') return ALLOW;
        break;
      case 'status':
        if (a.verb === 'update' || a.verb === 'patch') return ALLOW;
        break;
      case 'eviction':
        if (a.verb === 'create') return ALLOW;
        break;
    }
    return NO_OPINION;
  }

  /** Nodes' permissions are not enumerable (they depend on the graph): kube answers incomplete with this error. */
  rulesFor(user: UserInfo): RulesResult {
    if (nodeIdentity(user) === undefined) return { resourceRules: [], nonResourceRules: [], incomplete: false, errors: [] };
    return { resourceRules: [], nonResourceRules: [], incomplete: true, errors: ['node authorizer does not support user rule resolution'] };
  }
}
