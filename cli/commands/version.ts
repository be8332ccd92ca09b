// `ketch version`: the client's version and, unless --client, the server's (/version).
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { toJson, toYaml } from '../printers/data.js';
import { CliError } from '../errors.js';
import { VERSION } from '../version.js';

interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
  [k: string]: unknown;
}

export function register(program: Command): void {
  program
    .command('version')
    .description('print the client and server versions')
    .option('--client', 'only the client version')
    .option('-o, --output <format>', 'yaml or json')
    .action(async (flags: { client?: boolean; output?: string }, cmd: Command) => {
      const cli = cliOf(cmd);
      const [maj, min] = VERSION.split('.');
      const client = { major: maj ?? '0', minor: min ?? '0', gitVersion: `v${VERSION}`, platform: `${process.platform}/${process.arch}` };
      let server: ServerVersion | undefined;
      let serverErr: unknown;
      if (!flags.client) {
        try {
          server = await cli.rest.request<ServerVersion>('GET', '/version');
        } catch (e) {
          serverErr = e;
        }
      }
      if (flags.output === 'json' || flags.output === 'yaml') {
        const doc = { clientVersion: client, ...(server ? { serverVersion: server } : {}) };
        cli.io.stdout.write(flags.output === 'json' ? toJson(doc) : toYaml(doc));
      } else if (flags.output) {
        throw new CliError(`--output must be 'yaml' or 'json'`);
      } else {
        cli.out(`Client Version: v${VERSION}`);
        if (server) cli.out(`Server Version: ${server.gitVersion}`);
      }
      if (serverErr) throw serverErr;
    });
}
