// `ketch compose up|down|ps|logs|config|restart|build|pull`: a Compose file run as cluster objects in a namespace per
// project (or -n), every object labelled with the project.
import type { Command } from 'commander';
import YAML from 'yaml';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { parseDuration } from '../flags.js';
import { formatColumns } from '../printers/table.js';
import { ComposeError, loadProject, normalizeProjectName, type ComposeProject } from '../compose/load.js';
import { composeDown, composeLogs, composePs, composeRestart, composeUp } from '../compose/run.js';
import { translate, type Plan } from '../compose/translate.js';
import { buildServices, resolveImages } from '../compose/images.js';

interface ComposeFlags {
  file: string[];
  projectName?: string;
  profile: string[];
  envFile?: string;
  registry: string;
}

export const DEFAULT_COMPOSE_REGISTRY = process.env.KETCH_REGISTRY ?? '127.0.0.1:5443';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function composeFlags(cmd: Command): ComposeFlags {
  let c: Command | null = cmd;
  while (c && c.name() !== 'compose') c = c.parent;
  return (c ?? cmd).opts<ComposeFlags>();
}

function load(cli: Cli, f: ComposeFlags): ComposeProject {
  return loadProject({
    files: f.file.length ? f.file : (process.env.COMPOSE_FILE ?? '').split(':').filter(Boolean),
    cwd: process.cwd(),
    env: cli.io.env ?? process.env,
    ...(f.projectName ? { projectName: f.projectName } : {}),
    ...(f.envFile ? { envFile: f.envFile } : {}),
  });
}

function planFor(cmd: Command, only: string[] = []): Plan {
  const cli = cliOf(cmd);
  const f = composeFlags(cmd);
  const project = load(cli, f);
  return translate(project, {
    profiles: [...f.profile, ...(process.env.COMPOSE_PROFILES ?? '').split(',').filter(Boolean)],
    registry: f.registry,
    ...(cli.flags.namespace ? { namespace: cli.flags.namespace } : {}),
    ...(only.length ? { only } : {}),
  });
}

/** The project's coordinates for down/ps/logs: from the file, or from -p alone when there is no file. */
function projectRef(cmd: Command): Pick<Plan, 'namespace' | 'project' | 'ownNamespace'> {
  const cli = cliOf(cmd);
  const f = composeFlags(cmd);
  try {
    const p = planFor(cmd);
    return { namespace: p.namespace, project: p.project, ownNamespace: p.ownNamespace };
  } catch (e) {
    if (!(e instanceof ComposeError) || !f.projectName || !/no compose file found/.test(e.message)) throw e;
    const project = normalizeProjectName(f.projectName);
    return { project, namespace: cli.flags.namespace ?? project.replace(/_/g, '-'), ownNamespace: !cli.flags.namespace };
  }
}

const toYaml = (docs: unknown[]): string => docs.map((d) => YAML.stringify(d, { lineWidth: 0 })).join('---\n');

