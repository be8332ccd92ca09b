// Writes of a StatefulSet's pods and claims (stateful_pod_control.go), each with the event kube records:
// "create Pod web-0 in StatefulSet web successful", "create Claim data-web-0 Pod web-0 in StatefulSet web success".
import { isAlreadyExists, isConflict, isNotFound } from '../../api/errors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import type { Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { STATEFULSETS, type PersistentVolumeClaim, type Pod, type StatefulSet } from '../framework/types.js';
import type { ClaimStore } from './claims.js';
import * as u from './utils.js';

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const title = (verb: string): string => verb[0]!.toUpperCase() + verb.slice(1);

export class StatefulPodControl {
  constructor(
    private readonly pods: ResourceClient<Pod>,
    private readonly podInformer: Informer<Pod>,
    readonly claims: ClaimStore,
    private readonly recorder: EventRecorder,
  ) {}

  private podEvent(verb: string, set: StatefulSet, pod: Pod, err?: unknown): void {
    const name = `Pod ${pod.metadata.name ?? ''} in StatefulSet ${set.metadata.name ?? ''}`;
    if (err === undefined) void this.recorder.event(objectReference(set, STATEFULSETS), 'Normal', `Successful${title(verb)}`, `${verb} ${name} successful`);
    else void this.recorder.event(objectReference(set, STATEFULSETS), 'Warning', `Failed${title(verb)}`, `${verb} ${name} failed error: ${message(err)}`);
  }

  private claimEvent(verb: string, set: StatefulSet, pod: Pod, claim: PersistentVolumeClaim, err?: unknown): void {
    const c = claim.metadata?.name ?? '';
    const p = pod.metadata.name ?? '';
    const s = set.metadata.name ?? '';
    if (err === undefined) void this.recorder.event(objectReference(set, STATEFULSETS), 'Normal', `Successful${title(verb)}`, `${verb} Claim ${c} Pod ${p} in StatefulSet ${s} success`);
    else void this.recorder.event(objectReference(set, STATEFULSETS), 'Warning', `Failed${title(verb)}`, `${verb} Claim ${c} for Pod ${p} in StatefulSet ${s} failed error: ${message(err)}`);
  }

  /** createPersistentVolumeClaims: the pod's claims that do not exist yet; a claim being deleted is an error. */
  async createMissingClaims(set: StatefulSet, pod: Pod): Promise<void> {
    const errors: string[] = [];
    for (const claim of u.claimsFor(set, u.ordinalOf(pod)).values()) {
      const name = claim.metadata?.name ?? '';
      const existing = this.claims.get(claim.metadata?.namespace ?? '', name);
      if (existing) {
        if (existing.metadata?.deletionTimestamp) errors.push(`pvc ${name} is being deleted`);
        continue;
      }
      try {
        await this.claims.create(claim);
        this.claimEvent('create', set, pod, claim);
      } catch (err) {
        errors.push(`failed to create PVC ${name}: ${message(err)}`);
        if (!isAlreadyExists(err)) this.claimEvent('create', set, pod, claim, err);
      }
    }
    if (errors.length) throw new Error(errors.join('; '));
  }

  /** CreateStatefulPod: claims first, then the pod; AlreadyExists is an error without an event (the cache is behind). */
  async create(set: StatefulSet, pod: Pod): Promise<void> {
    try {
      await this.createMissingClaims(set, pod);
    } catch (err) {
      this.podEvent('create', set, pod, err);
      throw err;
    }
    let created: Pod;
    try {
      created = await this.pods.create(pod.metadata.namespace, pod);
    } catch (err) {
      if (!isAlreadyExists(err)) this.podEvent('create', set, pod, err);
      throw err;
    }
    this.podEvent('create', set, pod);
    await this.updateClaimsForRetention(set, created);
  }

  async delete(set: StatefulSet, pod: Pod): Promise<void> {
    try {
      await this.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
      this.podEvent('delete', set, pod);
    } catch (err) {
      if (!isNotFound(err)) this.podEvent('delete', set, pod, err);
      throw err;
    }
  }

  /** UpdateStatefulPod: restores identity, storage and claim ownership; on a conflict retries with the cached pod. */
  async update(set: StatefulSet, pod: Pod): Promise<void> {
    let current = structuredClone(pod);
    for (let attempt = 0; ; attempt++) {
      let changed = false;
      if (!u.identityMatches(set, current)) {
        u.updateIdentity(set, current);
        changed = true;
      }
      try {
        if (!u.storageMatches(set, current)) {
          u.updateStorage(set, current);
          changed = true;
          await this.createMissingClaims(set, current);
        }
        if (!this.claimsMatchRetention(set, current)) await this.updateClaimsForRetention(set, current);
      } catch (err) {
        this.podEvent('update', set, current, err);
        throw err;
      }
      if (!changed) return;
      try {
        await this.pods.update({ ...(await this.restored(set, pod)), apiVersion: 'v1', kind: 'Pod' });
        this.podEvent('update', set, current);
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 4) {
          this.podEvent('update', set, current, err);
          throw err;
        }
        const cached = this.podInformer.indexer.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
        if (!cached) throw err;
        current = structuredClone(cached);
      }
    }
  }

  /**
   * The stored pod with its identity and storage restored: the write replaces the whole pod, and the cache holds pods
   * cut down to what controllers read (client/informer-transform.ts), so the write starts from the stored one.
   */
  private async restored(set: StatefulSet, pod: Pod): Promise<Pod> {
    const stored = await this.pods.get(pod.metadata.namespace, pod.metadata.name ?? '');
    if (!u.identityMatches(set, stored)) u.updateIdentity(set, stored);
    if (!u.storageMatches(set, stored)) u.updateStorage(set, stored);
    return stored;
  }

  /** ClaimsMatchRetentionPolicy: every existing claim of the pod has the owner references the policy wants. */
  claimsMatchRetention(set: StatefulSet, pod: Pod): boolean {
    for (const claim of u.claimsFor(set, u.ordinalOf(pod)).values()) {
      const existing = this.claims.get(claim.metadata?.namespace ?? '', claim.metadata?.name ?? '');
      if (existing && u.retentionOwnerRefs(existing, set, pod)) return false;
    }
    return true;
  }

  /** UpdatePodClaimForRetentionPolicy: sets the owner references of the pod's existing claims. */
  async updateClaimsForRetention(set: StatefulSet, pod: Pod): Promise<void> {
    for (const claim of u.claimsFor(set, u.ordinalOf(pod)).values()) {
      const existing = this.claims.get(claim.metadata?.namespace ?? '', claim.metadata?.name ?? '');
      const refs = existing && u.retentionOwnerRefs(existing, set, pod);
      if (existing && refs) await this.claims.setOwnerRefs(existing, refs);
    }
  }

  /**
   * PodClaimIsStale: with whenScaled Delete, a claim still owned by an earlier pod of the same name is about to be
   * collected; the new pod waits for it to go rather than start on it.
   */
  claimIsStale(set: StatefulSet, pod: Pod): boolean {
    if (set.spec.persistentVolumeClaimRetentionPolicy?.whenScaled !== 'Delete') return false;
    for (const claim of u.claimsFor(set, u.ordinalOf(pod)).values()) {
      const existing = this.claims.get(claim.metadata?.namespace ?? '', claim.metadata?.name ?? '');
      if (existing?.metadata?.ownerReferences?.some((r) => r.kind === 'Pod' && r.name === pod.metadata.name && r.uid !== pod.metadata.uid)) return true;
    }
    return false;
  }
}
