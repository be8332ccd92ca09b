// `ketch wait`: block until objects meet a condition (--for=condition=Ready[=true]), are deleted (--for=delete),
// exist (--for=create) or a field has a value (--for=jsonpath='{.status.phase}'=Running).
import type { Command } from 'commander';
import type { ObjectLike } from '../../client/rest.js';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { parseDuration } from '../flags.js';
import { JsonPath, printValue } from '../printers/jsonpath.js';
import { objectName } from '../printers/index.js';
import { qualifiedResource } from '../resources.js';
import { addSelectFlags, selectInfos, type SelectFlags } from '../select.js';
import { progress, watchObject } from '../wait-util.js';

interface WaitFlags extends SelectFlags {
  for?: string;
  timeout: string;
}

interface Condition {
  type?: string;
  status?: string;
  observedGeneration?: number;
}

type Check = (o: (ObjectLike & { status?: { conditions?: Condition[] } }) | undefined) => boolean;

export function parseFor(spec: string): { check: Check; what: string; deletion: boolean; creation: boolean } {
  if (spec === 'delete') return { check: (o) => o === undefined, what: 'delete', deletion: true, creation: false };
  if (spec === 'create') return { check: (o) => o !== undefined, what: 'create', deletion: false, creation: true };
  if (spec.startsWith('condition=')) {
    const rest = spec.slice('condition='.length);
    const eq = rest.indexOf('=');
    const type = eq < 0 ? rest : rest.slice(0, eq);
    const want = eq < 0 ? 'true' : rest.slice(eq + 1);
    if (!type) throw new CliError(`unrecognized condition: "${spec}"`);
    return {
      what: `condition ${type}`,
      deletion: false,
      creation: false,
      check: (o) => {
        const c = o?.status?.conditions?.find((x) => x.type?.toLowerCase() === type.toLowerCase());
        if (!c || c.status?.toLowerCase() !== want.toLowerCase()) return false;
        const gen = (o?.metadata as { generation?: number } | undefined)?.generation;
        return c.observedGeneration === undefined || gen === undefined || c.observedGeneration >= gen;
      },
    };
  }
  if (spec.startsWith('jsonpath=')) {
    const rest = spec.slice('jsonpath='.length);
    const close = rest.lastIndexOf('}');
    const eq = rest.indexOf('=', close < 0 ? 0 : close);
    const expr = eq < 0 ? rest : rest.slice(0, eq);
    const want = eq < 0 ? undefined : rest.slice(eq + 1);
    if (!expr) throw new CliError('jsonpath expression cannot be empty');
    const path = new JsonPath(expr.startsWith('{') ? expr : `{${expr}}`);
    return {
      what: `jsonpath ${expr}`,
      deletion: false,
      creation: false,
      check: (o) => {
        if (!o) return false;
        const vals = path.values(o);
        if (want === undefined) return vals.length > 0;
        return vals.length > 0 && vals.every((v) => printValue(v) === want);
      },
    };
  }
  throw new CliError(`unrecognized condition: "${spec}"`);
}

export function register(program: Command): void {
  addSelectFlags(program.command('wait').description('wait for a condition on one or many resources'), 'wait on', { all: true, fieldSelector: true })
    .argument('[args...]', 'TYPE NAME or TYPE/NAME')
    .option('--for <condition>', 'condition=TYPE[=VALUE], delete, create, or jsonpath=EXPR[=VALUE]')
    .option('--timeout <duration>', 'how long to wait (negative: a week, 0: check once)', '30s')
    .action(async (args: string[], flags: WaitFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      if (!flags.for) throw new CliError('--for must be specified');
      const cond = parseFor(flags.for);
      const t = parseDuration(flags.timeout);
      const timeoutMs = t < 0 ? 7 * 24 * 3_600_000 : t;
      const infos = await selectInfos(cli, args, flags, { verb: 'wait', fetch: !cond.deletion && !cond.creation && !flags.filename });
      if (!infos.length) {
        if (!cli.failed) {
          if (cond.deletion) return;
          throw new CliError('no matching resources found');
        }
        return;
      }
      const p = progress(cli.io, { plainEveryMs: 10_000 });
      const deadline = Date.now() + timeoutMs;
      try {
        for (const info of infos) {
          p.update(`waiting for ${cond.what} on ${qualifiedResource(info.res)}/${info.name}`);
          const uid = info.obj?.metadata?.uid;
          const ok = await watchObject(
            cli.client(info.res),
            info.namespace,
            info.name,
            (o) => {
              // For delete, a new object with the same name counts as the old one gone.
              if (cond.deletion && o && uid && o.metadata?.uid !== uid) return true;
              return cond.check(o as Parameters<Check>[0]) ? true : undefined;
            },
            Math.max(0, deadline - Date.now()),
          );
          if (!ok) {
            cli.fail(new CliError(`timed out waiting for the condition on ${qualifiedResource(info.res)}/${info.name}`));
            continue;
          }
          p.done();
          cli.out(`${objectName({ metadata: { name: info.name } }, info.res)} condition met`);
        }
      } finally {
        p.done();
      }
    });
}
