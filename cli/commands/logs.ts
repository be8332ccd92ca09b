// `ketch logs`: a container's log through pods/log: -c, -f, --previous, --tail, --since, --timestamps, -l (several
// pods, prefixed), --all-containers, and TYPE/NAME (a pod of a deployment, service, ...).
import type { Command } from 'commander';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { parseDuration } from '../flags.js';
import { pickContainer, podPath, podsFor, resolvePod, type PodObj } from '../streams.js';

interface LogsFlags {
  container?: string;
  follow?: boolean;
  previous?: boolean;
  tail: string;
  since?: string;
  sinceTime?: string;
  timestamps?: boolean;
  selector?: string;
  allContainers?: boolean;
  prefix?: boolean;
  limitBytes?: string;
  maxLogRequests: string;
  ignoreErrors?: boolean;
}

export function register(program: Command): void {
  program
    .command('logs')
    .description("print the logs of a container in a pod")
    .argument('[target]', 'POD or TYPE/NAME')
    .argument('[container]', 'the container (same as -c)')
    .option('-c, --container <name>', 'the container')
    .option('-f, --follow', 'stream the log as it grows')
    .option('-p, --previous', "the previous instance's log (after a restart)")
    .option('--tail <n>', 'lines from the end (-1: all; 10 with -l)', '-1')
    .option('--since <duration>', 'only newer than this (5s, 2m, 3h)')
    .option('--since-time <rfc3339>', 'only after this time')
    .option('--timestamps', 'prefix each line with its timestamp')
    .option('-l, --selector <selector>', 'the pods matching this label selector')
    .option('--all-containers', 'every container of the pod(s)')
    .option('--prefix', 'prefix each line with pod/NAME/CONTAINER')
    .option('--limit-bytes <n>', 'at most this many bytes')
    .option('--max-log-requests <n>', 'with -l -f, at most this many concurrent streams', '5')
    .option('--ignore-errors', 'with several streams, carry on past failing ones')
    .action(async (target: string | undefined, container: string | undefined, flags: LogsFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      if (!target && !flags.selector) throw new CliError('expected POD or TYPE/NAME, or -l; see ketch logs --help');
      if (target && flags.selector) throw new CliError('only one of a pod or a selector may be given');
      const pods: PodObj[] = flags.selector ? await podsFor(cli, flags.selector) : [await resolvePod(cli, target!)];
      if (!pods.length) {
        cli.err(`No resources found in ${cli.namespace} namespace.`);
        return;
      }
      const streams: { pod: PodObj; container: string }[] = [];
      for (const pod of pods) {
        if (flags.allContainers) for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) streams.push({ pod, container: c.name });
        else streams.push({ pod, container: pickContainer(cli, pod, flags.container ?? container, pods.length > 1) });
      }
      if (flags.follow && streams.length > Number(flags.maxLogRequests)) {
        throw new CliError(`you are attempting to follow ${streams.length} log streams, but maximum allowed concurrency is ${flags.maxLogRequests}, use --max-log-requests to increase the limit`);
      }
      const tail = flags.tail === '-1' && flags.selector ? 10 : Number(flags.tail);
      const prefix = !!flags.prefix || streams.length > 1;
      const run = (s: { pod: PodObj; container: string }): Promise<void> => stream(cli, s.pod, s.container, flags, tail, prefix);
      if (flags.follow) await Promise.all(streams.map((s) => run(s).catch((e: unknown) => (flags.ignoreErrors ? cli.fail(e) : Promise.reject(e)))));
      else for (const s of streams) await run(s).catch((e: unknown) => (flags.ignoreErrors || streams.length > 1 ? cli.fail(e) : Promise.reject(e)));
    });
}

/** Streams one container's log to stdout; with `prefix`, each line starts with `tag` (default [pod/NAME/CONTAINER]). */
export async function stream(
  cli: Cli,
  pod: PodObj,
  container: string,
  flags: Pick<LogsFlags, 'follow' | 'previous' | 'since' | 'sinceTime' | 'timestamps' | 'limitBytes'>,
  tail: number,
  prefix: boolean,
  tagText?: string,
): Promise<void> {
  const res = await cli.rest.open('GET', podPath(pod, 'log'), {
    query: {
      container,
      follow: flags.follow ? 'true' : undefined,
      previous: flags.previous ? 'true' : undefined,
      tailLines: tail >= 0 ? tail : undefined,
      sinceSeconds: flags.since ? Math.max(1, Math.ceil(parseDuration(flags.since, '--since') / 1000)) : undefined,
      sinceTime: flags.sinceTime,
      timestamps: flags.timestamps ? 'true' : undefined,
      limitBytes: flags.limitBytes,
    },
    accept: '*/*',
  });
  const tag = tagText ?? `[pod/${pod.metadata?.name ?? ''}/${container}] `;
  let partial = '';
  for await (const chunk of res) {
    if (!prefix) {
      cli.io.stdout.write(chunk as Buffer);
      continue;
    }
    partial += (chunk as Buffer).toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) cli.io.stdout.write(tag + l + '\n');
  }
  if (prefix && partial) cli.io.stdout.write(tag + partial + '\n');
}