export function register(program: Command): void {
  const compose = program
    .command('compose')
    .description('run a Compose file on the cluster: services as workloads, Services, claims, ConfigMaps and Secrets in a namespace per project')
    .option('-f, --file <file>', 'compose file (repeatable; later files override earlier ones)', collect, [])
    .option('-p, --project-name <name>', 'project name (default: the file\'s name, else its directory)')
    .option('--profile <profile>', 'enable services of this profile (repeatable)', collect, [])
    .option('--env-file <file>', 'variables for interpolation (default: .env beside the file)')
    .option('--registry <host:port>', 'registry for images built from build sections', DEFAULT_COMPOSE_REGISTRY);

  compose
    .command('config')
    .description('validate the file and print it resolved (interpolated, merged, profiles applied), or the cluster objects')
    .option('--objects', 'print the Kubernetes objects up would apply')
    .option('--services', 'print the service names, one a line, in start order')
    .action((flags: { objects?: boolean; services?: boolean }, cmd: Command) => {
      const cli = cliOf(cmd);
      const plan = planFor(cmd);
      if (flags.services) cli.out(plan.services.map((s) => s.name).join('\n'));
      else if (flags.objects) cli.io.stdout.write(toYaml([...plan.shared, ...plan.services.map((s) => s.workload)]));
      else cli.io.stdout.write(YAML.stringify(load(cli, composeFlags(cmd)).model, { lineWidth: 0 }));
    });

  compose
    .command('up')
    .description('create or update the project\'s objects (server-side apply), dependencies first; idempotent')
    .argument('[services...]', 'only these services (and what they depend on)')
    .option('-d, --detach', 'return once the objects exist (the default)')
    .option('--wait', 'wait until every service runs (healthy when it has a healthcheck, completed when one-shot)')
    .option('--wait-timeout <duration>', 'how long to wait for each dependency or service', '5m')
    .option('--no-build', 'do not build images of services with a build section')
    .action(async (services: string[], flags: { wait?: boolean; waitTimeout: string; build: boolean }, cmd: Command) => {
      const cli = cliOf(cmd);
      const plan = planFor(cmd, services);
      const f = composeFlags(cmd);
      await composeUp(cli, plan, {
        wait: !!flags.wait,
        waitTimeoutMs: parseDuration(flags.waitTimeout, '--wait-timeout'),
        ...(flags.build ? { build: (svc) => buildServices(cli, [svc], f.registry) } : {}),
      });
    });

  compose
    .command('down')
    .description('delete exactly the objects labelled with the project (and its namespace when it made it)')
    .option('-v, --volumes', 'also delete the volume claims')
    .action(async (flags: { volumes?: boolean }, cmd: Command) => composeDown(cliOf(cmd), projectRef(cmd), !!flags.volumes));

  compose
    .command('ps')
    .description('list the project\'s pods')
    .option('-a, --all', 'also pods that have completed')
    .action(async (flags: { all?: boolean }, cmd: Command) => {
      const cli = cliOf(cmd);
      const rows = await composePs(cli, projectRef(cmd), !!flags.all);
      if (rows.length === 1) cli.err(`no pods of project ${projectRef(cmd).project}`);
      else cli.io.stdout.write(formatColumns(rows));
    });

  compose
    .command('logs')
    .description('print the logs of the project\'s pods, prefixed by pod')
    .argument('[services...]', 'only these services')
    .option('-f, --follow', 'stream the logs as they grow')
    .option('--tail <n>', 'lines from the end of each log (-1: all)', '-1')
    .option('-t, --timestamps', 'prefix each line with its timestamp')
    .action(async (services: string[], flags: { follow?: boolean; tail: string; timestamps?: boolean }, cmd: Command) => {
      const tail = Number(flags.tail);
      if (!Number.isInteger(tail)) throw new CliError(`--tail wants a number, got "${flags.tail}"`);
      await composeLogs(cliOf(cmd), projectRef(cmd), services, { follow: !!flags.follow, tail, timestamps: !!flags.timestamps });
    });

  compose
    .command('restart')
    .description('restart services (new pods; one-shot services run again)')
    .argument('[services...]', 'only these services')
    .action(async (services: string[], _flags: unknown, cmd: Command) => composeRestart(cliOf(cmd), planFor(cmd), services));

  compose
    .command('build')
    .description('build the images of services with a build section (ketch build) and push them to --registry')
    .argument('[services...]', 'only these services')
    .action(async (services: string[], _flags: unknown, cmd: Command) => {
      const plan = planFor(cmd, services);
      const todo = plan.services.filter((s) => s.build && (!services.length || services.includes(s.name)));
      if (!todo.length) throw new CliError('no service to build (none has a build section)');
      await buildServices(cliOf(cmd), todo, composeFlags(cmd).registry);
    });

  compose
    .command('pull')
    .description("resolve each service's image in its registry (tag to digest), as the nodes will pull it")
    .argument('[services...]', 'only these services')
    .action(async (services: string[], _flags: unknown, cmd: Command) => {
      const plan = planFor(cmd, services);
      await resolveImages(cliOf(cmd), plan.services.filter((s) => !s.build && (!services.length || services.includes(s.name))));
    });
}
