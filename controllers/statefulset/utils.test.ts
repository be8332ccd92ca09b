import assert from 'node:assert/strict';
import type { PersistentVolumeClaim, Pod, StatefulSet } from '../framework/types.js';
import { CONTROLLER_REVISION_HASH } from '../history/revisions.js';
import * as u from './utils.js';

function sts(spec: Partial<StatefulSet['spec']> = {}): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'ns', uid: 'set-uid' },
    spec: {
      replicas: 3,
      serviceName: 'web-svc',
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data', labels: { tier: 'db' } }, spec: { accessModes: ['ReadWriteOnce'] } }],
      ...spec,
    },
  };
}

function pod(name: string, o: { phase?: string; ready?: boolean; revision?: string; deleting?: boolean; uid?: string } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'ns',
      uid: o.uid ?? `${name}-uid`,
      labels: { app: 'web', ...(o.revision ? { [CONTROLLER_REVISION_HASH]: o.revision } : {}) },
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'nginx' }] },
    ...(o.phase ? { status: { phase: o.phase as 'Running', ...(o.ready ? { conditions: [{ type: 'Ready', status: 'True' as const, lastTransitionTime: '2026-01-01T00:00:00Z' }] } : {}) } } : {}),
  };
}

describe('statefulset utils', () => {
  it('parses ordinals from pod names (getParentNameAndOrdinal)', () => {
    assert.deepEqual(u.parentAndOrdinal('web-0'), { parent: 'web', ordinal: 0 });
    assert.deepEqual(u.parentAndOrdinal('my-db-12'), { parent: 'my-db', ordinal: 12 });
    assert.deepEqual(u.parentAndOrdinal('web'), { parent: '', ordinal: -1 });
    assert.deepEqual(u.parentAndOrdinal('web-x'), { parent: '', ordinal: -1 });
    assert.equal(u.parentAndOrdinal('web-99999999999').ordinal, -1, 'beyond int32');
    assert.equal(u.isMemberOf(sts(), pod('web-3')), true);
    assert.equal(u.isMemberOf(sts(), pod('webby-3')), false);
    assert.equal(u.isMemberOf(sts(), pod('web-a-3')), false);
  });

  it('keeps the ordinal range from ordinals.start', () => {
    const s = sts({ replicas: 2, ordinals: { start: 5 } });
    assert.equal(u.startOrdinal(s), 5);
    assert.equal(u.endOrdinal(s), 6);
    assert.deepEqual(['web-4', 'web-5', 'web-6', 'web-7'].map((n) => u.inOrdinalRange(pod(n), s)), [false, true, true, false]);
    assert.equal(u.endOrdinal(sts({ replicas: 0 })), -1);
  });

  it('gives a pod its identity: name, pod-name and pod-index labels, hostname and subdomain', () => {
    const s = sts();
    const p = pod('web-2');
    assert.equal(u.identityMatches(s, p), false);
    u.initIdentity(s, p);
    assert.equal(p.metadata.labels?.[u.POD_NAME_LABEL], 'web-2');
    assert.equal(p.metadata.labels?.[u.POD_INDEX_LABEL], '2');
    assert.equal(p.spec.hostname, 'web-2');
    assert.equal(p.spec.subdomain, 'web-svc');
    assert.equal(u.identityMatches(s, p), true);
    assert.equal(u.identityMatches({ ...s, metadata: { ...s.metadata, namespace: 'other' } }, p), false);
  });

  it('names one claim per template and ordinal, labelled with the selector, and mounts it', () => {
    const s = sts();
    const claims = u.claimsFor(s, 1);
    const c = claims.get('data')!;
    assert.equal(c.metadata?.name, 'data-web-1');
    assert.deepEqual(c.metadata?.labels, { tier: 'db', app: 'web' });
    assert.equal(c.kind, 'PersistentVolumeClaim');
    const p = pod('web-1');
    p.spec.volumes = [{ name: 'data', emptyDir: {} }, { name: 'scratch', emptyDir: {} }];
    assert.equal(u.storageMatches(s, p), false);
    u.updateStorage(s, p);
    assert.deepEqual(p.spec.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-web-1' } }, { name: 'scratch', emptyDir: {} }]);
    assert.equal(u.storageMatches(s, p), true);
  });

  it('turns maxUnavailable into a count: percentages round down, never below 1, 1 by default', () => {
    assert.equal(u.maxUnavailableOf(sts({ replicas: 10 })), 1);
    assert.equal(u.maxUnavailableOf(sts({ replicas: 10, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%' } } })), 2);
    assert.equal(u.maxUnavailableOf(sts({ replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } } })), 1);
    assert.equal(u.maxUnavailableOf(sts({ replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } } })), 2);
  });

  it('counts replicas by state and revision; a rolling update completes when all are updated and ready', () => {
    const pods = [pod('web-0', { phase: 'Running', ready: true, revision: 'r1' }), pod('web-1', { phase: 'Running', ready: true, revision: 'r2' }), pod('web-2', { phase: 'Pending', revision: 'r2', deleting: true }), pod('web-3')];
    assert.deepEqual(u.replicaCounts(pods, 0, 'r1', 'r2', Date.parse('2026-01-02T00:00:00Z')), { replicas: 3, readyReplicas: 2, availableReplicas: 2, currentReplicas: 1, updatedReplicas: 1 });
    const s = sts({ replicas: 2 });
    const st = { replicas: 2, readyReplicas: 2, updatedReplicas: 2, currentReplicas: 0, currentRevision: 'r1', updateRevision: 'r2' };
    u.completeRollingUpdate(s, st);
    assert.equal(st.currentRevision, 'r2');
    assert.equal(st.currentReplicas, 2);
    const onDelete = { ...st, currentRevision: 'r1', currentReplicas: 0 };
    u.completeRollingUpdate(sts({ replicas: 2, updateStrategy: { type: 'OnDelete' } }), onDelete);
    assert.equal(onDelete.currentRevision, 'r1', 'OnDelete never completes by itself');
  });

  describe('persistentVolumeClaimRetentionPolicy owner references', () => {
    const claim = (refs: string[] = []): PersistentVolumeClaim => ({
      metadata: { name: 'data-web-1', ownerReferences: refs.map((uid) => ({ apiVersion: 'x', kind: uid.startsWith('set') ? 'StatefulSet' : 'Pod', name: 'n', uid })) },
    });
    const policy = (whenDeleted: 'Retain' | 'Delete', whenScaled: 'Retain' | 'Delete', replicas = 3) => sts({ replicas, persistentVolumeClaimRetentionPolicy: { whenDeleted, whenScaled } });
    const uids = (refs: ReturnType<typeof u.retentionOwnerRefs>): string[] | undefined => refs?.map((r) => r.uid);
    const inRange = pod('web-1');
    const scaledAway = pod('web-1');

    it('Retain/Retain: neither the set nor the pod owns the claim', () => {
      assert.equal(u.retentionOwnerRefs(claim(), policy('Retain', 'Retain'), inRange), undefined);
      assert.deepEqual(uids(u.retentionOwnerRefs(claim(['set-uid', 'web-1-uid', 'other']), policy('Retain', 'Retain'), inRange)), ['other']);
    });

    it('whenDeleted Delete: the set owns the claim', () => {
      const refs = u.retentionOwnerRefs(claim(), policy('Delete', 'Retain'), inRange);
      assert.deepEqual(refs, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'set-uid' }]);
      assert.equal(u.retentionOwnerRefs(claim(['set-uid']), policy('Delete', 'Retain'), inRange), undefined);
    });

    it('whenScaled Delete: the pod owns the claim once it is scaled away, the set no longer', () => {
      assert.equal(u.retentionOwnerRefs(claim(), policy('Retain', 'Delete'), inRange), undefined);
      assert.deepEqual(uids(u.retentionOwnerRefs(claim(), policy('Retain', 'Delete', 1), scaledAway)), ['web-1-uid']);
      assert.deepEqual(uids(u.retentionOwnerRefs(claim(), policy('Delete', 'Delete'), inRange)), ['set-uid']);
      assert.deepEqual(uids(u.retentionOwnerRefs(claim(['set-uid']), policy('Delete', 'Delete', 1), scaledAway)), ['web-1-uid']);
    });
  });
});
