// A node's own credentials for an agent started by a test beside a server's data dir: a kubeconfig as
// system:node:NAME (so the Node authorizer and NodeRestriction apply to it) and a serving certificate signed by the
// cluster CA (which the API server verifies), as `ketch up` gives its agent. Joining nodes get theirs through the CSR API.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { ensureNodeCredentials, kubeconfigYaml } from '../../apiserver/pki/pki.js';

export interface NodeCredentialFiles {
  kubeconfig: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  /** The agent flags that use them. */
  agentArgs: string[];
}

/** `extraNames`: more names or addresses for the serving certificate (a node address other than the host's). */
export async function nodeCredentialFiles(serverDataDir: string, nodeName: string, extraNames: string[] = []): Promise<NodeCredentialFiles> {
  const creds = await ensureNodeCredentials(serverDataDir, nodeName, extraNames);
  const admin = YAML.parse(readFileSync(join(serverDataDir, 'admin.kubeconfig'), 'utf8')) as { clusters: { cluster: { server: string } }[] };
  const server = admin.clusters[0]?.cluster.server ?? '';
  const kubeconfig = join(serverDataDir, `node-${nodeName}.kubeconfig`);
  const caPem = readFileSync(join(serverDataDir, 'pki', 'ca.crt'), 'utf8');
  writeFileSync(kubeconfig, kubeconfigYaml({ server, caPem, user: `system:node:${nodeName}`, client: creds.client }), { mode: 0o600 });
  return {
    kubeconfig,
    tlsCertFile: creds.servingCertFile,
    tlsKeyFile: creds.servingKeyFile,
    agentArgs: ['--kubeconfig', kubeconfig, '--tls-cert-file', creds.servingCertFile, '--tls-private-key-file', creds.servingKeyFile],
  };
}
