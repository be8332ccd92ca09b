// Valid objects of every served kind, as a user would write them (before defaulting). Each call returns
// a fresh copy, so tests across the project can mutate them.
import type { Pod, Node, Namespace, Service, Endpoints, ConfigMap, Secret, Event, ServiceAccount } from '../../api/schemas/core.js';
import type { Deployment, ReplicaSet, DaemonSet, StatefulSet } from '../../api/schemas/apps.js';
import type { CronJob, Job } from '../../api/schemas/batch.js';
import type { Lease } from '../../api/schemas/coordination.js';
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from '../../api/schemas/rbac.js';
import type { EndpointSlice } from '../../api/schemas/discovery.js';
import type { HorizontalPodAutoscaler } from '../../api/schemas/autoscaling.js';
import type { PodDisruptionBudget } from '../../api/schemas/policy.js';
import type { PodTemplateSpec } from '../../api/schemas/core.js';

const template = (app: string): PodTemplateSpec => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: app, image: 'nginx:1.25', ports: [{ name: 'http', containerPort: 80 }] }] },
});

export const examples = {
  namespace: (): Namespace => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } }),

  pod: (): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'default', labels: { app: 'web', 'app.kubernetes.io/name': 'web' }, annotations: { 'example.com/owner': 'team-a' } },
    spec: {
      initContainers: [{ name: 'init', image: 'busybox:1.36', command: ['sh', '-c', 'echo ready > /work/ready'], volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
      containers: [
        {
          name: 'web',
          image: 'nginx:1.25',
          args: ['-g', 'daemon off;'],
          workingDir: '/usr/share/nginx',
          ports: [{ name: 'http', containerPort: 80 }, { name: 'metrics', containerPort: 9113, protocol: 'TCP' }],
          env: [
            { name: 'MODE', value: 'production' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'APP_LABEL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
            { name: 'CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
            { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'web-config', key: 'color' } } },
            { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'web-secret', key: 'password', optional: true } } },
          ],
          envFrom: [{ configMapRef: { name: 'web-config' }, prefix: 'CFG_' }, { secretRef: { name: 'web-secret' } }],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: 1, memory: '128Mi' } },
          volumeMounts: [
            { name: 'work', mountPath: '/work', readOnly: true },
            { name: 'config', mountPath: '/etc/web' },
            { name: 'token', mountPath: '/var/run/secrets/tokens' },
          ],
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 5 },
          readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 5 },
          startupProbe: { exec: { command: ['cat', '/work/ready'] }, failureThreshold: 30 },
          lifecycle: { preStop: { exec: { command: ['nginx', '-s', 'quit'] } }, postStart: { httpGet: { port: 80 } } },
          securityContext: { runAsNonRoot: true, runAsUser: 101, capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
        { name: 'sidecar', image: 'busybox', command: ['sleep', 'infinity'], stdin: true, tty: true },
      ],
      volumes: [
        { name: 'work', emptyDir: { sizeLimit: '1Gi' } },
        { name: 'config', configMap: { name: 'web-config', items: [{ key: 'nginx.conf', path: 'nginx.conf' }] } },
        { name: 'host', hostPath: { path: '/var/log', type: 'Directory' } },
        { name: 'creds', secret: { secretName: 'web-secret', defaultMode: 0o400 } },
        { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
        {
          name: 'token',
          projected: {
            sources: [
              { serviceAccountToken: { path: 'token', audience: 'api', expirationSeconds: 3600 } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
        { name: 'data', persistentVolumeClaim: { claimName: 'web-data' } },
      ],
      restartPolicy: 'Always',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] }] }],
          },
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'Exists' }] } },
          ],
        },
        podAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 50, podAffinityTerm: { labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: 'kubernetes.io/hostname' } },
          ],
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] }, topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      },
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' },
      ],
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } } },
      ],
      priority: 1000,
      priorityClassName: 'high',
      serviceAccountName: 'web',
      dnsPolicy: 'ClusterFirst',
      terminationGracePeriodSeconds: 45,
      activeDeadlineSeconds: 3600,
      overhead: { cpu: '10m' },
      securityContext: { fsGroup: 2000, runAsGroup: 3000 },
      hostname: 'web-0',
      subdomain: 'web',
      readinessGates: [{ conditionType: 'example.com/ready' }],
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2024-01-02T15:04:05Z' }],
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }],
      hostIP: '192.168.1.10',
      hostIPs: [{ ip: '192.168.1.10' }],
      startTime: '2024-01-02T15:04:00Z',
      qosClass: 'Burstable',
      containerStatuses: [
        {
          name: 'web',
          ready: true,
          started: true,
          restartCount: 1,
          image: 'nginx:1.25',
          imageID: 'docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31',
          containerID: 'ketch://4f2a',
          state: { running: { startedAt: '2024-01-02T15:04:03Z' } },
          lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: '2024-01-02T15:04:02Z' } },
        },
      ],
    },
  }),

  node: (): Node => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'worker-1', labels: { 'kubernetes.io/hostname': 'worker-1', 'node-role.kubernetes.io/worker': '' } },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'], providerID: 'ketch://worker-1', taints: [{ key: 'dedicated', value: 'web', effect: 'NoSchedule' }] },
    status: {
      capacity: { cpu: '4', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '3800m', memory: '7Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: '2024-01-02T15:04:05Z' }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }, { type: 'Hostname', address: 'worker-1' }],
      nodeInfo: {
        machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6.1.0', osImage: 'Debian', containerRuntimeVersion: 'ketch://0.1.0',
        kubeletVersion: 'v1.30.0', operatingSystem: 'linux', architecture: 'amd64',
      },
      images: [{ names: ['nginx:1.25'], sizeBytes: 187000000 }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    },
  }),

  service: (): Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }],
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
    },
  }),

  endpoints: (): Endpoints => ({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'web', namespace: 'default' },
    subsets: [
      {
        addresses: [{ ip: '10.244.1.5', nodeName: 'worker-1', targetRef: { kind: 'Pod', name: 'web-0', namespace: 'default' } }],
        notReadyAddresses: [{ ip: '10.244.2.7' }],
        ports: [{ name: 'http', port: 80 }, { name: 'https', port: 8443 }],
      },
    ],
  }),

  endpointSlice: (): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-abc12', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.244.1.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'worker-1',
        zone: 'zone-a',
        targetRef: { kind: 'Pod', name: 'web-0', namespace: 'default' },
      },
      { addresses: ['10.244.2.7'], conditions: { ready: false, serving: false, terminating: false }, nodeName: 'worker-2' },
    ],
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'https', port: 8443 }],
  }),

  configMap: (): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'web-config', namespace: 'default' },
    data: { color: 'blue', 'nginx.conf': 'events {}' },
    binaryData: { 'logo.png': 'iVBORw0KGgo=' },
  }),

  secret: (): Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'web-secret', namespace: 'default' },
    data: { password: 'aHVudGVyMg==' },
    stringData: { username: 'admin' },
  }),

  event: (): Event => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web-0.17a5b3c1d2e3f4a5', namespace: 'default' },
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'web-0', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', apiVersion: 'v1' },
    reason: 'Scheduled',
    message: 'Successfully assigned default/web-0 to worker-1',
    type: 'Normal',
    count: 1,
    firstTimestamp: '2024-01-02T15:04:05Z',
    lastTimestamp: '2024-01-02T15:04:05Z',
    source: { component: 'default-scheduler' },
    reportingComponent: 'default-scheduler',
    reportingInstance: 'scheduler-1',
  }),

  serviceAccount: (): ServiceAccount => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'web', namespace: 'default' },
    imagePullSecrets: [{ name: 'registry' }],
    automountServiceAccountToken: false,
  }),

  deployment: (): Deployment => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: template('web') },
  }),

  replicaSet: (): ReplicaSet => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-5d4f8c7b9', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'pod-template-hash', operator: 'Exists' }] }, template: { ...template('web'), metadata: { labels: { app: 'web', 'pod-template-hash': '5d4f8c7b9' } } } },
  }),

  daemonSet: (): DaemonSet => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'log-agent', namespace: 'kube-system' },
    spec: { selector: { matchLabels: { app: 'log-agent' } }, template: template('log-agent') },
  }),

  statefulSet: (): StatefulSet => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      serviceName: 'db',
      replicas: 3,
      selector: { matchLabels: { app: 'db' } },
      template: template('db'),
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  }),

  job: (): Job => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: '6f1b2c3d-0000-4000-8000-000000000001' },
    spec: {
      backoffLimit: 4,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl:5.34', command: ['perl', '-Mbignum=bpi', '-wle', 'print bpi(2000)'] }] } },
    },
  }),

  cronJob: (): CronJob => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'hello', namespace: 'default' },
    spec: {
      schedule: '*/5 * * * *',
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'hello', image: 'busybox:1.36', command: ['date'] }] } } } },
    },
  }),

  lease: (): Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'worker-1', namespace: 'kube-node-lease' },
    spec: { holderIdentity: 'worker-1', leaseDurationSeconds: 40, renewTime: '2024-01-02T15:04:05.123456Z' },
  }),

  horizontalPodAutoscaler: (): HorizontalPodAutoscaler => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '200Mi' } } },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 60, policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] } },
    },
  }),

  podDisruptionBudget: (): PodDisruptionBudget => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'web', namespace: 'default' },
    spec: { minAvailable: '50%', selector: { matchLabels: { app: 'web' } }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  }),

  role: (): Role => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'pod-reader', namespace: 'default' },
    rules: [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }, { apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'], verbs: ['get'] }],
  }),

  clusterRole: (): ClusterRole => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'system:monitoring-reader', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
    rules: [{ apiGroups: ['apps', 'batch'], resources: ['*'], verbs: ['get'] }, { nonResourceURLs: ['/metrics', '/healthz/*'], verbs: ['get'] }],
  }),

  roleBinding: (): RoleBinding => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'read-pods', namespace: 'default' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'jane' }, { kind: 'ServiceAccount', name: 'builder' }],
  }),

  clusterRoleBinding: (): ClusterRoleBinding => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'monitoring' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:monitoring-reader' },
    subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:monitoring' }, { kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }],
  }),
};
