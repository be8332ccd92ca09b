// `ketch create -f`: create objects from files (AlreadyExists is an error); `create namespace|configmap|deployment`.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ObjectLike } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun } from '../flags.js';
import { readManifests } from '../manifests.js';
import { OUTPUT_HELP, objectName, parseOutput, printObjects } from '../printers/index.js';
import { withLastApplied } from './apply.js';
import { withKind } from '../select.js';

interface CreateFlags {
  filename?: string[];
  recursive?: boolean;
  dryRun?: string | boolean;
  output?: string;
  saveConfig?: boolean;
}

export function register(program: Command): void {
  const create = program
    .command('create')
    .description('create resources from files or stdin')
    .option('-f, --filename <file...>', 'files, directories, URLs or - (stdin)')
    .option('-R, --recursive', 'process directories recursively')
    .option('--save-config', 'keep the configuration in the last-applied annotation, for later apply')
    .option('--dry-run [mode]', 'none, client or server')
    .option('-o, --output <format>', OUTPUT_HELP)
    .action(async (flags: CreateFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      if (!flags.filename?.length) throw new CliError('must specify one of -f and -k');
      const ms = await readManifests(cli.io, flags.filename, flags.recursive, 'create');
      await createObjects(cli, ms.map((m) => ({ obj: flags.saveConfig ? withLastApplied(m.obj) : m.obj, source: m.source })), flags);
    });

  const sub = (name: string, desc: string): Command =>
    create
      .command(name)
      .description(desc)
      .option('--dry-run [mode]', 'none, client or server')
      .option('-o, --output <format>', OUTPUT_HELP);

  sub('namespace', 'create a namespace')
    .alias('ns')
    .argument('<name>')
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      await createObjects(cliOf(cmd), [{ obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, source: 'args' }], cmd.optsWithGlobals<CreateFlags>());
    });

  sub('configmap', 'create a config map from literals and files')
    .alias('cm')
    .argument('<name>')
    .option('--from-literal <kv...>', 'key=value pairs')
    .option('--from-file <path...>', 'files ([key=]path); the key defaults to the file name')
    .action(async (name: string, flags: CreateFlags & { fromLiteral?: string[]; fromFile?: string[] }, cmd: Command) => {
      const data = dataFrom(flags.fromLiteral, flags.fromFile, false);
      await createObjects(cliOf(cmd), [{ obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data }, source: 'args' }], cmd.optsWithGlobals<CreateFlags>());
    });

  sub('secret', 'create a generic secret from literals and files')
    .argument('<type>', 'generic')
    .argument('<name>')
    .option('--from-literal <kv...>', 'key=value pairs')
    .option('--from-file <path...>', 'files ([key=]path)')
    .action(async (type: string, name: string, flags: CreateFlags & { fromLiteral?: string[]; fromFile?: string[] }, cmd: Command) => {
      if (type !== 'generic') throw new CliError(`unknown secret type "${type}": only generic is supported`);
      const data = dataFrom(flags.fromLiteral, flags.fromFile, true);
      await createObjects(cliOf(cmd), [{ obj: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data }, source: 'args' }], cmd.optsWithGlobals<CreateFlags>());
    });

  sub('deployment', 'create a deployment running an image')
    .alias('deploy')
    .argument('<name>')
    .requiredOption('--image <image...>', 'the image(s) to run')
    .option('-r, --replicas <n>', 'number of replicas', '1')
    .option('--port <port>', 'the container port to expose')
    .action(async (name: string, flags: CreateFlags & { image: string[]; replicas: string; port?: string }, cmd: Command) => {
      const labels = { app: name };
      const containers = flags.image.map((image, i) => ({
        name: flags.image.length === 1 ? imageName(image) : `${imageName(image)}-${i}`,
        image,
        ...(flags.port ? { ports: [{ containerPort: Number(flags.port) }] } : {}),
      }));
      const obj = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, labels },
        spec: { replicas: Number(flags.replicas), selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers } } },
      };
      await createObjects(cliOf(cmd), [{ obj, source: 'args' }], cmd.optsWithGlobals<CreateFlags>());
    });
}

const imageName = (image: string): string => basename(image.split('@')[0]!.split(':')[0]!).replace(/[^a-z0-9-]/g, '-');

function dataFrom(literals: string[] = [], files: string[] = [], base64: boolean): Record<string, string> {
  const data: Record<string, string> = {};
  const enc = (s: string | Buffer): string => (base64 ? Buffer.from(s).toString('base64') : s.toString());
  for (const l of literals) {
    const i = l.indexOf('=');
    if (i <= 0) throw new CliError(`invalid literal source ${l}, expected key=value`);
    data[l.slice(0, i)] = enc(l.slice(i + 1));
  }
  for (const f of files) {
    const i = f.indexOf('=');
    const [key, path] = i > 0 ? [f.slice(0, i), f.slice(i + 1)] : [basename(f), f];
    data[key] = enc(readFileSync(path));
  }
  return data;
}

async function createObjects(cli: Cli, ms: { obj: ObjectLike & Record<string, unknown>; source: string }[], flags: CreateFlags): Promise<void> {
  const dryRun = parseDryRun(flags.dryRun);
  const fmt = flags.output ? parseOutput(flags.output) : undefined;
  const resolver = await cli.resolver();
  const printed: ObjectLike[] = [];
  for (const m of ms) {
    const res = resolver.byKind(m.obj.apiVersion ?? '', m.obj.kind ?? '');
    if (!res) {
      cli.fail(new CliError(`resource mapping not found for name: "${m.obj.metadata?.name ?? ''}" from "${m.source}": no matches for kind "${m.obj.kind}" in version "${m.obj.apiVersion}"`));
      continue;
    }
    const ns = res.namespaced ? (m.obj.metadata?.namespace ?? cli.namespace) : undefined;
    try {
      const body = { ...m.obj, metadata: { ...m.obj.metadata, ...(ns ? { namespace: ns } : {}) } };
      const obj = dryRun === 'client' ? body : await cli.client(res).create(ns, body, dryRun === 'server' ? { dryRun: 'All' } : {});
      if (fmt) printed.push(withKind(obj, res));
      else cli.out(`${objectName(obj, res)} created${dryRunSuffix(dryRun)}`);
    } catch (e) {
      cli.fail(e);
    }
  }
  if (fmt && printed.length) cli.io.stdout.write(printObjects(fmt, printed, printed.length > 1));
}
