// The seam between the StatefulSet controller and PersistentVolumeClaims. With claims served (a kind in
// api/resources.ts) they are read from a shared informer and written through the API; without, a set whose
// volumeClaimTemplates need a claim cannot start that pod, and says why in a FailedCreate event.
import { findByKind } from '../../api/resources.js';
import type { Informer, InformerFactory } from '../../client/informer.js';
import type { ResourceClient, ResourceRef, RestClient } from '../../client/rest.js';
import { patchOwnerRefs } from '../framework/owners.js';
import type { OwnerReference, PersistentVolumeClaim } from '../framework/types.js';

export interface ClaimStore {
  /** Informers to wait for before the first sync. */
  readonly informers: ReadonlyArray<Pick<Informer<PersistentVolumeClaim>, 'waitForSync'>>;
  /** The claim as the cache has it, or undefined. */
  get(namespace: string, name: string): PersistentVolumeClaim | undefined;
  create(claim: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  setOwnerRefs(claim: PersistentVolumeClaim, refs: OwnerReference[]): Promise<void>;
}

/** Claims from an informer, written through the API. */
export class ApiClaimStore implements ClaimStore {
  readonly informers;
  private readonly informer: Informer<PersistentVolumeClaim>;
  private readonly client: ResourceClient<PersistentVolumeClaim>;

  constructor(informers: InformerFactory, rest: RestClient, ref: ResourceRef) {
    this.informer = informers.for<PersistentVolumeClaim>(ref);
    this.informers = [this.informer];
    this.client = rest.resource<PersistentVolumeClaim>(ref);
  }

  get(namespace: string, name: string): PersistentVolumeClaim | undefined {
    return this.informer.indexer.get(`${namespace}/${name}`);
  }

  create(claim: PersistentVolumeClaim): Promise<PersistentVolumeClaim> {
    return this.client.create(claim.metadata?.namespace, claim);
  }

  async setOwnerRefs(claim: PersistentVolumeClaim, refs: OwnerReference[]): Promise<void> {
    await patchOwnerRefs(this.client, claim, refs);
  }
}

/** When the API server serves no PersistentVolumeClaims: nothing exists, and nothing can be made. */
export class UnservedClaimStore implements ClaimStore {
  readonly informers = [];
  get(): undefined {
    return undefined;
  }
  create(): Promise<PersistentVolumeClaim> {
    return Promise.reject(new Error('PersistentVolumeClaims are not served by this cluster'));
  }
  setOwnerRefs(): Promise<void> {
    return Promise.reject(new Error('PersistentVolumeClaims are not served by this cluster'));
  }
}

/** The claim store for this build: the API one when the resource table serves v1 PersistentVolumeClaims. */
export function claimStoreFor(informers: InformerFactory, rest: RestClient): ClaimStore {
  const info = findByKind('v1', 'PersistentVolumeClaim');
  return info ? new ApiClaimStore(informers, rest, info) : new UnservedClaimStore();
}
