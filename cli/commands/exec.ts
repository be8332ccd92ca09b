// `ketch exec` and `ketch attach`: run a command in (or attach to) a container over pods/exec|attach with the
// WebSocket channel protocol; -i passes stdin, -t allocates a terminal; the remote exit code becomes ours.
import type { Command } from 'commander';
import { cliOf, type Cli } from '../context.js';
import { CliError, ExitError } from '../errors.js';
import { openWebSocket, pickContainer, podPath, resolvePod, runChannels } from '../streams.js';

interface ExecFlags {
  container?: string;
  stdin?: boolean;
  tty?: boolean;
  quiet?: boolean;
}

const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

export function register(program: Command): void {
  program
    .command('exec')
    .description('run a command in a container')
    .argument('<target>', 'POD or TYPE/NAME')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('-c, --container <name>', 'the container')
    .option('-i, --stdin', "pass stdin to the container")
    .option('-t, --tty', 'stdin is a terminal')
    .option('-q, --quiet', 'only print what the command prints')
    .action(async (target: string, command: string[], flags: ExecFlags, cmd: Command) => {
      await session(cliOf(cmd), 'exec', target, command, flags);
    });

  program
    .command('attach')
    .description('attach to the main process of a running container')
    .argument('<target>', 'POD or TYPE/NAME')
    .option('-c, --container <name>', 'the container')
    .option('-i, --stdin', 'pass stdin to the container')
    .option('-t, --tty', 'stdin is a terminal')
    .option('-q, --quiet', 'only print what the container prints')
    .action(async (target: string, flags: ExecFlags, cmd: Command) => {
      await session(cliOf(cmd), 'attach', target, [], flags);
    });
}

async function session(cli: Cli, verb: 'exec' | 'attach', target: string, command: string[], flags: ExecFlags): Promise<void> {
  const pod = await resolvePod(cli, target);
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') throw new CliError(`cannot ${verb} into a container in a completed pod; current phase is ${phase}`);
  const container = pickContainer(cli, pod, flags.container, flags.quiet);
  let tty = !!flags.tty;
  if (tty && !flags.stdin) {
    if (!flags.quiet) cli.err('Unable to use a TTY - input is not from a terminal or -i is not set');
    tty = false;
  }
  if (tty && !cli.io.stdin.isTTY) {
    if (!flags.quiet) cli.err('Unable to use a TTY - input is not a terminal or the right kind of file');
    tty = false;
  }
  const q = new URLSearchParams();
  for (const c of command) q.append('command', c);
  q.set('container', container);
  if (flags.stdin) q.set('stdin', 'true');
  q.set('stdout', 'true');
  if (!tty) q.set('stderr', 'true');
  if (tty) q.set('tty', 'true');
  const ws = await openWebSocket(cli, podPath(pod, verb), q, PROTOCOLS);
  if (verb === 'attach' && !flags.quiet) cli.err(`If you don't see a command prompt, try pressing enter.`);
  const out = cli.io.stdout as NodeJS.WritableStream & { columns?: number; rows?: number };
  const code = await runChannels(ws, {
    ...(flags.stdin ? { stdin: cli.io.stdin } : {}),
    stdout: cli.io.stdout,
    stderr: cli.io.stderr,
    tty,
    size: () => (out.columns && out.rows ? { width: out.columns, height: out.rows } : undefined),
  });
  if (code !== 0) {
    if (!flags.quiet) cli.err(`command terminated with exit code ${code}`);
    throw new ExitError(code);
  }
}
