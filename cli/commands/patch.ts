// `ketch patch`: a strategic (default), merge or JSON patch to one or more objects, or to a subresource.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { PatchType } from '../../client/rest.js';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun } from '../flags.js';
import { objectName, OUTPUT_HELP, parseOutput, printObjects } from '../printers/index.js';
import { addSelectFlags, selectInfos, withKind, type SelectFlags } from '../select.js';

interface PatchFlags extends SelectFlags {
  patch?: string;
  patchFile?: string;
  type: string;
  subresource?: string;
  dryRun?: string | boolean;
  output?: string;
}

export function register(program: Command): void {
  addSelectFlags(program.command('patch').description('update fields of resources with a patch'), 'patch')
    .argument('[args...]', 'TYPE NAME or TYPE/NAME')
    .option('-p, --patch <patch>', 'the patch, JSON or YAML')
    .option('--patch-file <file>', 'a file holding the patch')
    .option('--type <type>', 'json, merge or strategic', 'strategic')
    .option('--subresource <name>', 'patch a subresource (status, scale)')
    .option('--dry-run [mode]', 'none, client or server')
    .option('-o, --output <format>', OUTPUT_HELP)
    .action(async (args: string[], flags: PatchFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      if (!flags.patch && !flags.patchFile) throw new CliError('must specify --patch or --patch-file containing the contents of the patch');
      if (!['json', 'merge', 'strategic'].includes(flags.type)) throw new CliError(`--type must be one of [json merge strategic], not "${flags.type}"`);
      const text = flags.patch ?? readFileSync(flags.patchFile!, 'utf8');
      let body: unknown;
      try {
        body = YAML.parse(text) as unknown;
      } catch (e) {
        throw new CliError(`unable to parse "${text}": ${(e as Error).message}`);
      }
      const dryRun = parseDryRun(flags.dryRun);
      const fmt = flags.output ? parseOutput(flags.output) : undefined;
      const infos = await selectInfos(cli, args, flags, { fetch: true, verb: 'patch' });
      for (const info of infos) {
        try {
          const before = info.obj?.metadata?.resourceVersion;
          const out =
            dryRun === 'client'
              ? info.obj!
              : await cli.client(info.res).patch(info.namespace, info.name, JSON.stringify(body), flags.type as PatchType, {
                  ...(flags.subresource ? { sub: flags.subresource } : {}),
                  query: dryRun === 'server' ? { dryRun: 'All' } : {},
                });
          if (fmt) cli.io.stdout.write(printObjects(fmt, [withKind(out, info.res)], false));
          else cli.out(`${objectName(out, info.res)} patched${out.metadata?.resourceVersion === before && dryRun === 'none' ? ' (no change)' : ''}${dryRunSuffix(dryRun)}`);
        } catch (e) {
          cli.fail(e);
        }
      }
    });
}
