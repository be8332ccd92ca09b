// The API objects a pod names (kube's podutil.VisitPodSecretNames / VisitPodConfigmapNames, plus claims and its service
// account): what its node may read. Read from the raw object, so volume kinds ketch does not run still count.
import { isObject, type JsonObject } from '../../registry/object.js';

export interface PodRefs {
  secrets: string[];
  configMaps: string[];
  claims: string[];
  serviceAccount: string;
}

const arr = (v: unknown): JsonObject[] => (Array.isArray(v) ? v.filter(isObject) : []);
const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Volume sources that name a secret, and where: `secretRef.name` unless said otherwise. */
const SECRET_VOLUME_FIELDS: Record<string, (src: JsonObject) => string> = {
  secret: (s) => str(s.secretName),
  azureFile: (s) => str(s.secretName),
  cephfs: (s) => str(obj(s.secretRef).name),
  cinder: (s) => str(obj(s.secretRef).name),
  flexVolume: (s) => str(obj(s.secretRef).name),
  rbd: (s) => str(obj(s.secretRef).name),
  scaleIO: (s) => str(obj(s.secretRef).name),
  iscsi: (s) => str(obj(s.secretRef).name),
  storageos: (s) => str(obj(s.secretRef).name),
  csi: (s) => str(obj(s.nodePublishSecretRef).name),
};

function containers(spec: JsonObject): JsonObject[] {
  return [...arr(spec.initContainers), ...arr(spec.containers), ...arr(spec.ephemeralContainers)];
}

/** Everything a pod references by name, each once, in its namespace. */
export function podRefs(pod: JsonObject): PodRefs {
  const spec = obj(pod.spec);
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  const claims = new Set<string>();
  const add = (set: Set<string>, name: string): void => {
    if (name) set.add(name);
  };
  for (const s of arr(spec.imagePullSecrets)) add(secrets, str(s.name));
  for (const c of containers(spec)) {
    for (const e of arr(c.envFrom)) {
      add(secrets, str(obj(e.secretRef).name));
      add(configMaps, str(obj(e.configMapRef).name));
    }
    for (const e of arr(c.env)) {
      const from = obj(e.valueFrom);
      add(secrets, str(obj(from.secretKeyRef).name));
      add(configMaps, str(obj(from.configMapKeyRef).name));
    }
  }
  const podName = str(obj(pod.metadata).name);
  for (const v of arr(spec.volumes)) {
    for (const [field, nameOf] of Object.entries(SECRET_VOLUME_FIELDS)) if (isObject(v[field])) add(secrets, nameOf(v[field]));
    if (isObject(v.configMap)) add(configMaps, str(v.configMap.name));
    for (const p of arr(obj(v.projected).sources)) {
      add(secrets, str(obj(p.secret).name));
      add(configMaps, str(obj(p.configMap).name));
    }
    if (isObject(v.persistentVolumeClaim)) add(claims, str(v.persistentVolumeClaim.claimName));
    // A generic ephemeral volume's claim is named <pod>-<volume> (component-helpers' ephemeral.VolumeClaimName).
    else if (isObject(v.ephemeral) && podName) add(claims, `${podName}-${str(v.name)}`);
  }
  return { secrets: [...secrets], configMaps: [...configMaps], claims: [...claims], serviceAccount: str(spec.serviceAccountName) || str(spec.serviceAccount) };
}

/** kube's mirror-pod annotation: a pod a node made from a static manifest. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
