import assert from 'node:assert/strict';
import type { Node, PersistentVolume, PersistentVolumeClaim } from './schemas/core.js';
import type { StorageClass } from './schemas/storage.js';
import {
  ANN_BETA_STORAGE_CLASS, ANN_DEFAULT_STORAGE_CLASS, claimClass, defaultClass, findBestMatchForClaim, findMatchingVolume, isDelayBinding,
  isVolumeBoundToClaim, podClaimNames, volumeHostname, volumeNodeAffinityMatches, volumeUnfitReason,
} from './storage.js';

function pv(name: string, size: string, o: { modes?: string[]; cls?: string; phase?: string; labels?: Record<string, string>; node?: string; claim?: { ns: string; name: string; uid?: string }; mode?: string } = {}): PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
    spec: {
      capacity: { storage: size },
      accessModes: o.modes ?? ['ReadWriteOnce'],
      hostPath: { path: `/data/${name}` },
      ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
      ...(o.mode ? { volumeMode: o.mode } : {}),
      ...(o.node ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [o.node] }] }] } } } : {}),
      ...(o.claim ? { claimRef: { kind: 'PersistentVolumeClaim', namespace: o.claim.ns, name: o.claim.name, ...(o.claim.uid ? { uid: o.claim.uid } : {}) } } : {}),
    },
    status: { phase: o.phase ?? 'Available' },
  };
}

function pvc(name: string, size: string, o: { modes?: string[]; cls?: string; selector?: Record<string, string>; volumeName?: string; mode?: string } = {}): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'ns', uid: `uid-${name}` },
    spec: {
      accessModes: o.modes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: size } },
      ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
      ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
      ...(o.volumeName ? { volumeName: o.volumeName } : {}),
      ...(o.mode ? { volumeMode: o.mode } : {}),
    },
  };
}

const node = (name: string, labels: Record<string, string> = {}): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
});

