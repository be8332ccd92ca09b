// Generic ephemeral volumes (pkg/controller/volume/ephemeral): for each `ephemeral` volume of a pod, a claim named
// `<pod>-<volume>` from the volume's template, controlled by the pod, so that it is provisioned like any claim and
// garbage-collected with the pod. A claim of that name that the pod does not own is never taken over: the pod cannot
// start (the scheduler says so), and an event tells why.
import { isAlreadyExists, type PersistentVolumeClaim, type Pod } from '../../../api/index.js';
import { objectReference, ownerReference, PERSISTENTVOLUMECLAIMS, PODS, type EventRecorder, type Informer, type ResourceClient } from '../../../client/index.js';
import { Controller, TerminalError, type ControllerContext, type SyncContext } from '../../framework/controller.js';

const hasEphemeral = (pod: Pod): boolean => (pod.spec.volumes ?? []).some((v) => v.ephemeral);

export class EphemeralVolumeController extends Controller {
  protected readonly informers;
  private readonly pods: Informer<Pod>;
  private readonly claims: Informer<PersistentVolumeClaim>;
  private readonly client: ResourceClient<PersistentVolumeClaim>;
  private readonly recorder: EventRecorder;

  constructor(ctx: ControllerContext) {
    super({ name: 'ephemeral-volume', clock: ctx.clock, workers: 1 });
    this.pods = ctx.informers.for<Pod>(PODS);
    this.claims = ctx.informers.for<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.informers = [this.pods, this.claims];
    this.client = ctx.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.recorder = ctx.recorder('ephemeral_volume');
    const pod = (p: Pod): void => {
      if (hasEphemeral(p) && !p.metadata.deletionTimestamp) this.enqueue(p);
    };
    this.pods.addEventHandler({ onAdd: pod, onUpdate: (_o, n) => pod(n) });
    // A claim deleted under a living pod is made again.
    this.claims.addEventHandler({
      onDelete: (pvc) => {
        const owner = pvc.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'Pod');
        if (owner) this.queue.add(`${pvc.metadata?.namespace ?? ''}/${owner.name}`);
      },
    });
  }

  protected async sync(key: string, ctx: SyncContext): Promise<void> {
    const pod = this.pods.indexer.get(key);
    if (!pod || pod.metadata.deletionTimestamp) return;
    const ns = pod.metadata.namespace ?? '';
    for (const v of pod.spec.volumes ?? []) {
      const template = v.ephemeral?.volumeClaimTemplate;
      if (!template) continue;
      const name = `${pod.metadata.name ?? ''}-${v.name}`;
      const existing = this.claims.indexer.get(`${ns}/${name}`);
      if (existing) {
        if (existing.metadata?.ownerReferences?.some((r) => r.controller && r.uid === pod.metadata.uid)) continue;
        const msg = `ephemeral volume ${name}: PVC ${ns}/${name} (uid: ${existing.metadata?.uid ?? ''}) was not created for the pod ${pod.metadata.name ?? ''}`;
        void this.recorder.event(objectReference(pod, PODS), 'Warning', 'FailedBinding', msg);
        throw new TerminalError(msg);
      }
      const claim: PersistentVolumeClaim = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name,
          namespace: ns,
          ...(template.metadata?.labels ? { labels: { ...template.metadata.labels } } : {}),
          ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
          ownerReferences: [ownerReference(pod, PODS, { controller: true })],
        },
        spec: structuredClone(template.spec),
      };
      try {
        await this.client.create(ns, claim);
        ctx.log.info('ephemeral claim created', { claim: name });
      } catch (err) {
        if (isAlreadyExists(err)) throw err; // the cache was behind: the retry checks whose claim it is
        void this.recorder.event(objectReference(pod, PODS), 'Warning', 'FailedBinding', `ephemeral volume ${name}: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
    }
  }
}
