// ServiceAccount admission (plugin/pkg/admission/serviceaccount): a new pod runs as spec.serviceAccountName ("default"
// when unset), which must exist, and mounts the kube-api-access-XXXXX token volume unless automount is off.
import type { Container, Pod, ServiceAccount, Volume } from '../../api/index.js';
import { forbiddenBy } from '../admission/namespace-lifecycle.js';
import type { Admission } from '../registry/rest.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const TOKEN_VOLUME_PREFIX = 'kube-api-access-';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/** kube-apiserver's WarnOnlyBoundTokenExpirationSeconds: what the token volume asks for. */
export const TOKEN_VOLUME_EXPIRATION_SECONDS = 3607;
const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

export interface ServiceAccountAdmissionDeps {
  /** undefined when there is no such account. */
  getServiceAccount(namespace: string, name: string): Promise<ServiceAccount | undefined>;
  /** Waits between lookups of a missing "default" account, which the publisher is about to create. */
  delay?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** The projected volume kube-apiserver's TokenVolumeSource describes. */
export function tokenVolume(name: string): Volume {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: TOKEN_VOLUME_EXPIRATION_SECONDS } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

export function serviceAccountAdmission(deps: ServiceAccountAdmissionDeps): Admission {
  const delay = deps.delay ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;

  /** As getServiceAccount: a missing "default" account is looked up ten times, 100-200ms apart. */
  async function lookup(namespace: string, name: string): Promise<ServiceAccount | undefined> {
    const attempts = name === DEFAULT_SERVICE_ACCOUNT ? 10 : 1;
    const interval = 100 + Math.floor(random() * 100);
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await delay(interval);
      const sa = await deps.getServiceAccount(namespace, name);
      if (sa) return sa;
    }
    return undefined;
  }

  return async ({ operation, info, namespace, name, obj, subresource }) => {
    if (operation !== 'create' || subresource || info.group !== '' || info.resource !== 'pods' || !obj) return;
    const pod = obj as unknown as Pod;
    if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return;
    const spec = pod.spec;
    spec.serviceAccountName ||= spec.serviceAccount || DEFAULT_SERVICE_ACCOUNT;
    spec.serviceAccount = spec.serviceAccountName;
    const saName = spec.serviceAccountName;
    const sa = await lookup(namespace, saName);
    if (!sa) throw forbiddenBy(info, name, `error looking up service account ${namespace}/${saName}: serviceaccount "${saName}" not found`);
    if (spec.automountServiceAccountToken ?? sa.automountServiceAccountToken ?? true) mountToken(spec, random);
    if (!spec.imagePullSecrets?.length && sa.imagePullSecrets?.length) spec.imagePullSecrets = sa.imagePullSecrets.map((s) => ({ name: s.name ?? '' }));
  };
}

function mountToken(spec: Pod['spec'], random: () => number): void {
  const existing = (spec.volumes ?? []).find((v) => v.name.startsWith(TOKEN_VOLUME_PREFIX));
  let volumeName = existing?.name;
  if (!volumeName) {
    volumeName = TOKEN_VOLUME_PREFIX;
    for (let i = 0; i < 5; i++) volumeName += NAME_CHARS[Math.floor(random() * NAME_CHARS.length)];
  }
  let needed = false;
  const mount = (c: Container): void => {
    // A container that mounts something at the token path already keeps it.
    if ((c.volumeMounts ?? []).some((m) => m.mountPath === TOKEN_MOUNT_PATH)) return;
    (c.volumeMounts ??= []).push({ name: volumeName, readOnly: true, mountPath: TOKEN_MOUNT_PATH });
    needed = true;
  };
  for (const c of spec.initContainers ?? []) mount(c);
  for (const c of spec.containers) mount(c);
  if (!existing && needed) (spec.volumes ??= []).push(tokenVolume(volumeName));
}
