// ClusterRole aggregation (pkg/controller/clusterroleaggregation): a ClusterRole with an aggregationRule gets, as its
// rules, the rules of every other ClusterRole its selectors match (by name order, each rule once). Any ClusterRole
// change re-queues every aggregated role: there are few ClusterRoles, and who selects whom is not known in advance.
import { deepEqual } from '../../api/field.js';
import { matchesLabelSelector } from '../../api/selectors.js';
import type { ClusterRole, PolicyRule } from '../../api/schemas/rbac.js';
import type { Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { refFor } from '../framework/types.js';

export const CLUSTERROLES = refFor('rbac.authorization.k8s.io/v1', 'ClusterRole');

/** The rules an aggregated role should hold, given all ClusterRoles; undefined for a role without aggregationRule. */
export function aggregatedRules(target: ClusterRole, all: readonly ClusterRole[]): PolicyRule[] | undefined {
  const selectors = target.aggregationRule?.clusterRoleSelectors;
  if (!target.aggregationRule) return undefined;
  const rules: PolicyRule[] = [];
  const byName = [...all].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  for (const selector of selectors ?? []) {
    for (const role of byName) {
      if (role.metadata.name === target.metadata.name || !matchesLabelSelector(selector, role.metadata.labels)) continue;
      for (const r of role.rules ?? []) if (!rules.some((have) => deepEqual(have, r))) rules.push(r);
    }
  }
  return rules;
}

export class ClusterRoleAggregationController extends Controller {
  private readonly roles: Informer<ClusterRole>;
  private readonly client: ResourceClient<ClusterRole>;
  protected readonly informers;

  constructor(ctx: ControllerContext) {
    super({ name: 'clusterrole-aggregation-controller', clock: ctx.clock, workers: 1 });
    this.roles = ctx.informers.for<ClusterRole>(CLUSTERROLES);
    this.informers = [this.roles];
    this.client = ctx.rest.resource<ClusterRole>(CLUSTERROLES);
    const all = (): void => this.enqueueAggregated();
    this.roles.addEventHandler({ onAdd: all, onUpdate: all, onDelete: all });
  }

  private enqueueAggregated(): void {
    for (const r of this.roles.indexer.list()) if (r.aggregationRule) this.enqueue(r);
  }

  protected async sync(name: string, { log }: SyncContext): Promise<void> {
    const role = this.roles.indexer.get(name);
    if (!role) return;
    const rules = aggregatedRules(role, this.roles.indexer.list());
    if (rules === undefined || deepEqual(rules, role.rules ?? [])) return;
    // The resourceVersion makes a concurrent change fail this write (and the change re-queues the role).
    await this.client.patch(undefined, name, { metadata: { resourceVersion: role.metadata.resourceVersion }, rules }, 'merge');
    log.info('aggregated cluster role rules', { clusterRole: name, rules: rules.length });
  }
}
