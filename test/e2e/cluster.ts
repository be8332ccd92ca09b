// E2e support: `ketch up` from source on a temp data dir with a local busybox mirror, runners for the real kubectl and
// for the ketch CLI (in-process), and a census of what the cluster leaves on the host (mounts, sandboxes, netns, veths).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CLAIMS_DIR } from '../../agent/runtime/host-claims.js';
import { run as runKetch } from '../../cli/main.js';
import { Sink } from '../cli/harness.js';
import { startBusyboxMirror } from '../support/local-registry.js';
import { freePort, waitFor } from '../support/util.js';

export const ENTRY = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a cluster left on the host. */
export interface Leftovers {
  mounts: string[];
  sandboxes: string[];
  netns: string[];
  veths: string[];
}

export interface UpClusterOptions {
  /** The pod network. Clusters that run at once on one host need distinct ones: the host routes to pod IPs by it. */
  clusterCidr?: string;
  /** More `ketch up` flags. */
  args?: string[];
  /** Run the built CLI as `npm start` does (`node bin/ketch.js`, i.e. dist/; `npm test` builds first). */
  fromDist?: boolean;
}

/** The installed entry point, what `npm start` and `npx ketch` run. */
export const BIN = fileURLToPath(new URL('../../bin/ketch.js', import.meta.url));

/** Mount points at or under path. */
export function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[1]?.startsWith(path));
}

/** The Linux bridge that ketch's runtime makes for a root (agent/runtime/service.ts names it so). */
export function bridgeOf(runtimeRoot: string): string {
  return `ketch${createHash('sha1').update(runtimeRoot).digest('hex').slice(0, 6)}`;
}

const netnsList = (): string[] =>
  existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : [];

/** A kubectl environment against a kubeconfig: its own cache and HOME, so that nothing of the host's leaks in. */
export function kubectlEnv(kubeconfig: string, home: string): NodeJS.ProcessEnv {
  return { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(home, 'kubecache'), HOME: home };
}

