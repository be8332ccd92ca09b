// The `ketch` command: one subcommand per verb, wired with commander.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAll } from './commands/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('ketch')
    .description('ketch: a Kubernetes-style container orchestrator')
    .version(pkg.version, '--client-version', 'print the client version')
    .showHelpAfterError();

  program
    .command('version')
    .description('print the client version')
    .action(() => {
      console.log(`ketch v${pkg.version}`);
    });

  registerAll(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv, { from: 'user' });
}
