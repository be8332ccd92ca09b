// `ketch api-resources`: the resource types the server serves (from discovery), as kubectl lists them.
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { parseBool } from '../flags.js';
import { formatColumns } from '../printers/table.js';
import { apiVersionOf, qualifiedResource } from '../resources.js';

interface Flags {
  output?: string;
  namespaced?: string;
  apiGroup?: string;
  verbs?: string[];
  noHeaders?: boolean;
  sortBy?: string;
  categories?: string[];
}

export function register(program: Command): void {
  program
    .command('api-resources')
    .description('print the supported API resources on the server')
    .option('-o, --output <format>', 'wide or name')
    .option('--namespaced <bool>', 'only namespaced (true) or cluster-scoped (false) resources')
    .option('--api-group <group>', 'only resources in this API group ("" for core)')
    .option('--verbs <verbs...>', 'only resources that support these verbs')
    .option('--categories <c...>', 'only resources in these categories')
    .option('--no-headers', "don't print headers")
    .option('--sort-by <field>', 'name or kind')
    .action(async (flags: Flags, cmd: Command) => {
      const cli = cliOf(cmd);
      if (flags.output && !['wide', 'name'].includes(flags.output)) throw new CliError(`--output ${flags.output} is not available`);
      const resolver = await cli.resolver();
      const groupOrder = [...new Set(resolver.resources.map((r) => r.group))];
      let rs = [...resolver.resources];
      if (flags.namespaced !== undefined) {
        const ns = parseBool(flags.namespaced, true, '--namespaced');
        rs = rs.filter((r) => r.namespaced === ns);
      }
      if (flags.apiGroup !== undefined) rs = rs.filter((r) => r.group === flags.apiGroup);
      if (flags.verbs?.length) rs = rs.filter((r) => flags.verbs!.every((v) => r.verbs.includes(v)));
      if (flags.categories?.length) rs = rs.filter((r) => flags.categories!.every((c) => r.categories.includes(c)));
      const key = flags.sortBy === 'kind' ? (r: (typeof rs)[number]) => r.kind : (r: (typeof rs)[number]) => r.resource;
      rs.sort((a, b) => (flags.sortBy ? key(a).localeCompare(key(b)) : groupOrder.indexOf(a.group) - groupOrder.indexOf(b.group) || a.resource.localeCompare(b.resource)));
      if (flags.output === 'name') {
        for (const r of rs) cli.out(qualifiedResource(r));
        return;
      }
      const wide = flags.output === 'wide';
      const rows: string[][] = flags.noHeaders ? [] : [['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND', ...(wide ? ['VERBS', 'CATEGORIES'] : [])]];
      for (const r of rs) {
        rows.push([r.resource, r.shortNames.join(','), apiVersionOf(r), String(r.namespaced), r.kind, ...(wide ? [r.verbs.join(','), r.categories.join(',')] : [])]);
      }
      cli.io.stdout.write(formatColumns(rows));
    });
}
