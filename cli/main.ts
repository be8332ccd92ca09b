// The `ketch` command: one subcommand per verb, wired with commander; run() returns the exit code.
import { Command, CommanderError } from 'commander';
import { existingCli, serverOf, setIo } from './context.js';
import { ExitError, formatError } from './errors.js';
import { processIo, type Io } from './io.js';
import { registerAll } from './commands/index.js';
import { VERSION } from './version.js';

export function buildProgram(io: Io = processIo()): Command {
  const program = new Command('ketch')
    .description('ketch: a Kubernetes-style container orchestrator')
    .version(VERSION, '--client-version', 'print the client version')
    .option('--kubeconfig <file>', 'path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('-n, --namespace <ns>', 'the namespace scope for this request')
    .option('-s, --server <url>', 'the address and port of the API server')
    .option('--token <token>', 'bearer token for authentication to the API server')
    .option('--insecure-skip-tls-verify', "don't check the server's certificate")
    .showHelpAfterError()
    .enablePositionalOptions(false);
  setIo(program, io);
  program.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
  });
  registerAll(program);
  // Every subcommand reports errors through run(), not process.exit.
  const override = (c: Command): void => {
    c.exitOverride();
    c.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs one command line; resolves to the exit code (0, or 1 as kubectl on any error). */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof ExitError) return e.exitCode;
    const cli = existingCli(program);
    io.stderr.write(formatError(e, serverOf(cli)) + '\n');
    return (e as { exitCode?: number }).exitCode ?? 1;
  }
  return existingCli(program)?.failed ? 1 : 0;
}

export async function main(argv: string[]): Promise<void> {
  const code = await run(argv);
  process.exitCode = code;
  // Streams (watches, follow) may hold the event loop; a finished command ends the process.
  if (code !== 0 || !keepAlive(argv)) setImmediate(() => process.exit(code));
}

/** Commands that run until interrupted manage their own exit. */
const keepAlive = (argv: string[]): boolean => ['server', 'up', 'agent', 'runtime', 'controller-manager', 'scheduler'].includes(argv[0] ?? '');
