// `ketch token create|list|delete`: bootstrap tokens, as `kubeadm token` manages them (Secrets bootstrap-token-<id>
// in kube-system); `create --print-join-command` prints the `ketch join` line for a new worker.
import type { Command } from 'commander';
import YAML from 'yaml';
import {
  bootstrapTokenSecret,
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  CLUSTER_INFO,
  DEFAULT_TOKEN_GROUP,
  generateBootstrapToken,
  isTokenId,
  parseBootstrapToken,
  secretNameOf,
  tokenFromSecret,
  type BootstrapToken,
} from '../../api/bootstrap-token.js';
import { isNotFound } from '../../api/errors.js';
import type { ConfigMap, Secret } from '../../api/index.js';
import { CONFIGMAPS, SECRETS } from '../../client/resources.js';
import { humanDuration, parseDuration } from '../../lib/duration.js';
import { publicKeyPin } from '../../lib/x509.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { formatColumns } from '../printers/table.js';

interface CreateFlags {
  ttl: string;
  description?: string;
  usages: string;
  groups: string;
  printJoinCommand?: boolean;
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The token to create from the flags (and an explicit token given as the argument, as kubeadm allows). */
export function tokenFromFlags(given: string | undefined, f: CreateFlags, nowMs: number): BootstrapToken {
  const parts = given ? parseBootstrapToken(given) : generateBootstrapToken();
  if (!parts) throw new CliError(`the bootstrap token "${given ?? ''}" was not of the form "[a-z0-9]{6}.[a-z0-9]{16}"`);
  const ttlMs = parseDuration(f.ttl);
  const usages = f.usages.split(',').map((u) => u.trim()).filter(Boolean);
  const unknown = usages.filter((u) => u !== 'authentication' && u !== 'signing');
  if (unknown.length) throw new CliError(`invalid bootstrap token usage string: ${unknown.join(',')}, valid usage options: authentication, signing`);
  const groups = f.groups.split(',').map((g) => g.trim()).filter(Boolean);
  if (groups.length && !usages.includes('authentication')) throw new CliError('token groups cannot be specified unless --usages includes "authentication"');
  const bad = groups.find((g) => !/^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/.test(g));
  if (bad) throw new CliError(`--groups: "${bad}" must start with "system:bootstrappers:" and contain only [a-z0-9:-]`);
  return {
    ...parts,
    ...(f.description ? { description: f.description } : {}),
    ...(ttlMs > 0 ? { expiration: rfc3339(nowMs + ttlMs) } : {}),
    usages: { authentication: usages.includes('authentication'), signing: usages.includes('signing') },
    extraGroups: groups,
  };
}

/** The `ketch join` line for a token: the address and CA from kube-public/cluster-info, else from the kubeconfig. */
async function joinCommand(cli: Cli, token: BootstrapToken): Promise<string> {
  let server = cli.config.server;
  let ca = cli.config.ca;
  try {
    const cm = await cli.rest.resource<ConfigMap>(CONFIGMAPS).get(CLUSTER_INFO.namespace, CLUSTER_INFO.name);
    const kc = YAML.parse(cm.data?.[CLUSTER_INFO.kubeconfigKey] ?? '') as { clusters?: { cluster?: { server?: string; 'certificate-authority-data'?: string } }[] } | null;
    const c = kc?.clusters?.[0]?.cluster;
    if (c?.server) server = c.server;
    if (c?.['certificate-authority-data']) ca = Buffer.from(c['certificate-authority-data'], 'base64').toString('utf8');
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!ca) throw new CliError('the kubeconfig names no certificate authority, so the join command cannot pin it');
  return `ketch join ${server} --token ${token.id}.${token.secret} --discovery-token-ca-cert-hash ${publicKeyPin(ca)}`;
}

async function create(cli: Cli, given: string | undefined, f: CreateFlags): Promise<void> {
  const token = tokenFromFlags(given, f, Date.now());
  await cli.rest.resource<Secret>(SECRETS).create(BOOTSTRAP_TOKEN_NAMESPACE, bootstrapTokenSecret(token) as Secret);
  cli.out(f.printJoinCommand ? await joinCommand(cli, token) : `${token.id}.${token.secret}`);
}

async function list(cli: Cli): Promise<void> {
  const secrets = await cli.rest.resource<Secret>(SECRETS).list(BOOTSTRAP_TOKEN_NAMESPACE, { fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}` });
  const now = Date.now();
  const rows: string[][] = [];
  for (const s of secrets.items) {
    const t = tokenFromSecret(s);
    if ('invalid' in t) {
      cli.err(`[token] the Secret ${s.metadata?.name ?? ''} is not a valid bootstrap token: ${t.invalid}`);
      continue;
    }
    const exp = t.expiration ? Date.parse(t.expiration) : undefined;
    const usages = [t.usages.authentication ? 'authentication' : '', t.usages.signing ? 'signing' : ''].filter(Boolean).join(',');
    rows.push([`${t.id}.${t.secret}`, exp === undefined ? '<forever>' : exp <= now ? '<invalid>' : humanDuration(exp - now), t.expiration ?? '<never>', usages || '<none>', t.description ?? '<none>', t.extraGroups.join(',') || '<none>']);
  }
  if (rows.length) cli.out(formatColumns([['TOKEN', 'TTL', 'EXPIRES', 'USAGES', 'DESCRIPTION', 'EXTRA GROUPS'], ...rows]));
}

async function remove(cli: Cli, ids: string[]): Promise<void> {
  if (!ids.length) throw new CliError('missing argument; "token delete" is missing token of form "[a-z0-9]{6}" or "[a-z0-9]{6}\\.[a-z0-9]{16}"');
  for (const arg of ids) {
    const id = parseBootstrapToken(arg)?.id ?? (isTokenId(arg) ? arg : undefined);
    if (!id) {
      cli.fail(new CliError(`given token didn't match pattern "[a-z0-9]{6}" or "[a-z0-9]{6}\\.[a-z0-9]{16}"`));
      continue;
    }
    try {
      await cli.rest.resource<Secret>(SECRETS).delete(BOOTSTRAP_TOKEN_NAMESPACE, secretNameOf(id));
      cli.out(`bootstrap token "${id}" deleted`);
    } catch (e) {
      cli.fail(isNotFound(e) ? new CliError(`bootstrap token "${id}" not found`) : e);
    }
  }
}

export function register(program: Command): void {
  const token = program.command('token').description('manage bootstrap tokens, the credentials workers join with (as kubeadm token)');
  token
    .command('create')
    .description('create a bootstrap token (printed as <id>.<secret>)')
    .argument('[token]', 'the token to create (default: a random one)')
    .option('--ttl <duration>', 'how long until the token is deleted (0: never)', '24h0m0s')
    .option('--description <text>', 'a description of the token')
    .option('--usages <list>', 'what the token may be used for (authentication, signing)', 'signing,authentication')
    .option('--groups <list>', 'extra groups the token authenticates in', DEFAULT_TOKEN_GROUP)
    .option('--print-join-command', 'print the whole `ketch join` command instead of the token')
    .action((given: string | undefined, f: CreateFlags, cmd: Command) => create(cliOf(cmd), given, f));
  token
    .command('list')
    .description('list the bootstrap tokens')
    .action((_f: unknown, cmd: Command) => list(cliOf(cmd)));
  token
    .command('delete')
    .description('delete bootstrap tokens by id or whole token')
    .argument('[tokens...]', 'token ids ([a-z0-9]{6}) or tokens')
    .action((ids: string[], _f: unknown, cmd: Command) => remove(cliOf(cmd), ids));
}
