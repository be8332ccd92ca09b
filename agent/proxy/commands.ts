// The host commands the service proxy runs: `nft -f -` (one transaction per call, so a ruleset change applies whole
// or not at all) and `conntrack -D` (stale UDP entries). The seam tests use to run them in a network namespace.
import { spawn } from 'node:child_process';

export interface HostCommands {
  /** Applies an nft script as one transaction; rejects with nft's message when the kernel refuses it. */
  nft(script: string): Promise<void>;
  /** Runs nft with arguments (e.g. `list table ip ketch-proxy`) and returns its output. */
  nftList(args: string[]): Promise<string>;
  /** Deletes conntrack entries; "0 flow entries have been deleted" is not an error. */
  conntrackDelete(args: string[]): Promise<void>;
}

export class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${String(code)}): ${stderr.trim().slice(0, 2000)}`);
    this.name = 'CommandFailed';
  }
}

function exec(argv: string[], input: string | undefined, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // A child that exits early closes stdin: the write error is the exit status' business, not ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** The real commands, in this network namespace or (netns) in a named one through `ip netns exec`. */
export function hostCommands(opts: { netns?: string; timeoutMs?: number } = {}): HostCommands {
  const prefix = opts.netns ? ['ip', 'netns', 'exec', opts.netns] : [];
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return {
    async nft(script) {
      const r = await exec([...prefix, 'nft', '-f', '-'], script, timeoutMs);
      if (r.code !== 0) throw new CommandFailed('nft -f -', r.code, r.stderr);
    },
    async nftList(args) {
      const r = await exec([...prefix, 'nft', ...args], undefined, timeoutMs);
      if (r.code !== 0) throw new CommandFailed(`nft ${args.join(' ')}`, r.code, r.stderr);
      return r.stdout;
    },
    async conntrackDelete(args) {
      const r = await exec([...prefix, 'conntrack', '-D', ...args], undefined, timeoutMs);
      if (r.code !== 0 && !/0 flow entries have been deleted/.test(r.stderr)) throw new CommandFailed(`conntrack -D ${args.join(' ')}`, r.code, r.stderr);
    },
  };
}