describe('claim and volume matching', () => {
  it('picks the smallest volume that is big enough', () => {
    const vols = [pv('big', '10Gi'), pv('small', '1Gi'), pv('mid', '5Gi')];
    assert.equal(findBestMatchForClaim(pvc('c', '2Gi'), vols, false)?.metadata.name, 'mid');
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi'), vols, false)?.metadata.name, 'small');
    assert.equal(findBestMatchForClaim(pvc('c', '20Gi'), vols, false), undefined);
  });

  it('matches the storage class exactly ("" only with "")', () => {
    const vols = [pv('fast', '1Gi', { cls: 'fast' }), pv('none', '1Gi')];
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi', { cls: 'fast' }), vols, false)?.metadata.name, 'fast');
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi'), vols, false)?.metadata.name, 'none');
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi', { cls: 'slow' }), vols, false), undefined);
    const beta = pvc('c', '1Gi');
    beta.metadata!.annotations = { [ANN_BETA_STORAGE_CLASS]: 'fast' };
    assert.equal(claimClass(beta), 'fast');
    assert.equal(findBestMatchForClaim(beta, vols, false)?.metadata.name, 'fast');
  });

  it('needs every access mode and prefers volumes with fewer modes', () => {
    const vols = [pv('rwx', '1Gi', { modes: ['ReadWriteOnce', 'ReadWriteMany'] }), pv('rwo', '5Gi')];
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi'), vols, false)?.metadata.name, 'rwo', 'the RWO-only group is tried first, though bigger');
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi', { modes: ['ReadWriteMany'] }), vols, false)?.metadata.name, 'rwx');
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi', { modes: ['ReadOnlyMany'] }), vols, false), undefined);
  });

  it('honours the selector, the volume mode and the phase', () => {
    const vols = [pv('a', '1Gi', { labels: { tier: 'db' } }), pv('b', '1Gi'), pv('blk', '1Gi', { mode: 'Block' }), pv('rel', '1Gi', { phase: 'Released' })];
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi', { selector: { tier: 'db' } }), vols, false)?.metadata.name, 'a');
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi', { mode: 'Block' }), vols, false)?.metadata.name, 'blk');
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi', { selector: { tier: 'web' } }), vols, false), undefined);
    assert.equal(findBestMatchForClaim(pvc('c', '1Gi'), [pv('rel', '1Gi', { phase: 'Released' })], false), undefined, 'Released volumes are not reused');
  });

  it('returns the volume pre-bound to the claim before any other', () => {
    const claim = pvc('c', '1Gi');
    const vols = [pv('free', '1Gi'), pv('mine', '3Gi', { claim: { ns: 'ns', name: 'c' }, phase: 'Available' }), pv('other', '1Gi', { claim: { ns: 'ns', name: 'd' } })];
    assert.equal(findBestMatchForClaim(claim, vols, false)?.metadata.name, 'mine');
    assert.ok(isVolumeBoundToClaim(vols[1]!, claim));
    assert.ok(!isVolumeBoundToClaim(pv('x', '1Gi', { claim: { ns: 'ns', name: 'c', uid: 'another' } }), claim), 'a different uid is another claim');
  });

  it('leaves unbound volumes of WaitForFirstConsumer claims to the scheduler, and checks node affinity there', () => {
    const claim = pvc('c', '1Gi', { cls: 'local' });
    const vols = [pv('on-a', '1Gi', { cls: 'local', node: 'a' }), pv('on-b', '2Gi', { cls: 'local', node: 'b' })];
    assert.equal(findBestMatchForClaim(claim, vols, true), undefined, 'the PV controller does not bind it');
    assert.equal(findMatchingVolume(claim, vols, { node: node('b'), delayBinding: true })?.metadata.name, 'on-b');
    assert.equal(findMatchingVolume(claim, vols, { node: node('c'), delayBinding: true }), undefined);
    assert.equal(findMatchingVolume(claim, vols, { node: node('a'), excluded: new Set(['on-a']) }), undefined);
  });

  it('evaluates volume node affinity like node selector terms (ORed terms, matchFields)', () => {
    const v = pv('v', '1Gi', { node: 'a' });
    assert.ok(volumeNodeAffinityMatches(v, node('a')));
    assert.ok(!volumeNodeAffinityMatches(v, node('b')));
    assert.ok(volumeNodeAffinityMatches(pv('free', '1Gi'), node('b')), 'no affinity admits every node');
    assert.equal(volumeHostname(v), 'a');
    v.spec!.nodeAffinity!.required!.nodeSelectorTerms.push({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] });
    assert.ok(volumeNodeAffinityMatches(v, node('b')));
  });

  it('says why a pre-bound volume does not fit', () => {
    assert.equal(volumeUnfitReason(pv('v', '1Gi'), pvc('c', '2Gi')), 'requested PV is too small');
    assert.equal(volumeUnfitReason(pv('v', '1Gi', { cls: 'x' }), pvc('c', '1Gi')), 'storageClassName does not match');
    assert.equal(volumeUnfitReason(pv('v', '1Gi'), pvc('c', '1Gi', { modes: ['ReadWriteMany'] })), 'incompatible accessMode');
    assert.equal(volumeUnfitReason(pv('v', '1Gi'), pvc('c', '500Mi')), undefined);
  });

  it('knows delay binding from the class, and the default class (newest wins)', () => {
    const cls = (name: string, mode: string, ts = '2024-01-01T00:00:00Z', dflt = false): StorageClass => ({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name, creationTimestamp: ts, ...(dflt ? { annotations: { [ANN_DEFAULT_STORAGE_CLASS]: 'true' } } : {}) },
      provisioner: 'p',
      volumeBindingMode: mode,
    });
    const classes = [cls('wait', 'WaitForFirstConsumer', '2024-01-01T00:00:00Z', true), cls('now', 'Immediate', '2024-02-01T00:00:00Z', true), cls('plain', 'Immediate')];
    const by = (n: string): StorageClass | undefined => classes.find((c) => c.metadata.name === n);
    assert.ok(isDelayBinding(pvc('c', '1Gi', { cls: 'wait' }), by));
    assert.ok(!isDelayBinding(pvc('c', '1Gi', { cls: 'now' }), by));
    assert.ok(!isDelayBinding(pvc('c', '1Gi', { cls: 'missing' }), by));
    assert.equal(defaultClass(classes)?.metadata.name, 'now');
    assert.equal(defaultClass([cls('plain', 'Immediate')]), undefined);
  });

  it("lists a pod's claims, ephemeral ones as <pod>-<volume>", () => {
    const names = podClaimNames({
      metadata: { name: 'web' },
      spec: { volumes: [{ name: 'a', persistentVolumeClaim: { claimName: 'data' } }, { name: 'scratch', ephemeral: {} }, { name: 'e' }] },
    });
    assert.deepEqual(names, ['data', 'web-scratch']);
  });
});
