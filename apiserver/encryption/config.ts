// --encryption-provider-config: kube-apiserver's EncryptionConfiguration (apiserver.config.k8s.io/v1), read and
// checked as kube does, into one ProviderChain per resource it names.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import YAML from 'yaml';
import { aesCbc, aesGcm, identity, ProviderChain, secretbox, type PrefixedTransformer } from './transformers.js';

interface KeyConfig {
  name?: unknown;
  secret?: unknown;
}
interface ProviderConfig {
  aesgcm?: { keys?: KeyConfig[] };
  aescbc?: { keys?: KeyConfig[] };
  secretbox?: { keys?: KeyConfig[] };
  identity?: object;
  kms?: unknown;
}
interface ResourceConfig {
  resources?: unknown;
  providers?: ProviderConfig[];
}

export class EncryptionConfigError extends Error {
  override name = 'EncryptionConfigError';
}

/** The configured chains, looked up by group and resource. */
export class EncryptionConfig {
  constructor(private readonly rules: readonly { resource: string; chain: ProviderChain }[]) {}

  /** The chain for a resource (`secrets`, `deployments.apps`), from the first entry that names it or its group. */
  chainFor(group: string, resource: string): ProviderChain | undefined {
    const full = group ? `${resource}.${group}` : resource;
    const groupWild = `*.${group}`;
    return this.rules.find((r) => r.resource === full || r.resource === groupWild || r.resource === '*.*')?.chain;
  }

  /** The resource patterns configured, in order. */
  get resources(): string[] {
    return this.rules.map((r) => r.resource);
  }
}

const KEY_SIZES: Record<'aesgcm' | 'aescbc' | 'secretbox', readonly number[]> = { aesgcm: [16, 24, 32], aescbc: [16, 24, 32], secretbox: [32] };
const MAKE = { aesgcm: aesGcm, aescbc: aesCbc, secretbox } as const;

function keysOf(kind: 'aesgcm' | 'aescbc' | 'secretbox', keys: KeyConfig[] | undefined, path: string): PrefixedTransformer[] {
  if (!keys?.length) throw new EncryptionConfigError(`${path}.${kind}.keys: Required value: at least one key is required`);
  const names = new Set<string>();
  return keys.map((k, i) => {
    const at = `${path}.${kind}.keys[${i}]`;
    if (typeof k.name !== 'string' || !k.name) throw new EncryptionConfigError(`${at}.name: Required value: key name is required`);
    if (k.name.includes(':')) throw new EncryptionConfigError(`${at}.name: Invalid value: "${k.name}": key name must not contain ":"`);
    if (names.has(k.name)) throw new EncryptionConfigError(`${at}.name: Duplicate value: "${k.name}"`);
    names.add(k.name);
    if (typeof k.secret !== 'string' || !k.secret) throw new EncryptionConfigError(`${at}.secret: Required value: secret is required`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(k.secret)) throw new EncryptionConfigError(`${at}.secret: Invalid value: "REDACTED": secrets must be base64 encoded`);
    const secret = Buffer.from(k.secret, 'base64');
    if (!KEY_SIZES[kind].includes(secret.length)) {
      throw new EncryptionConfigError(`${at}.secret: Invalid value: "REDACTED": secret is not of the expected length, got ${secret.length}, expected one of ${JSON.stringify(KEY_SIZES[kind])}`);
    }
    return MAKE[kind](k.name, secret);
  });
}

function providersOf(providers: ProviderConfig[] | undefined, path: string): PrefixedTransformer[] {
  if (!providers?.length) throw new EncryptionConfigError(`${path}.providers: Required value: at least one provider is required`);
  return providers.flatMap((p, i) => {
    const at = `${path}.providers[${i}]`;
    const kinds = Object.keys(p ?? {});
    if (kinds.length !== 1) throw new EncryptionConfigError(`${at}: Invalid value: more than one provider specified in a single element, should split into different list elements`);
    const kind = kinds[0]!;
    if (kind === 'identity') return [identity];
    if (kind === 'aesgcm' || kind === 'aescbc' || kind === 'secretbox') return keysOf(kind, p[kind]?.keys, at);
    throw new EncryptionConfigError(`${at}: Unsupported value: "${kind}": supported values: "aescbc", "aesgcm", "identity", "secretbox"`);
  });
}

/** Parses the YAML or JSON text of an EncryptionConfiguration. */
export function parseEncryptionConfig(text: string): EncryptionConfig {
  const doc = YAML.parse(text) as { apiVersion?: unknown; kind?: unknown; resources?: ResourceConfig[] } | null;
  if (!doc || doc.kind !== 'EncryptionConfiguration' || doc.apiVersion !== 'apiserver.config.k8s.io/v1') {
    throw new EncryptionConfigError('not an EncryptionConfiguration of apiserver.config.k8s.io/v1');
  }
  if (!doc.resources?.length) throw new EncryptionConfigError('resources: Required value: EncryptionConfiguration.Resources must contain at least one resource');
  const seen = new Set<string>();
  const rules: { resource: string; chain: ProviderChain }[] = [];
  doc.resources.forEach((r, i) => {
    const path = `resources[${i}]`;
    if (!Array.isArray(r.resources) || !r.resources.length) throw new EncryptionConfigError(`${path}.resources: Required value: resources is required`);
    const chain = new ProviderChain(providersOf(r.providers, path));
    r.resources.forEach((name: unknown, j) => {
      if (typeof name !== 'string' || !/^(\*|[a-z0-9.-]+)(\.(\*|[a-z0-9.-]+))?$/.test(name)) {
        throw new EncryptionConfigError(`${path}.resources[${j}]: Invalid value: ${JSON.stringify(name)}: resource must be lowercase, "*.group" or "*.*"`);
      }
      if (seen.has(name)) throw new EncryptionConfigError(`${path}.resources[${j}]: Duplicate value: "${name}": each resource may be listed once`);
      seen.add(name);
      rules.push({ resource: name, chain });
    });
  });
  return new EncryptionConfig(rules);
}

export async function loadEncryptionConfig(path: string): Promise<EncryptionConfig> {
  return parseEncryptionConfig(await readFile(path, 'utf8'));
}

/** An EncryptionConfiguration for Secrets: AES-GCM under these keys (the first writes), then identity. */
export function secretsEncryptionYaml(keys: readonly { name: string; secret: string }[]): string {
  return [
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: EncryptionConfiguration',
    'resources:',
    '- resources: [secrets]',
    '  providers:',
    '  - aesgcm:',
    '      keys:',
    ...keys.map((k) => `      - {name: ${k.name}, secret: ${k.secret}}`),
    '  - identity: {}',
    '',
  ].join('\n');
}

/**
 * The configuration `ketch up` keeps beside the PKI when none is given: Secrets under a generated AES-GCM key
 * (identity after it, so that Secrets written before encryption was on stay readable until rewritten). Made once,
 * mode 0600; its path is returned.
 */
export async function ensureDefaultEncryptionConfig(path: string): Promise<string> {
  const text = secretsEncryptionYaml([{ name: `key-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`, secret: randomBytes(32).toString('base64') }]);
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Made by an earlier start: kept as it is (its key encrypts what is stored).
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return path;
}
