import assert from 'node:assert/strict';
import { applyDefaults, defaultPullPolicy, parseImageRef } from './defaults.js';
import { examples } from '../test/support/api-examples.js';
import type { Pod, Service, Namespace, Secret, Node } from './schemas/core.js';
import type { Deployment, DaemonSet, StatefulSet, ReplicaSet } from './schemas/apps.js';
import type { Job } from './schemas/batch.js';

const minimalPod = (image: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default' },
  spec: { containers: [{ name: 'c', image }] },
});

describe('applyDefaults', () => {
  it('derives imagePullPolicy from the tag', () => {
    const cases: [string, string][] = [
      ['busybox', 'Always'],
      ['busybox:latest', 'Always'],
      ['busybox:1.36', 'IfNotPresent'],
      ['busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7', 'IfNotPresent'],
      ['localhost:5000/busybox', 'Always'],
      ['localhost:5000/busybox:1.36', 'IfNotPresent'],
      ['busybox:latest@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7', 'Always'],
    ];
    for (const [image, policy] of cases) {
      assert.equal(applyDefaults(minimalPod(image)).spec.containers[0]?.imagePullPolicy, policy, image);
      assert.equal(defaultPullPolicy(image), policy, image);
    }
    assert.deepEqual(parseImageRef('localhost:5000/busybox:1.36'), { name: 'localhost:5000/busybox', tag: '1.36', digest: '' });
  });

  it('keeps a pull policy the user set', () => {
    const pod = minimalPod('busybox');
    pod.spec.containers[0]!.imagePullPolicy = 'Never';
    assert.equal(applyDefaults(pod).spec.containers[0]?.imagePullPolicy, 'Never');
  });

  it('fills in pod spec and container defaults', () => {
    const pod = applyDefaults(minimalPod('busybox:1.36'));
    const { containers, ...spec } = pod.spec;
    assert.deepEqual(spec, {
      dnsPolicy: 'ClusterFirst',
      restartPolicy: 'Always',
      securityContext: {},
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
    });
    assert.deepEqual(containers[0], {
      name: 'c',
      image: 'busybox:1.36',
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    });
  });

  it('defaults ports, probes, env field refs, volumes and requests from limits', () => {
    const pod = applyDefaults(examples.pod());
    const web = pod.spec.containers[0]!;
    assert.equal(web.ports?.[0]?.protocol, 'TCP');
    assert.deepEqual(web.livenessProbe, {
      httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' },
      initialDelaySeconds: 5,
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    assert.equal(web.startupProbe?.failureThreshold, 30);
    assert.deepEqual(web.lifecycle?.postStart?.httpGet, { port: 80, path: '/', scheme: 'HTTP' });
    assert.equal(web.env?.[1]?.valueFrom?.fieldRef?.apiVersion, 'v1');
    assert.deepEqual(web.resources, { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: 1, memory: '128Mi' } });
    const vols = Object.fromEntries((pod.spec.volumes ?? []).map((v) => [v.name, v]));
    assert.equal(vols.config?.configMap?.defaultMode, 0o644);
    assert.equal(vols.creds?.secret?.defaultMode, 0o400);
    assert.equal(vols.token?.projected?.defaultMode, 420);
    assert.equal(vols.info?.downwardAPI?.items?.[0]?.fieldRef?.apiVersion, 'v1');

    const limited = minimalPod('x:1');
    limited.spec.containers[0]!.resources = { limits: { cpu: '500m', memory: '1Gi' }, requests: { memory: '512Mi' } };
    assert.deepEqual(applyDefaults(limited).spec.containers[0]?.resources?.requests, { memory: '512Mi', cpu: '500m' });
  });

  it('turns a volume without a source into an emptyDir and copies host ports with hostNetwork', () => {
    const pod = minimalPod('x:1');
    pod.spec.volumes = [{ name: 'scratch' }];
    pod.spec.hostNetwork = true;
    pod.spec.containers[0]!.ports = [{ containerPort: 8080 }];
    const d = applyDefaults(pod);
    assert.deepEqual(d.spec.volumes, [{ name: 'scratch', emptyDir: {} }]);
    assert.equal(d.spec.containers[0]?.ports?.[0]?.hostPort, 8080);
  });

  it('defaults services: type, affinity, protocol, targetPort', () => {
    const svc: Service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80 }, { port: 443, targetPort: 'https' }] } };
    assert.deepEqual(applyDefaults(svc).spec, {
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }, { port: 443, targetPort: 'https', protocol: 'TCP' }],
    });
    const lb: Service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { type: 'LoadBalancer', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] } };
    const d = applyDefaults(lb).spec;
    assert.equal(d.externalTrafficPolicy, 'Cluster');
    assert.equal(d.allocateLoadBalancerNodePorts, true);
    assert.equal(d.sessionAffinityConfig?.clientIP?.timeoutSeconds, 10800);
  });

  it('defaults deployments, including the template', () => {
    const d = applyDefaults(examples.deployment()) as Deployment;
    assert.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    assert.equal(d.spec.revisionHistoryLimit, 10);
    assert.equal(d.spec.progressDeadlineSeconds, 600);
    assert.equal(d.spec.replicas, 3);
    assert.equal(d.spec.template.spec.restartPolicy, 'Always');
    assert.equal(d.spec.template.spec.containers[0]?.imagePullPolicy, 'IfNotPresent');
    assert.equal(d.spec.template.spec.enableServiceLinks, undefined, 'service links are a pod default only');
    const bare = examples.deployment();
    delete bare.spec.replicas;
    bare.spec.strategy = { type: 'Recreate' };
    const b = applyDefaults(bare);
    assert.equal(b.spec.replicas, 1);
    assert.deepEqual(b.spec.strategy, { type: 'Recreate' });
  });

  it('defaults replica sets, daemon sets and stateful sets', () => {
    const rs = examples.replicaSet() as ReplicaSet;
    delete rs.spec.replicas;
    assert.equal(applyDefaults(rs).spec.replicas, 1);
    const ds = applyDefaults(examples.daemonSet()) as DaemonSet;
    assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    assert.equal(ds.spec.revisionHistoryLimit, 10);
    const ss = examples.statefulSet() as StatefulSet;
    delete ss.spec.replicas;
    const s = applyDefaults(ss);
    assert.equal(s.spec.replicas, 1);
    assert.equal(s.spec.podManagementPolicy, 'OrderedReady');
    assert.deepEqual(s.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    assert.equal(s.spec.revisionHistoryLimit, 10);
    assert.deepEqual(s.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
    assert.equal(s.spec.volumeClaimTemplates?.[0]?.spec?.volumeMode, 'Filesystem');
  });

  it('defaults jobs and generates their selector from the uid', () => {
    const j = applyDefaults(examples.job()) as Job;
    assert.equal(j.spec.parallelism, 1);
    assert.equal(j.spec.completions, 1);
    assert.equal(j.spec.backoffLimit, 4);
    assert.equal(j.spec.completionMode, 'NonIndexed');
    assert.equal(j.spec.suspend, false);
    const uid = '6f1b2c3d-0000-4000-8000-000000000001';
    assert.deepEqual(j.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
    assert.deepEqual(j.spec.template.metadata?.labels, {
      'job-name': 'pi',
      'batch.kubernetes.io/job-name': 'pi',
      'controller-uid': uid,
      'batch.kubernetes.io/controller-uid': uid,
    });
    const parallelOnly = examples.job();
    parallelOnly.spec.parallelism = 3;
    delete parallelOnly.spec.backoffLimit;
    const p = applyDefaults(parallelOnly);
    assert.equal(p.spec.completions, undefined, 'a work-queue job keeps completions unset');
    assert.equal(p.spec.backoffLimit, 6);
    const manual = examples.job();
    manual.spec.manualSelector = true;
    assert.equal(applyDefaults(manual).spec.selector, undefined);
  });

  it('gives a job its template labels when it has none', () => {
    const j = examples.job();
    j.spec.template.metadata = { labels: { app: 'pi' } };
    assert.deepEqual(applyDefaults(j).metadata.labels, { app: 'pi' });
  });

  it('defaults namespaces, secrets and nodes', () => {
    const ns = applyDefaults(examples.namespace()) as Namespace;
    assert.deepEqual(ns.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' });
    assert.deepEqual(ns.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(ns.status, { phase: 'Active' });
    const s = applyDefaults(examples.secret()) as Secret;
    assert.equal(s.type, 'Opaque');
    assert.deepEqual(s.data, { password: 'aHVudGVyMg==', username: 'YWRtaW4=' });
    assert.equal(s.stringData, undefined);
    const n = examples.node() as Node;
    delete n.status!.allocatable;
    assert.deepEqual(applyDefaults(n).status?.allocatable, { cpu: '4', memory: '8Gi', pods: '110' });
  });

  it('leaves kinds without defaults alone and returns the same object', () => {
    const lease = examples.lease();
    const before = structuredClone(lease);
    assert.equal(applyDefaults(lease), lease);
    assert.deepEqual(lease, before);
  });
});
