// The front proxy's credentials (kube's request-header authentication): a CA of its own, separate from the cluster CA,
// a client certificate it signs for the proxy (CN=front-proxy-client), and the extension-apiserver-authentication
// ConfigMap in kube-system that tells extension API servers which CA and headers to trust, as kube publishes it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../../api/errors.js';
import { fileExists } from '../pki/files.js';
import { createCa, issueCert, type CertPair } from '../pki/pki.js';
import type { Store } from '../registry/store.js';

export const FRONT_PROXY_CLIENT = 'front-proxy-client';
export const USER_HEADER = 'X-Remote-User';
export const GROUP_HEADER = 'X-Remote-Group';
export const EXTRA_PREFIX = 'X-Remote-Extra-';

export interface FrontProxyPki {
  ca: CertPair;
  client: CertPair;
}

async function save(dir: string, name: string, pair: CertPair): Promise<CertPair> {
  await writeFile(join(dir, `${name}.crt`), pair.certPem, { mode: 0o644 });
  await writeFile(join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
  return pair;
}

async function loadOrMake(dir: string, name: string, make: () => Promise<CertPair>): Promise<CertPair> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  if ((await fileExists(crt)) && (await fileExists(key))) return { certPem: await readFile(crt, 'utf8'), keyPem: await readFile(key, 'utf8') };
  return save(dir, name, await make());
}

/** DIR/pki/front-proxy-ca.{crt,key} and front-proxy-client.{crt,key}, created when missing. */
export async function ensureFrontProxyPki(dataDir: string): Promise<FrontProxyPki> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const freshCa = !(await fileExists(join(dir, 'front-proxy-ca.crt')));
  const ca = await loadOrMake(dir, 'front-proxy-ca', () => createCa('front-proxy-ca'));
  const make = (): Promise<CertPair> => issueCert(ca, { commonName: FRONT_PROXY_CLIENT, usage: 'client' });
  // A new CA invalidates a client certificate an older one signed.
  const client = freshCa ? await save(dir, FRONT_PROXY_CLIENT, await make()) : await loadOrMake(dir, FRONT_PROXY_CLIENT, make);
  return { ca, client };
}

/** kube-system/extension-apiserver-authentication: the client CA and the request-header settings, kept current. */
export async function publishAuthenticationConfigMap(configMaps: Store, clientCaPem: string, pki: FrontProxyPki): Promise<void> {
  const data = {
    'client-ca-file': clientCaPem,
    'requestheader-client-ca-file': pki.ca.certPem,
    'requestheader-allowed-names': JSON.stringify([FRONT_PROXY_CLIENT]),
    'requestheader-username-headers': JSON.stringify([USER_HEADER]),
    'requestheader-group-headers': JSON.stringify([GROUP_HEADER]),
    'requestheader-extra-headers-prefix': JSON.stringify([EXTRA_PREFIX]),
    'requestheader-uid-headers': JSON.stringify(['X-Remote-Uid']),
  };
  const name = 'extension-apiserver-authentication';
  await configMaps.update(
    'kube-system',
    name,
    (cur) => ({ apiVersion: 'v1', kind: 'ConfigMap', ...(cur ?? {}), metadata: { ...(cur?.metadata ?? {}), name, namespace: 'kube-system' }, data }),
    { allowCreate: true, fieldManager: 'ketch-apiserver' },
  ).catch((err: unknown) => {
    // Another server sharing the storage wrote it at the same moment: its content is the same.
    if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
  });
}
