// What every verb needs: the global flags (--kubeconfig, --context, -n), a REST client, discovery, and the streams.
import type { Command } from 'commander';
import { loadClientConfig, type ClientConfig } from '../client/kubeconfig.js';
import { RestClient, type ObjectLike, type ResourceClient } from '../client/rest.js';
import { formatError } from './errors.js';
import { err, out, processIo, type Io } from './io.js';
import { Resolver, type ApiResource } from './resources.js';

export interface GlobalFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  server?: string;
  token?: string;
  insecureSkipTlsVerify?: boolean;
}

export class Cli {
  private cfg?: ClientConfig;
  private restClient?: RestClient;
  private resolverP?: Promise<Resolver>;
  /** Set when an error was reported but the verb carried on (kubectl's per-object errors): the exit code becomes 1. */
  failed = false;

  constructor(
    readonly io: Io,
    readonly flags: GlobalFlags,
  ) {}

  get config(): ClientConfig {
    if (!this.cfg) {
      const f = this.flags;
      this.cfg = loadClientConfig({
        ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
        ...(f.context ? { context: f.context } : {}),
        ...(f.namespace ? { namespace: f.namespace } : {}),
        ...(f.server ? { server: f.server } : {}),
        ...(f.token ? { token: f.token } : {}),
      });
      if (f.insecureSkipTlsVerify) this.cfg.insecureSkipTLSVerify = true;
    }
    return this.cfg;
  }

  get rest(): RestClient {
    return (this.restClient ??= new RestClient(this.config, `ketch/${process.env.npm_package_version ?? '0.1.0'} (${process.platform}/${process.arch})`));
  }

  /** -n, else the context's namespace, else "default". */
  get namespace(): string {
    return this.flags.namespace ?? this.config.namespace;
  }

  resolver(): Promise<Resolver> {
    return (this.resolverP ??= Resolver.discover(this.rest));
  }

  async resolve(arg: string): Promise<ApiResource> {
    return (await this.resolver()).resolve(arg);
  }

  client<T extends ObjectLike = ObjectLike>(res: ApiResource): ResourceClient<T> {
    return this.rest.resource<T>(res);
  }

  /** The namespace to use for a resource: undefined for cluster-scoped ones. */
  nsFor(res: ApiResource, explicit?: string): string | undefined {
    return res.namespaced ? (explicit ?? this.namespace) : undefined;
  }

  out(text: string): void {
    out(this.io, text);
  }

  err(text: string): void {
    err(this.io, text);
  }

  /** Reports an error and carries on; the command exits 1 at the end. */
  fail(e: unknown): void {
    this.failed = true;
    this.err(formatError(e, this.cfg?.server));
  }
}

const ios = new WeakMap<Command, Io>();
const clis = new WeakMap<Command, Cli>();

const rootOf = (cmd: Command): Command => {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
};

export function setIo(program: Command, io: Io): void {
  ios.set(program, io);
}

/** The Cli of the program that cmd belongs to (one per run). */
export function cliOf(cmd: Command): Cli {
  const root = rootOf(cmd);
  let cli = clis.get(root);
  if (!cli) {
    cli = new Cli(ios.get(root) ?? processIo(), cmd.optsWithGlobals<GlobalFlags>());
    clis.set(root, cli);
  }
  return cli;
}

/** The Cli of a program if a verb created one (to read `failed` and the server for error messages). */
export function existingCli(program: Command): Cli | undefined {
  return clis.get(program);
}

export function serverOf(cli: Cli | undefined): string | undefined {
  try {
    return cli?.config.server;
  } catch {
    return undefined;
  }
}
