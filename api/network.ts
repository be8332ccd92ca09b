// The cluster's address ranges and names as every component defaults them (k3s's pod network, kubeadm's services).

/** Pods' addresses: the controller manager cuts each node's pod CIDR from it; the service proxy masquerades by it. */
export const DEFAULT_CLUSTER_CIDR = '10.42.0.0/16';
/** Services' cluster IPs: the first goes to the `kubernetes` Service, the tenth to kube-dns. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
/** The cluster DNS domain. */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
