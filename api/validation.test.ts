import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { validateObject } from './validation/index.js';
import { rememberFormat } from './validation/schema.js';
import { applyDefaults } from './defaults.js';
import { examples } from '../test/support/api-examples.js';
import { errors, type StatusCause } from './errors.js';
import type { KubeObject } from './schemas/meta.js';

/** Defaults a copy and validates it, as the API server does on create. */
function create(obj: object): StatusCause[] {
  return validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'create' });
}
function update(obj: object, old: object): StatusCause[] {
  return validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'update', old: applyDefaults(structuredClone(old) as KubeObject) });
}
/** Asserts that exactly these `field: message` lines are reported (order-insensitive). */
function expectCauses(causes: StatusCause[], ...lines: string[]): void {
  assert.deepEqual(causes.map((c) => `${c.field}: ${c.message}`).sort(), [...lines].sort());
}
function expectCause(causes: StatusCause[], line: string, reason?: string): void {
  const found = causes.find((c) => `${c.field}: ${c.message}` === line);
  assert.ok(found, `expected "${line}" in:\n${causes.map((c) => `${c.field}: ${c.message}`).join('\n')}`);
  if (reason) assert.equal(found.reason, reason);
}

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

describe('validateObject', () => {
  describe('valid objects', () => {
    for (const [name, make] of Object.entries(examples)) {
      it(`accepts the ${name} example`, () => {
        expectCauses(create(make()));
      });
      it(`accepts an unchanged ${name} on update`, () => {
        expectCauses(update(make(), make()));
      });
    }
    it('accepts a minimal pod and ignores unknown fields and nulls', () => {
      expectCauses(
        create({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'p', namespace: 'default', creationTimestamp: null },
          spec: { containers: [{ name: 'c', image: 'busybox', futureField: { x: 1 }, resources: {} }] },
          status: {},
          somethingNew: true,
        }),
      );
    });
  });

  describe('envelope', () => {
    it('rejects non-objects and missing apiVersion/kind', () => {
      expectCauses(validateObject('x', { operation: 'create' }), ': Invalid value: "x": must be a JSON object');
      expectCauses(validateObject({ kind: 'Pod' }, { operation: 'create' }), 'apiVersion: Required value');
      expectCauses(validateObject({ apiVersion: 'v1' }, { operation: 'create' }), 'kind: Required value');
    });
    it('rejects an unknown kind with the supported ones', () => {
      const [c] = validateObject({ apiVersion: 'coordination.k8s.io/v1', kind: 'Thing', metadata: {} }, { operation: 'create' });
      assert.equal(c?.field, 'kind');
      assert.equal(c?.message, 'Unsupported value: "Thing": supported values: "Lease", "LeaseList"');
    });
    it('turns the causes into a 422 Status', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.image = '';
      const causes = create(pod);
      const err = errors.invalid('Pod', '', 'web-0', causes);
      assert.equal(err.code, 422);
      assert.equal(err.message, 'Pod "web-0" is invalid: spec.containers[0].image: Required value');
      assert.deepEqual(err.status.details?.causes, [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }]);
    });
  });

  describe('schema errors', () => {
    it('maps ajv errors to Kubernetes field paths', () => {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c' }] } };
      expectCauses(create(pod), 'spec.containers[0].image: Required value');
    });
    it('reports wrong types and stops before semantic checks', () => {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'BAD', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: '80' }] }] } };
      expectCauses(create(pod), 'spec.containers[0].ports[0].containerPort: Invalid value: "80": must be of type integer');
    });
    it('reports int-or-string and quantity type errors once', () => {
      const pod = examples.pod();
      (pod.spec.containers[0]!.livenessProbe!.httpGet as { port: unknown }).port = true;
      expectCauses(create(pod), 'spec.containers[0].livenessProbe.httpGet.port: Invalid value: true: must be of type integer or string');
    });
    it('reports unsupported enum values with the supported list', () => {
      const pod = examples.pod();
      (pod.spec as { restartPolicy: string }).restartPolicy = 'Sometimes';
      expectCause(create(pod), 'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"', 'FieldValueNotSupported');
      const svc = examples.service();
      (svc.spec.ports![0] as { protocol: string }).protocol = 'HTTP';
      expectCauses(create(svc), 'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"');
    });
    it('reports minimums in Kubernetes wording', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.livenessProbe!.periodSeconds = -1;
      expectCauses(create(pod), 'spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0');
    });
    it('reports bad timestamps and base64', () => {
      const cm = examples.configMap();
      cm.binaryData = { x: 'not base64!' };
      expectCauses(create(cm), 'binaryData.x: Invalid value: "not base64!": must be a base64 encoded string');
      const lease = examples.lease();
      lease.spec!.renewTime = 'yesterday';
      expectCauses(create(lease), 'spec.renewTime: Invalid value: "yesterday": must be an RFC 3339 date-time, e.g. 2006-01-02T15:04:05Z');
    });
    it('uses brackets for map keys that are not identifiers', () => {
      const pod = examples.pod();
      (pod.metadata.labels as Record<string, unknown>)['app.kubernetes.io/name'] = 5;
      expectCauses(create(pod), 'metadata.labels[app.kubernetes.io/name]: Invalid value: 5: must be of type string');
    });
  });

  describe('metadata', () => {
    it('requires a name', () => {
      const cm = examples.configMap();
      delete cm.metadata.name;
      expectCauses(create(cm), 'metadata.name: Required value: name or generateName is required');
      expectCauses(create({ apiVersion: 'v1', kind: 'ConfigMap' }), 'metadata.name: Required value: name or generateName is required', 'metadata.namespace: Required value');
    });
    it('checks names as DNS subdomains for most kinds', () => {
      const cm = examples.configMap();
      cm.metadata.name = 'Web_Config';
      expectCauses(create(cm), `metadata.name: Invalid value: "Web_Config": ${SUBDOMAIN_MSG}`);
    });
    it('checks names as DNS labels for namespaces and DNS-1035 labels for services', () => {
      const ns = examples.namespace();
      ns.metadata.name = 'team.a';
      expectCauses(create(ns), `metadata.name: Invalid value: "team.a": ${LABEL_MSG}`);
      const svc = examples.service();
      svc.metadata.name = '1web';
      const [c] = create(svc);
      assert.equal(c?.field, 'metadata.name');
      assert.match(c?.message ?? '', /^Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character/);
    });
    it('allows a trailing dash in generateName', () => {
      const cm = examples.configMap();
      cm.metadata = { generateName: 'web-', name: 'web-x7k2p', namespace: 'default' };
      expectCauses(create(cm));
      cm.metadata.generateName = 'Web-';
      expectCauses(create(cm), `metadata.generateName: Invalid value: "Web-": ${SUBDOMAIN_MSG}`);
    });
    it('requires a namespace for namespaced kinds and forbids it for cluster-scoped ones', () => {
      const cm = examples.configMap();
      delete cm.metadata.namespace;
      expectCauses(create(cm), 'metadata.namespace: Required value');
      const node = examples.node();
      node.metadata.namespace = 'default';
      expectCauses(create(node), 'metadata.namespace: Forbidden: not allowed on this type');
    });
    it('checks label keys and values and annotation keys', () => {
      const cm = examples.configMap();
      cm.metadata.labels = { 'bad key': 'ok', good: '-bad' };
      cm.metadata.annotations = { 'a/b/c': 'x' };
      const causes = create(cm);
      assert.deepEqual(causes.map((c) => c.field), ['metadata.labels', 'metadata.labels', 'metadata.annotations']);
      assert.match(causes[0]?.message ?? '', /^Invalid value: "bad key": name part must consist of alphanumeric characters/);
      assert.match(causes[1]?.message ?? '', /^Invalid value: "-bad": a valid label must be an empty string/);
      assert.match(causes[2]?.message ?? '', /^Invalid value: "a\/b\/c": a qualified name must consist of/);
    });
    it('limits the total size of annotations to 256 KiB', () => {
      const cm = examples.configMap();
      cm.metadata.annotations = { a: 'x'.repeat(200 * 1024), b: 'x'.repeat(60 * 1024) };
      expectCauses(create(cm), 'metadata.annotations: Too long: must have at most 262144 bytes');
    });
    it('checks owner references and finalizers', () => {
      const cm = examples.configMap();
      cm.metadata.ownerReferences = [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u1', controller: true },
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: '', controller: true },
      ];
      cm.metadata.finalizers = ['example.com/cleanup', 'bad finalizer'];
      const lines = create(cm).map((c) => `${c.field}: ${c.message.split(':').slice(0, 2).join(':')}`);
      assert.deepEqual(lines, [
        'metadata.ownerReferences[1].uid: Invalid value: ""',
        'metadata.ownerReferences: Invalid value: [{"apiVersion"',
        'metadata.finalizers: Invalid value: "bad finalizer"',
      ]);
    });
    it('keeps name, namespace, uid and creationTimestamp on update', () => {
      const old = examples.configMap();
      old.metadata.uid = 'u1';
      const next = examples.configMap();
      next.metadata.uid = 'u2';
      expectCauses(update(next, old), 'metadata.uid: Invalid value: "u2": field is immutable');
      const renamed = examples.configMap();
      renamed.metadata.name = 'other';
      expectCauses(update(renamed, examples.configMap()), 'metadata.name: Invalid value: "other": field is immutable');
    });
  });

  describe('pods', () => {
    it('requires containers', () => {
      const pod = examples.pod();
      pod.spec.containers = [];
      expectCause(create(pod), 'spec.containers: Required value');
    });
    it('checks container names: DNS label, unique across init and app containers', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.name = 'Web';
      pod.spec.containers[1]!.name = 'init';
      expectCauses(create(pod), `spec.containers[0].name: Invalid value: "Web": ${LABEL_MSG}`, 'spec.containers[1].name: Duplicate value: "init"');
    });
    it('checks ports: range, unique names, hostNetwork', () => {
      const pod = examples.pod();
      const c = pod.spec.containers[0]!;
      c.ports = [
        { name: 'http', containerPort: 70000 },
        { name: 'http', containerPort: 81, hostPort: 0 },
        { containerPort: 0 },
        { name: 'x', containerPort: 82, hostPort: -1 },
      ];
      expectCauses(
        create(pod),
        'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
        'spec.containers[0].ports[1].name: Duplicate value: "http"',
        'spec.containers[0].ports[2].containerPort: Required value',
        'spec.containers[0].ports[3].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive',
      );
    });
    it('requires hostPort to match containerPort with hostNetwork', () => {
      const pod = examples.pod();
      pod.spec.hostNetwork = true;
      pod.spec.containers[0]!.ports = [{ containerPort: 80, hostPort: 8080 }];
      expectCauses(create(pod), 'spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true');
    });
    it('reports conflicting host ports', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.ports = [{ containerPort: 80, hostPort: 80 }];
      pod.spec.containers[1]!.ports = [{ containerPort: 81, hostPort: 80 }];
      expectCauses(create(pod), 'spec.containers[1].ports[0].hostPort: Duplicate value: "80/TCP"');
    });
    it('checks env vars and their sources', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.env = [
        { name: '1BAD', value: 'x' },
        { name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'B', valueFrom: {} },
        { name: 'C', valueFrom: { fieldRef: { fieldPath: 'spec.containers' } } },
        { name: 'D', valueFrom: { configMapKeyRef: { name: '', key: 'k' } } },
      ];
      expectCauses(
        create(pod),
        "spec.containers[0].env[0].name: Invalid value: \"1BAD\": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
        'spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
        'spec.containers[0].env[2].valueFrom: Required value: must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
        'spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.containers": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
        'spec.containers[0].env[4].valueFrom.configMapKeyRef.name: Required value',
      );
    });
    it('checks resource quantities and requests <= limits', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.resources = { requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '1', memory: 'lots' } };
      expectCauses(
        create(pod),
        "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
      );
      pod.spec.containers[0]!.resources = { requests: { cpu: '2' }, limits: { cpu: '1', memory: '-1Gi' } };
      // the limit also became the request by defaulting
      expectCauses(
        create(pod),
        'spec.containers[0].resources.limits[memory]: Invalid value: "-1Gi": must be greater than or equal to 0',
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": must be greater than or equal to 0',
      );
      pod.spec.containers[0]!.resources = { requests: { cpu: '2' }, limits: { cpu: '1' } };
      expectCauses(create(pod), 'spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1');
    });
    it('checks volume mounts against volumes', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.volumeMounts = [
        { name: 'nope', mountPath: '/a' },
        { name: 'work', mountPath: '/a' },
        { name: 'work', mountPath: '/b', subPath: '../etc' },
      ];
      expectCauses(
        create(pod),
        'spec.containers[0].volumeMounts[0].name: Not found: "nope"',
        'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique',
        "spec.containers[0].volumeMounts[2].subPath: Invalid value: \"../etc\": must not contain '..'",
      );
    });
    it('checks volumes: names, one source, required references, modes', () => {
      const pod = examples.pod();
      pod.spec.containers[0]!.volumeMounts = [];
      pod.spec.initContainers = [];
      pod.spec.volumes = [
        { name: 'a', emptyDir: {}, hostPath: { path: '/x' } },
        { name: 'a', configMap: { name: '' } },
        { name: 'Bad_Name', secret: { secretName: 's', defaultMode: 0o1000 } },
        { name: 'pvc', persistentVolumeClaim: { claimName: '' } },
        { name: 'proj', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 60 } }, {}] } },
        { name: 'dapi', downwardAPI: { items: [{ path: '/abs', fieldRef: { fieldPath: 'status.podIP' } }] } },
      ];
      expectCauses(
        create(pod),
        'spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type',
        'spec.volumes[1].name: Duplicate value: "a"',
        'spec.volumes[1].configMap.name: Required value',
        `spec.volumes[2].name: Invalid value: "Bad_Name": ${LABEL_MSG}`,
        'spec.volumes[2].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
        'spec.volumes[3].persistentVolumeClaim.claimName: Required value',
        'spec.volumes[4].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes',
        'spec.volumes[4].projected.sources[1]: Required value: must specify exactly 1 of: `secret`, `configMap`, `downwardAPI`, `serviceAccountToken`',
        'spec.volumes[5].downwardAPI.items[0].path: Invalid value: "/abs": must be a relative path',
        'spec.volumes[5].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"',
      );
    });
    it('checks probes and lifecycle handlers', () => {
      const pod = examples.pod();
      const c = pod.spec.containers[0]!;
      c.livenessProbe = { successThreshold: 2 };
      c.readinessProbe = { exec: { command: ['true'] }, httpGet: { port: 'not a port' } };
      c.startupProbe = { tcpSocket: { port: 0 } };
      c.lifecycle = { preStop: {} };
      expectCauses(
        create(pod),
        'spec.containers[0].livenessProbe: Required value: must specify a handler type',
        'spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
        'spec.containers[0].readinessProbe.httpGet: Forbidden: may not specify more than 1 handler type',
        'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "not a port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        'spec.containers[0].startupProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive',
        'spec.containers[0].lifecycle.preStop: Required value: must specify a handler type',
      );
    });
    it('forbids probes on init containers unless they are sidecars', () => {
      const pod = examples.pod();
      pod.spec.initContainers![0]!.readinessProbe = { exec: { command: ['true'] } };
      expectCauses(create(pod), 'spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always');
      pod.spec.initContainers![0]!.restartPolicy = 'Always';
      expectCauses(create(pod));
    });
    it('allows lifecycle hooks only on sidecars among init containers, and only restartPolicy Always', () => {
      const pod = examples.pod();
      pod.spec.initContainers![0]!.lifecycle = { preStop: { exec: { command: ['true'] } } };
      expectCauses(create(pod), 'spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always');
      pod.spec.initContainers![0]!.restartPolicy = 'Always';
      expectCauses(create(pod));
      (pod.spec.initContainers![0] as { restartPolicy?: string }).restartPolicy = 'OnFailure';
      expectCauses(
        create(pod),
        'spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always',
        'spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
      );
    });
    it('checks pod-level fields', () => {
      const pod = examples.pod();
      pod.spec.activeDeadlineSeconds = 0;
      pod.spec.nodeName = 'Node_1';
      pod.spec.hostname = 'web.0';
      pod.spec.nodeSelector = { 'bad key': 'x' };
      pod.spec.dnsPolicy = 'None';
      const lines = create(pod).map((c) => `${c.field}: ${c.message.slice(0, 60)}`);
      assert.deepEqual(lines.sort(), [
        'spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive',
        'spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None',
        'spec.hostname: Invalid value: "web.0": a lowercase RFC 1123 label must consist ',
        'spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must co',
        'spec.nodeSelector: Invalid value: "bad key": name part must consist of alphanum',
      ].map((l) => l.slice(0, l.indexOf(': ') + 2 + 60)).sort());
    });
    it('checks tolerations', () => {
      const pod = examples.pod();
      pod.spec.tolerations = [
        { operator: 'Equal', value: 'x' },
        { key: 'k', operator: 'Exists', value: 'x' },
        { key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule', tolerationSeconds: 10 },
        { operator: 'Exists' },
      ];
      expectCauses(
        create(pod),
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
        "spec.tolerations[1].operator: Invalid value: \"x\": value must be empty when `operator` is 'Exists'",
        "spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
      );
    });
    it('checks affinity terms', () => {
      const pod = examples.pod();
      pod.spec.affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: [] }, { key: 'gpu', operator: 'Exists', values: ['x'] }] }] },
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: {} }],
        },
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: '' }] },
      };
      expectCauses(
        create(pod),
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100',
        'spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty',
      );
    });
    it('checks topology spread constraints', () => {
      const pod = examples.pod();
      pod.spec.topologySpreadConstraints = [
        { maxSkew: 0, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
        { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
      ];
      expectCauses(
        create(pod),
        'spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero',
        'spec.topologySpreadConstraints[1].{topologyKey, whenUnsatisfiable}: Duplicate value: "zone, DoNotSchedule"',
      );
    });
    it('allows image, deadline and added tolerations to change on update', () => {
      const old = examples.pod();
      const next = examples.pod();
      next.spec.containers[0]!.image = 'nginx:1.26';
      next.spec.activeDeadlineSeconds = 60;
      next.spec.tolerations!.push({ key: 'extra', operator: 'Exists' });
      expectCauses(update(next, old));
    });
    it('forbids other pod spec changes on update', () => {
      const next = examples.pod();
      next.spec.containers[0]!.command = ['other'];
      expectCauses(
        update(next, examples.pod()),
        'spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      );
      const longer = examples.pod();
      longer.spec.activeDeadlineSeconds = 7200;
      expectCauses(update(longer, examples.pod()), 'spec.activeDeadlineSeconds: Invalid value: 7200: must be less than or equal to previous value');
      const fewer = examples.pod();
      fewer.spec.tolerations = [];
      expectCauses(update(fewer, examples.pod()), 'spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds');
    });
    it('validates status updates without spec rules', () => {
      const pod = examples.pod();
      pod.status!.podIP = '10.0.0.999';
      const causes = validateObject(applyDefaults(pod), { operation: 'update', old: applyDefaults(examples.pod()), subresource: 'status' });
      expectCauses(causes, 'status.podIP: Invalid value: "10.0.0.999": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');
    });
    it('checks a status update against the schema of metadata and status only (the spec is the stored one)', () => {
      const pod = applyDefaults(examples.pod()) as KubeObject & { spec: Record<string, unknown>; status: Record<string, unknown> };
      pod.spec.priority = 'high';
      pod.status.phase = 'Sleeping';
      pod.status.hostIP = 7;
      const opts = { operation: 'update', old: applyDefaults(examples.pod()), subresource: 'status' } as const;
      expectCauses(
        validateObject(pod, opts),
        'status.phase: Unsupported value: "Sleeping": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"',
        'status.hostIP: Invalid value: 7: must be of type string',
      );
      expectCauses(validateObject({ ...pod, status: { phase: 'Running' }, metadata: { ...pod.metadata, labels: 'x' } }, opts), 'metadata.labels: Invalid value: "x": must be of type object');
      // A main-resource update still checks the spec's schema.
      expectCause(validateObject({ ...pod, status: {} }, { operation: 'update', old: applyDefaults(examples.pod()) }), 'spec.priority: Invalid value: "high": must be of type integer');
    });
  });

  describe('workloads', () => {
    it('rejects negative replicas in Kubernetes wording', () => {
      const d = examples.deployment();
      d.spec.replicas = -1;
      expectCauses(create(d), 'spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    });
    it('requires the selector to match the template labels', () => {
      const d = examples.deployment();
      d.spec.template.metadata!.labels = { app: 'other' };
      expectCauses(create(d), 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`');
      for (const [name, make] of [['replicaSet', examples.replicaSet], ['daemonSet', examples.daemonSet], ['statefulSet', examples.statefulSet]] as const) {
        const o = make();
        o.spec.template!.metadata!.labels = {};
        const causes = create(o).map((c) => `${c.field}: ${c.message}`);
        assert.deepEqual(causes, ['spec.template.metadata.labels: Invalid value: map[string]string{}: `selector` does not match template `labels`'], name);
      }
    });
    it('rejects a missing or empty selector and bad selector operators', () => {
      const d = examples.deployment();
      d.spec.selector = {};
      expectCauses(create(d), 'spec.selector: Invalid value: {}: empty selector is invalid for deployment');
      d.spec.selector = { matchExpressions: [{ key: 'app', operator: 'Like', values: ['w'] }] };
      expectCause(create(d), 'spec.selector.matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator');
      const noSel = examples.deployment() as unknown as { spec: Record<string, unknown> };
      delete noSel.spec.selector;
      expectCauses(create(noSel), 'spec.selector: Required value');
    });
    it('requires restartPolicy Always in templates of long-running workloads', () => {
      const d = examples.deployment();
      d.spec.template.spec.restartPolicy = 'Never';
      d.spec.template.spec.activeDeadlineSeconds = 10;
      expectCauses(
        create(d),
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        'spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in Deployment is not Supported',
      );
    });
    it('validates pod templates with template paths', () => {
      const d = examples.deployment();
      d.spec.template.spec.containers[0]!.image = '';
      expectCauses(create(d), 'spec.template.spec.containers[0].image: Required value');
    });
    it('checks deployment strategies', () => {
      const d = examples.deployment();
      d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '120%', maxSurge: 'lots' } };
      expectCauses(
        create(d),
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%',
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"lots\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
      );
      d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '0%' } };
      expectCauses(create(d), 'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0');
      d.spec.strategy = { type: 'Recreate', rollingUpdate: {} };
      expectCauses(create(d), "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'");
      const p = examples.deployment();
      p.spec.minReadySeconds = 700;
      expectCauses(create(p), 'spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds');
    });
    it('keeps workload selectors immutable', () => {
      for (const make of [examples.deployment, examples.replicaSet, examples.daemonSet]) {
        const old = make();
        const next = make();
        next.spec.selector = { matchLabels: { app: 'web', tier: 'x' } };
        next.spec.template!.metadata!.labels = { app: 'web', tier: 'x', 'pod-template-hash': '5d4f8c7b9' };
        expectCauses(update(next, old), 'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable');
      }
    });
    it('allows only some statefulset spec fields to change', () => {
      const next = examples.statefulSet();
      next.spec.replicas = 5;
      expectCauses(update(next, examples.statefulSet()));
      next.spec.serviceName = 'other';
      expectCauses(
        update(next, examples.statefulSet()),
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      );
    });
    it('checks statefulset update strategies', () => {
      const s = examples.statefulSet();
      s.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: -1 } };
      s.spec.podManagementPolicy = 'Parallel';
      expectCauses(create(s), 'spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0');
    });
    it('requires Job templates to restart Never or OnFailure', () => {
      const j = examples.job();
      delete j.spec.template.spec.restartPolicy;
      expectCauses(create(j), 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"');
    });
    it('checks job counts and indexed mode', () => {
      const j = examples.job();
      j.spec.parallelism = -1;
      j.spec.backoffLimit = -2;
      j.spec.completionMode = 'Indexed';
      expectCauses(
        create(j),
        'spec.parallelism: Invalid value: -1: must be greater than or equal to 0',
        'spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0',
        'spec.completions: Required value: when completion mode is Indexed',
      );
    });
    it('requires a selector when the job has no uid yet', () => {
      const j = examples.job();
      delete j.metadata.uid;
      expectCauses(create(j), 'spec.selector: Required value');
    });
    it('keeps job completions and template immutable', () => {
      const next = examples.job();
      next.spec.completions = 3;
      next.spec.template.spec.containers[0]!.image = 'perl:5.36';
      const causes = update(next, examples.job());
      assert.deepEqual(causes.map((c) => c.field), ['spec.completions', 'spec.template']);
      assert.equal(causes[0]?.message, 'Invalid value: 3: field is immutable');
      assert.match(causes[1]?.message ?? '', /^Invalid value: \{.*"image":"perl:5.36".*\}: field is immutable$/);
    });
  });

  describe('core kinds', () => {
    it('checks service ports', () => {
      const svc = examples.service();
      svc.spec.ports = [
        { name: 'http', port: 0 },
        { port: 81, targetPort: 'Bad Name' },
        { name: 'http', port: 82, nodePort: 30080 },
      ];
      expectCauses(
        create(svc),
        'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
        'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive', // defaulted from port
        'spec.ports[1].name: Required value',
        'spec.ports[1].targetPort: Invalid value: "Bad Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        'spec.ports[2].name: Duplicate value: "http"',
        "spec.ports[2].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
      );
    });
    it('requires ports unless headless, and externalName for ExternalName services', () => {
      const svc = examples.service();
      svc.spec.ports = [];
      expectCauses(create(svc), 'spec.ports: Required value');
      svc.spec.clusterIP = 'None';
      svc.spec.clusterIPs = ['None'];
      expectCauses(create(svc));
      const ext = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'default' }, spec: { type: 'ExternalName' } };
      expectCauses(create(ext), 'spec.externalName: Required value');
    });
    it('allows externalTrafficPolicy on externally accessible services only (external IPs count)', () => {
      const svc = examples.service();
      svc.spec.externalIPs = ['192.0.2.10'];
      expectCauses(create(svc));
      const plain = examples.service();
      plain.spec.externalTrafficPolicy = 'Local';
      expectCauses(create(plain), 'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services');
    });
    it('checks cluster IPs and keeps them on update', () => {
      const svc = examples.service();
      svc.spec.clusterIP = '10.96.0.300';
      svc.spec.clusterIPs = ['10.96.0.300'];
      expectCauses(create(svc), 'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');
      const next = examples.service();
      next.spec.clusterIP = '10.96.0.11';
      next.spec.clusterIPs = ['10.96.0.11'];
      expectCauses(update(next, examples.service()), 'spec.clusterIPs[0]: Invalid value: "10.96.0.11": may not change once set');
    });
    it('checks config map keys and immutability', () => {
      const cm = examples.configMap();
      cm.data = { 'a b': 'x', '..x': 'y' };
      cm.binaryData = { '..x': 'eQ==' };
      expectCauses(
        create(cm),
        "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        "data[..x]: Invalid value: \"..x\": must not start with '..'",
        "binaryData[..x]: Invalid value: \"..x\": must not start with '..'",
        'binaryData[..x]: Invalid value: "..x": duplicate of key present in data',
      );
      const old = examples.configMap();
      old.immutable = true;
      const next = examples.configMap();
      next.data = { color: 'red' };
      expectCauses(update(next, old), 'immutable: Forbidden: field is immutable when `immutable` is set', 'data: Forbidden: field is immutable when `immutable` is set');
      next.immutable = true;
      expectCauses(update(next, old), 'data: Forbidden: field is immutable when `immutable` is set');
    });
    it('limits config map size to 1 MiB', () => {
      const cm = examples.configMap();
      cm.data = { a: 'x'.repeat(1024 * 1024) };
      expectCauses(create(cm), ': Too long: must have at most 1048576 bytes');
    });
    it('checks secret types and keeps the type on update', () => {
      const s = examples.secret();
      s.type = 'kubernetes.io/tls';
      expectCauses(create(s), 'data[tls.crt]: Required value', 'data[tls.key]: Required value');
      const next = examples.secret();
      next.type = 'example.com/other';
      expectCauses(update(next, examples.secret()), 'type: Invalid value: "example.com/other": field is immutable');
    });
    it('checks node taints, CIDRs and provider ID changes', () => {
      const n = examples.node();
      n.spec!.podCIDR = '10.244.1.0/33';
      n.spec!.taints = [{ key: 'a', effect: 'NoSchedule' }, { key: 'a', effect: 'NoSchedule', value: 'x' }];
      expectCauses(
        create(n),
        'spec.podCIDR: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        'spec.taints[1]: Duplicate value: {"key":"a","effect":"NoSchedule"}: taints must be unique by key and effect pair',
      );
      const moved = examples.node();
      moved.spec!.providerID = 'ketch://elsewhere';
      expectCauses(update(moved, examples.node()), 'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid');
    });
    it('checks that events live in the namespace of their object', () => {
      const e = examples.event();
      e.involvedObject.namespace = 'other';
      e.type = 'Fatal';
      expectCauses(
        create(e),
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
        'type: Unsupported value: "Fatal": supported values: "Normal", "Warning"',
      );
      const nodeEvent = examples.event();
      nodeEvent.involvedObject = { kind: 'Node', name: 'worker-1' };
      expectCauses(create(nodeEvent));
    });
    it('checks endpoints addresses and ports', () => {
      const ep = examples.endpoints();
      ep.subsets![0]!.addresses![0]!.ip = 'nope';
      ep.subsets![0]!.ports = [{ name: 'a', port: 1 }, { port: 70000 }];
      expectCauses(
        create(ep),
        'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        'subsets[0].ports[1].name: Required value',
        'subsets[0].ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
      );
    });
    it('checks endpoint slices as kube does: address type, addresses, ports, and an immutable address type', () => {
      const s = examples.endpointSlice();
      s.endpoints[0]!.addresses = ['127.0.0.1'];
      s.endpoints[1]!.addresses = [];
      s.endpoints.push({ addresses: ['10.0.0.300'], nodeName: 'Bad_Node' });
      s.ports = [{ name: 'http', port: 80 }, { name: 'http', port: 81, protocol: 'UDP' }];
      expectCauses(
        create(s),
        'endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'endpoints[1].addresses: Required value: must contain at least 1 address',
        'endpoints[2].addresses[0]: Invalid value: "10.0.0.300": must be a valid IPv4 address',
        `endpoints[2].nodeName: Invalid value: "Bad_Node": ${SUBDOMAIN_MSG}`,
        'ports[1].name: Duplicate value: "http"',
      );
      const bad = examples.endpointSlice();
      bad.addressType = 'IP';
      expectCauses(create(bad), 'addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"');
      const many = examples.endpointSlice();
      many.endpoints = Array.from({ length: 1001 }, (_, i) => ({ addresses: [`10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`] }));
      expectCauses(create(many), 'endpoints: Too many: 1001: must have at most 1000 items');
      const v6 = examples.endpointSlice();
      v6.addressType = 'IPv6';
      expectCause(update(v6, examples.endpointSlice()), 'addressType: Invalid value: "IPv6": field is immutable');
    });
    it('checks lease durations', () => {
      const l = examples.lease();
      l.spec!.leaseDurationSeconds = 0;
      l.spec!.leaseTransitions = -1;
      expectCauses(
        create(l),
        'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
        'spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0',
      );
    });
    it('checks namespace finalizers', () => {
      const ns = examples.namespace();
      ns.spec = { finalizers: ['not valid!'] };
      assert.equal(create(ns)[0]?.field, 'spec.finalizers');
    });
  });
});

// ajv-formats is CommonJS (see validation/schema.ts).
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;

describe('rememberFormat', () => {
  it('answers as the format it wraps, for repeated strings too, past its size', () => {
    const plain = new Ajv();
    addFormats(plain);
    const remembered = new Ajv();
    addFormats(remembered);
    rememberFormat(remembered, 'date-time', 4);
    const v1 = plain.compile({ type: 'string', format: 'date-time' });
    const v2 = remembered.compile({ type: 'string', format: 'date-time' });
    const inputs = ['2026-12-06T14:21:30Z', '2026-12-06T14:21:30.123456Z', '2026-02-29T00:00:00Z', '2024-02-29T00:00:00Z', '2026-12-06 14:21:30Z', '2026-12-06T24:00:00Z', '2026-12-06T23:59:60Z', '2026-12-06T14:21:30', '2026-12-06T14:21:30+01:00', 'yesterday', ''];
    for (let round = 0; round < 3; round++) for (const s of inputs) assert.equal(v2(s), v1(s), `${s} (round ${round})`);
    assert.equal(v2('2026-13-01T00:00:00Z'), false);
    assert.equal(v2('2026-12-06T14:21:30Z'), true);
  });
});
