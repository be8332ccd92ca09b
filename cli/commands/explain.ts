// `ketch explain TYPE[.field.path]`: the documentation of a resource or field, read from the server's /openapi/v3.
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { apiVersionOf } from '../resources.js';

interface Schema {
  $ref?: string;
  allOf?: Schema[];
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}

interface Doc {
  components?: { schemas?: Record<string, Schema> };
}

export function register(program: Command): void {
  program
    .command('explain')
    .description('documentation of a resource and its fields')
    .argument('<resource>', 'TYPE or TYPE.field.path, e.g. pods.spec.containers')
    .option('--recursive', 'print all fields of all levels')
    .option('--api-version <gv>', 'the API version of the resource (group/version)')
    .action(async (arg: string, flags: { recursive?: boolean; apiVersion?: string }, cmd: Command) => {
      const cli = cliOf(cmd);
      const [typeName, ...path] = arg.split('.');
      const resolver = await cli.resolver();
      // `deployments.apps.spec` style: take the longest prefix that names a resource.
      let res = resolver.find(typeName!);
      let fields = path;
      for (let i = path.length; i > 0; i--) {
        const r = resolver.find([typeName, ...path.slice(0, i)].join('.'));
        if (r && (r.group === path.slice(0, i).join('.') || path.slice(0, i).join('.').endsWith(r.group))) {
          res = r;
          fields = path.slice(i);
          break;
        }
      }
      if (!res) throw new CliError(`the server doesn't have a resource type "${typeName}"`);
      const gv = flags.apiVersion ?? apiVersionOf(res);
      const index = await cli.rest.request<{ paths: Record<string, { serverRelativeURL: string }> }>('GET', '/openapi/v3');
      const key = gv.includes('/') ? `apis/${gv}` : `api/${gv}`;
      const entry = index.paths[key];
      if (!entry) throw new CliError(`couldn't find resource for "${gv}"`);
      const doc = await cli.rest.request<Doc>('GET', entry.serverRelativeURL);
      const schemas = doc.components?.schemas ?? {};
      const [group, version] = gv.includes('/') ? gv.split('/') : ['', gv];
      const top = Object.values(schemas).find((s) => s['x-kubernetes-group-version-kind']?.some((k) => k.kind === res!.kind && k.group === group && k.version === version));
      if (!top) throw new CliError(`couldn't find the schema of ${res.kind} in ${gv}`);
      const deref = (s: Schema | undefined): Schema => {
        let cur = s ?? {};
        for (let i = 0; i < 20; i++) {
          const ref = cur.$ref ?? (cur.allOf?.length === 1 ? cur.allOf[0]!.$ref : undefined);
          if (!ref) break;
          const target = schemas[ref.replace('#/components/schemas/', '')] ?? {};
          cur = { ...target, ...(cur.description ? { description: cur.description } : {}) };
        }
        return cur;
      };
      const typeOf = (s0: Schema | undefined): string => {
        const s = s0 ?? {};
        const ref = s.$ref ?? (s.allOf?.length === 1 ? s.allOf[0]!.$ref : undefined);
        if (ref) {
          const d = schemas[ref.replace('#/components/schemas/', '')];
          if (d?.type && d.type !== 'object') return d.type;
          return ref.split('.').pop()!;
        }
        if (s.type === 'array') return `[]${typeOf(s.items)}`;
        if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return `map[string]${typeOf(s.additionalProperties)}`;
        return s.type ?? 'Object';
      };
      let cur = deref(top);
      let fieldName: string | undefined;
      let fieldType: string | undefined;
      for (const f of fields) {
        let target = cur;
        while (target.type === 'array' && target.items) target = deref(target.items);
        const p = target.properties?.[f];
        if (!p) throw new CliError(`field "${f}" does not exist`);
        fieldName = f;
        fieldType = typeOf(p);
        cur = deref(p);
      }
      let elem = cur;
      while (elem.type === 'array' && elem.items) elem = deref(elem.items);
      let out = `GROUP:      ${group}\nKIND:       ${res.kind}\nVERSION:    ${version}\n\n`;
      if (!group) out = out.replace(/^GROUP:.*\n/, '');
      if (fieldName) out += `FIELD: ${fieldName} <${fieldType}>\n\n`;
      out += `DESCRIPTION:\n${indent(cur.description ?? elem.description ?? '<empty>', 4)}\n`;
      if (cur.enum?.length) out += `    \n    Possible enum values:\n${cur.enum.map((e) => `     - \`${String(e)}\``).join('\n')}\n`;
      if (elem.properties) {
        out += `\nFIELDS:\n`;
        const walk = (s: Schema, depth: number, seen: Set<Schema>): string => {
          let t = '';
          for (const [name, p] of Object.entries(s.properties ?? {})) {
            const req = s.required?.includes(name) ? ' -required-' : '';
            if (flags.recursive) {
              t += `${'  '.repeat(depth + 1)}${name}\t<${typeOf(p)}>${req}\n`;
              let child = deref(p);
              while (child.type === 'array' && child.items) child = deref(child.items);
              if (child.properties && !seen.has(child) && depth < 12) t += walk(child, depth + 1, new Set([...seen, child]));
            } else {
              t += `  ${name}\t<${typeOf(p)}>${req}\n${indent(deref(p).description ?? '<no description>', 4)}\n\n`;
            }
          }
          return t;
        };
        out += walk(elem, 0, new Set([elem]));
      }
      cli.io.stdout.write(out.replace(/\n+$/, '\n'));
    });
}

function indent(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}