export function execResult(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 90_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** Runs the ketch CLI in this process (as `ketch --kubeconfig FILE ...args`), capturing its output. */
export async function ketchIn(kubeconfig: string, args: string[]): Promise<CommandResult> {
  const stdout = new Sink();
  const stderr = new Sink();
  const stdin = new PassThrough();
  stdin.end();
  const code = await runKetch(['--kubeconfig', kubeconfig, ...args], { stdout, stderr, stdin, env: { ...process.env, NO_COLOR: '1' } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const must = (what: string, r: CommandResult): string => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
};

/** A `ketch` command from source, started; ready once its output includes `ready`. */
export interface KetchProcess {
  proc: ChildProcess;
  output(): string;
  /** Sends the signal and resolves to the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `ketch ARGS`; `prefix` runs it through another command (e.g. nsenter into a node's network namespace). */
export async function startKetch(args: string[], ready: string, timeoutMs = 120_000, fromDist = false, prefix: string[] = []): Promise<KetchProcess> {
  const argv = [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), ...(fromDist ? [BIN, ...args] : ['--import', 'tsx', ENTRY, ...args])];
  const proc = spawn(prefix[0] ?? process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const exited = exit.then((code) => {
    throw new Error(`ketch ${args[0] ?? ''} exited (${code}): ${log}`);
  });
  exited.catch(() => undefined);
  const handle: KetchProcess = {
    proc,
    output: () => log,
    stop: async (signal = 'SIGINT') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exit;
    },
  };
  try {
    await Promise.race([waitFor(() => log.includes(ready), { timeoutMs, what: `ketch ${args[0] ?? ''} to say "${ready}"` }), exited]);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return handle;
}

/** The real kubectl and the ketch CLI (in this process) against one kubeconfig. */
export class Clients {
  constructor(
    readonly kubeconfig: string,
    /** kubectl's HOME and cache. */
    readonly home: string,
  ) {}

  kubectlResult(args: string[], timeoutMs?: number): Promise<CommandResult> {
    return execResult('kubectl', args, { env: kubectlEnv(this.kubeconfig, this.home), ...(timeoutMs ? { timeoutMs } : {}) });
  }

  /** kubectl ARGS; its stdout, or an error with both streams when it fails. */
  async kubectl(...args: string[]): Promise<string> {
    return must(`kubectl ${args.join(' ')}`, await this.kubectlResult(args));
  }

  /** A long-running kubectl (logs -f, attach): read its output as it comes; kill it to end it. */
  spawnKubectl(args: string[]): { proc: ChildProcess; output: () => string } {
    const proc = spawn('kubectl', args, { env: kubectlEnv(this.kubeconfig, this.home), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    return { proc, output: () => out };
  }

  ketchResult(args: string[]): Promise<CommandResult> {
    return ketchIn(this.kubeconfig, args);
  }

  /** ketch ARGS (in this process); its stdout, or an error with both streams when it fails. */
  async ketch(...args: string[]): Promise<string> {
    return must(`ketch ${args.join(' ')}`, await this.ketchResult(args));
  }
}

/**
 * A one-node cluster as `ketch up` runs it, started from source (`node --import tsx cli/entry.ts up`): `npm start`
 * runs the built dist/, which a test could find stale; the command and its flags are the same.
 */
export class UpCluster extends Clients {
  readonly bridge: string;
  private up: KetchProcess | undefined;
  private port = 0;
  /** The built-in registry's port (a free one, so that no other registry on the host is in the way). */
  registryPort = 0;
  private readonly seen = new Set<string>();
  private census: NodeJS.Timeout | undefined;

  private constructor(
    readonly dir: string,
    readonly mirror: Awaited<ReturnType<typeof startBusyboxMirror>>,
    private readonly opts: UpClusterOptions,
  ) {
    super(join(dir, 'server', 'admin.kubeconfig'), dir);
    this.bridge = bridgeOf(join(dir, 'runtime'));
  }

  /** A data dir and a running mirror; the cluster starts with start(). */
  static async create(opts: UpClusterOptions = {}): Promise<UpCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'ketch-e2e-'));
    return new UpCluster(dir, await startBusyboxMirror(), opts);
  }

  /** `ketch up`'s output so far (start-up progress, warnings). */
  output(): string {
    return this.up?.output() ?? '';
  }

  get sandboxesDir(): string {
    return join(this.dir, 'runtime', 'sandboxes');
  }

  /** Starts `ketch up` (on the same port as before, after a stop) and waits for "ketch is up": the node is Ready. */
  async start(): Promise<void> {
    this.up = await startKetch(await this.upArgs(), 'ketch is up', 120_000, this.opts.fromDist);
    // Sandboxes come and go with pods; their ids name the netns and veths that must be gone after stop().
    this.watchSandboxes();
  }

  /** The `ketch up` command line (ports chosen on first use, kept for a restart). */
  async upArgs(): Promise<string[]> {
    this.port ||= await freePort();
    this.registryPort ||= await freePort();
    const args = ['up', '--data-dir', this.dir, '--secure-port', String(this.port), '--bind-address', '127.0.0.1', '--agent-port', '0', '--registry-port', String(this.registryPort)];
    args.push('--registry-mirror', `docker.io=${this.mirror.url}`);
    if (this.opts.clusterCidr) args.push('--cluster-cidr', this.opts.clusterCidr);
    return [...args, ...(this.opts.args ?? [])];
  }

  /** Follows the sandboxes of a `ketch up` this test started itself (so that leftovers() knows them). */
  watchSandboxes(): void {
    this.census = setInterval(() => this.noteSandboxes(), 250);
    this.census.unref();
  }

  private noteSandboxes(): void {
    if (existsSync(this.sandboxesDir)) for (const id of readdirSync(this.sandboxesDir)) this.seen.add(id);
  }

  /** Ctrl-C: SIGINT, then `ketch up` must exit 0. */
  async stop(): Promise<void> {
    const up = this.up;
    if (!up) return;
    this.noteSandboxes();
    clearInterval(this.census);
    const code = await up.stop('SIGINT');
    this.up = undefined;
    if (code !== 0) throw new Error(`ketch up exited ${code} after SIGINT; output:\n${up.output()}`);
  }

  /** kill -9 of `ketch up` (a crash): resolves once it and its runtime child are gone, leaving what they made. */
  async kill(): Promise<void> {
    const up = this.up;
    if (!up) return;
    this.noteSandboxes();
    clearInterval(this.census);
    const claim = JSON.parse(readFileSync(join(CLAIMS_DIR, `${this.bridge}.json`), 'utf8')) as { pid: number };
    await up.stop('SIGKILL');
    this.up = undefined;
    await waitFor(() => !existsSync(`/proc/${claim.pid}`), { timeoutMs: 30_000, what: 'the runtime child to exit after its parent died' });
  }

  /** Mounts under the data dir, sandboxes in the runtime, and the netns and veths of every sandbox seen while running. */
  leftovers(): Leftovers {
    this.noteSandboxes();
    return leftovers(this.dir, join(this.dir, 'runtime'), this.seen);
  }

  /** How many sandboxes this cluster has had (so that a leftovers check is known to have looked at something). */
  get sandboxesSeen(): number {
    return this.seen.size;
  }

  /** The ids of the sandboxes this cluster has had (their cgroups are /ketch/<id's first 12>). */
  get sandboxIds(): string[] {
    this.noteSandboxes();
    return [...this.seen];
  }

  /** Kills a cluster still running (a failed test), stops the mirror, removes the bridge and, if nothing is mounted, the dir. */
  async dispose(): Promise<void> {
    clearInterval(this.census);
    if (this.up) {
      const up = this.up;
      this.up = undefined;
      const stopped = await Promise.race([up.stop('SIGINT').then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 30_000).unref())]);
      if (!stopped) {
        up.proc.kill('SIGKILL');
        // A killed agent leaves its nftables tables on the host (the next agent would replace them): removed here.
        for (const table of ['ketch-proxy', `${this.bridge}-hostports`]) await execResult('nft', ['delete', 'table', 'ip', table]).catch(() => undefined);
      }
    }
    await this.mirror.stop();
    await removeBridgeAndDir(this.bridge, this.dir);
  }
}

/** What a runtime root left: mounts under dir, its sandboxes, and the netns and veths of the given sandbox ids. */
export function leftovers(dir: string, runtimeRoot: string, sandboxIds: Iterable<string>): Leftovers {
  const sandboxes = join(runtimeRoot, 'sandboxes');
  const ids = [...sandboxIds].map((id) => id.slice(0, 12));
  const brif = join('/sys/class/net', bridgeOf(runtimeRoot), 'brif');
  const veths = new Set([...(existsSync(brif) ? readdirSync(brif) : []), ...ids.map((id) => `kv${id}`).filter((v) => existsSync(join('/sys/class/net', v)))]);
  return {
    mounts: mountsUnder(dir),
    sandboxes: existsSync(sandboxes) ? readdirSync(sandboxes) : [],
    netns: netnsList().filter((n) => ids.some((id) => n === `ketch-${id}`)),
    veths: [...veths],
  };
}

/** Test clean-up: the runtime's bridge (ketch leaves it for the next start) and, if nothing is mounted there, the dir. */
export async function removeBridgeAndDir(bridge: string, dir: string): Promise<void> {
  await execResult('ip', ['link', 'del', bridge]).catch(() => undefined);
  if (!mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
}
