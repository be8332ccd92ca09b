// The service account each controller runs as with --use-service-account-credentials (kube-controller-manager's names,
// in kube-system), shared by the controller manager (which asks tokens for them) and the bootstrap policy (which binds
// each to its system:controller:<account> role).

/** Controller name (--controllers) → service account in kube-system. */
export const CONTROLLER_SERVICE_ACCOUNTS: Readonly<Record<string, string>> = {
  replicaset: 'replicaset-controller',
  deployment: 'deployment-controller',
  daemonset: 'daemon-set-controller',
  statefulset: 'statefulset-controller',
  replicationcontroller: 'replication-controller',
  job: 'job-controller',
  cronjob: 'cronjob-controller',
  'ttl-after-finished': 'ttl-after-finished-controller',
  disruption: 'disruption-controller',
  horizontalpodautoscaling: 'horizontal-pod-autoscaler',
  garbagecollector: 'generic-garbage-collector',
  namespace: 'namespace-controller',
  nodeipam: 'node-controller',
  nodelifecycle: 'node-controller',
  podgc: 'pod-garbage-collector',
  'clusterrole-aggregation': 'clusterrole-aggregation-controller',
  'persistentvolume-binder': 'persistent-volume-binder',
  'persistentvolume-expander': 'expand-controller',
  'pvc-protection': 'pvc-protection-controller',
  'pv-protection': 'pv-protection-controller',
  'ephemeral-volume': 'ephemeral-volume-controller',
  endpointslice: 'endpointslice-controller',
  endpoint: 'endpoint-controller',
  // k3s's ServiceLB writes LoadBalancer Services' status, what kube's (cloud) service controller does.
  servicelb: 'service-controller',
  // Joining nodes: CSR approval and signing, bootstrap tokens' expiry and cluster-info signatures.
  csrapproving: 'certificate-controller',
  csrsigning: 'certificate-controller',
  tokencleaner: 'token-cleaner',
  bootstrapsigner: 'bootstrap-signer',
};

/** The namespace of the controllers' service accounts. */
export const CONTROLLER_ACCOUNTS_NAMESPACE = 'kube-system';
