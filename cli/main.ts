// The `ketch` command: one subcommand per verb, wired with commander; run() returns the exit code.
import { Command, CommanderError } from 'commander';
import { existingCli, serverOf, setIo } from './context.js';
import { ExitError, formatError } from './errors.js';
import { processIo, type Io } from './io.js';
import { registerAll } from './commands/index.js';
import { VERSION } from './version.js';
import { extractLoggingFlags, LOGGING_FLAGS_HELP } from './logging-flags.js';
import { configureLogging } from '../lib/logger.js';

/** The components' commands (`ketch server`, `agent`, ...) bring their own flags; the client flags are not theirs (`ketch image` talks to the API server: it takes them). */
const COMPONENT_COMMANDS = new Set(['server', 'up', 'agent', 'join', 'runtime', 'controller-manager', 'scheduler']);

/**
 * kubectl's global flags (before or after the verb), except for the components' commands: commander would take them
 * from a subcommand that defines a flag of the same name, e.g. `ketch agent --kubeconfig`.
 */
function addClientFlags(c: Command): void {
  const has = (long: string): boolean => c.options.some((o) => o.long === long);
  if (!has('--kubeconfig')) c.option('--kubeconfig <file>', 'path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)');
  if (!has('--context')) c.option('--context <name>', 'the kubeconfig context to use');
  if (!has('--namespace')) c.option('-n, --namespace <ns>', 'the namespace scope for this request');
  if (!has('--server')) c.option('-s, --server <url>', 'the address and port of the API server');
  if (!has('--token')) c.option('--token <token>', 'bearer token for authentication to the API server');
  if (!has('--insecure-skip-tls-verify')) c.option('--insecure-skip-tls-verify', "don't check the server's certificate");
}

const VALUE_FLAGS = new Set(['--kubeconfig', '--context', '-n', '--namespace', '-s', '--server', '--token']);

/** The verb of a command line: its first word that is neither a flag nor a flag's value. */
function verbOf(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) return a;
    if (VALUE_FLAGS.has(a)) i++;
  }
  return undefined;
}

export function buildProgram(io: Io = processIo(), argv: string[] = []): Command {
  const program = new Command('ketch')
    .description('ketch: a Kubernetes-style container orchestrator')
    .version(VERSION, '--client-version', 'print the client version')
    .showHelpAfterError();
  setIo(program, io);
  // Help text only, not options: main() takes them out of the command line before commander parses it (as options of
  // the program, commander would also take a subcommand's own -v).
  program.addHelpText('after', `\nLogging flags (every command):\n${LOGGING_FLAGS_HELP.map(([f, d]) => `  ${f.padEnd(28)}${d}`).join('\n')}`);
  registerAll(program);
  if (!COMPONENT_COMMANDS.has(verbOf(argv) ?? '')) addClientFlags(program);
  // Every command reports errors through run(), not process.exit, and writes to the given streams.
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
  const program = buildProgram(io, argv);
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

export async function main(args: string[]): Promise<void> {
  let argv: string[];
  try {
    const parsed = extractLoggingFlags(args);
    configureLogging(parsed.flags);
    argv = parsed.argv;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  const code = await run(argv);
  process.exitCode = code;
  // Streams (watches, follow) may hold the event loop; a finished command ends the process.
  if (code !== 0 || !keepAlive(argv)) setImmediate(() => process.exit(code));
}

/** Commands that run until interrupted manage their own exit. */
const keepAlive = (argv: string[]): boolean => ['server', 'up', 'agent', 'join', 'runtime', 'controller-manager', 'scheduler'].includes(argv[0] ?? '');
