// `ketch edit`: open objects in $KUBE_EDITOR / $EDITOR as YAML, then send what changed as a merge patch; a conflict
// (someone changed the same object meanwhile) is retried against the latest version; bad edits reopen the editor.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { isConflict } from '../../api/errors.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { twoWayMergePatch } from '../merge.js';
import { objectName } from '../printers/index.js';
import { toJson, toYaml } from '../printers/data.js';
import { addSelectFlags, selectInfos, withKind, type Info, type SelectFlags } from '../select.js';

interface EditFlags extends SelectFlags {
  output?: string;
  subresource?: string;
}

export function register(program: Command): void {
  addSelectFlags(program.command('edit').description('edit a resource in your editor'), 'edit')
    .argument('[args...]', 'TYPE NAME or TYPE/NAME')
    .option('-o, --output <format>', 'edit as yaml (default) or json', 'yaml')
    .option('--subresource <name>', 'edit a subresource (status)')
    .action(async (args: string[], flags: EditFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const infos = await selectInfos(cli, args, flags, { fetch: true, verb: 'edit' });
      for (const info of infos) await editOne(cli, info, flags);
    });
}

function editorCommand(env: NodeJS.ProcessEnv): string {
  return env.KUBE_EDITOR || env.EDITOR || 'vi';
}

async function editOne(cli: Cli, info: Info, flags: EditFlags): Promise<void> {
  const json = flags.output === 'json';
  const original = withKind(info.obj!, info.res);
  const dir = mkdtempSync(join(tmpdir(), 'ketch-edit-'));
  const file = join(dir, `${info.res.resource}-${info.name}.${json ? 'json' : 'yaml'}`);
  const header = '# Please edit the object below. Lines beginning with a \'#\' will be ignored,\n# and an empty file will abort the edit. If an error occurs while saving this file will be\n# reopened with the relevant failures.\n#\n';
  let text = header + (json ? toJson(original) : toYaml(original));
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      writeFileSync(file, text);
      const r = spawnSync(`${editorCommand(cli.io.env)} "${file}"`, { shell: true, stdio: 'inherit', env: cli.io.env });
      if (r.status !== 0) throw new CliError(`there was a problem with the editor "${editorCommand(cli.io.env)}"`);
      const edited = readFileSync(file, 'utf8');
      const body = edited.split('\n').filter((l) => !l.startsWith('#')).join('\n');
      if (!body.trim()) {
        cli.out('Edit cancelled, no changes made.');
        return;
      }
      let obj: unknown;
      try {
        obj = json ? JSON.parse(body) : YAML.parse(body);
      } catch (e) {
        text = `# Error: the edited file is not valid ${json ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}\n` + edited.split('\n').filter((l) => !l.startsWith('# Error')).join('\n');
        continue;
      }
      const patch = twoWayMergePatch(original, obj);
      if (!patch) {
        cli.out('Edit cancelled, no changes made.');
        return;
      }
      delete (patch.metadata as Record<string, unknown> | undefined)?.resourceVersion;
      try {
        await patchWithRetry(cli, info, patch, flags.subresource);
        cli.out(`${objectName(original, info.res)} edited`);
        return;
      } catch (e) {
        if (!(e instanceof Error) || !('status' in e)) throw e;
        // Invalid: reopen with the server's message on top, as kubectl does.
        text = `# Error: ${e.message.replace(/\n/g, ' ')}\n` + edited.split('\n').filter((l) => !l.startsWith('# Error')).join('\n');
        cli.err(`error: ${objectName(original, info.res)} could not be saved: ${e.message}`);
        if (attempt === 4) throw e;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A merge patch has no resourceVersion precondition; retry on the rare Conflict from the store. */
async function patchWithRetry(cli: Cli, info: Info, patch: Record<string, unknown>, sub?: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await cli.client(info.res).patch(info.namespace, info.name, patch, 'merge', sub ? { sub } : {});
      return;
    } catch (e) {
      if (!isConflict(e) || i >= 5) throw e;
    }
  }
}
