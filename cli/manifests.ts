// -f: objects from files, directories (-R to recurse), URLs (http(s) and file://) and stdin ("-"); multi-document
// YAML or JSON, with v1 Lists flattened.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { ObjectLike } from '../client/rest.js';
import { CliError } from './errors.js';
import type { Io } from './io.js';

export interface Manifest {
  obj: ObjectLike & Record<string, unknown>;
  source: string;
}

const EXTENSIONS = /\.(ya?ml|json)$/i;

async function readStdin(io: Io): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function filesOf(path: string, recursive: boolean, top = true): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CliError(`the path "${path}" does not exist`);
  }
  if (!st.isDirectory()) return [path];
  if (!top && !recursive) return [];
  return readdirSync(path)
    .sort()
    .flatMap((e) => {
      const p = join(path, e);
      const s = statSync(p);
      if (s.isDirectory()) return recursive ? filesOf(p, recursive, false) : [];
      return EXTENSIONS.test(e) ? [p] : [];
    });
}

/** Parses YAML/JSON text holding one or more documents. */
export function parseDocuments(text: string, source: string): Manifest[] {
  const out: Manifest[] = [];
  const docs = YAML.parseAllDocuments(text);
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length) throw new CliError(`error parsing ${source}: ${d.errors[0]!.message}`);
    const v = d.toJS({ maxAliasCount: 100 }) as unknown;
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new CliError(`error parsing ${source}: a document is not an object`);
    out.push(...flatten(v as Manifest['obj'], source));
  }
  return out;
}

function flatten(obj: Manifest['obj'], source: string): Manifest[] {
  if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) {
    return (obj.items as Manifest['obj'][]).flatMap((i) => flatten(i, source));
  }
  const missing = [...(obj.apiVersion ? [] : ['apiVersion not set']), ...(obj.kind ? [] : ['kind not set'])];
  if (missing.length) throw new CliError(`error validating "${source}": error validating data: [${missing.join(', ')}]; if you choose to ignore these errors, turn validation off with --validate=false`);
  return [{ obj, source }];
}

export async function readManifests(io: Io, paths: string[], recursive = false, verb = 'apply'): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(...parseDocuments(await readStdin(io), 'STDIN'));
    } else if (/^https?:\/\//.test(p)) {
      const res = await fetch(p);
      if (!res.ok) throw new CliError(`unable to read URL "${p}", server reported ${res.status} ${res.statusText}, status code=${res.status}`);
      out.push(...parseDocuments(await res.text(), p));
    } else {
      const local = p.startsWith('file://') ? fileURLToPath(p) : p;
      for (const f of filesOf(local, recursive)) out.push(...parseDocuments(readFileSync(f, 'utf8'), f));
    }
  }
  if (!out.length) throw new CliError(`no objects passed to ${verb}`);
  return out;
}
