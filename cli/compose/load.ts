// Loading a Compose project: the files (-f, or compose.yaml and friends), .env and the shell's variables for
// interpolation, merged in order, validated against the Compose Specification's JSON schema (the copy dclint ships),
// and the project name (-p, COMPOSE_PROJECT_NAME, the file's `name`, the directory).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { InterpolationError, interpolateTree, parseEnvFile, type Lookup } from './interpolate.js';

export class ComposeError extends Error {
  override name = 'ComposeError';
}

/** The parsed file, after interpolation and merging (shapes as the specification allows them). */
export type ComposeFile = Record<string, unknown> & { services?: Record<string, Record<string, unknown>> };

export interface ComposeProject {
  name: string;
  /** The directory of the first file: relative paths (build contexts, binds, env files) resolve from it. */
  dir: string;
  files: string[];
  model: ComposeFile;
  /** The variables interpolation saw (shell over .env), for `environment: [NAME]` entries without a value. */
  env: Lookup;
}

export interface LoadOptions {
  files: string[];
  projectName?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  envFile?: string;
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];
const OVERRIDES: Record<string, string[]> = {
  'compose.yaml': ['compose.override.yaml', 'compose.override.yml'],
  'compose.yml': ['compose.override.yml', 'compose.override.yaml'],
  'docker-compose.yaml': ['docker-compose.override.yaml', 'docker-compose.override.yml'],
  'docker-compose.yml': ['docker-compose.override.yml', 'docker-compose.override.yaml'],
};

function defaultFiles(cwd: string): string[] {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const found = DEFAULT_FILES.find((f) => existsSync(join(dir, f)));
    if (found) {
      const override = OVERRIDES[found]?.find((f) => existsSync(join(dir, f)));
      return [join(dir, found), ...(override ? [join(dir, override)] : [])];
    }
    if (dirname(dir) === dir) break;
  }
  throw new ComposeError(`no compose file found in ${cwd} or above (looked for ${DEFAULT_FILES.join(', ')}); pass -f FILE`);
}

let validator: ValidateFunction | undefined;

/** The Compose Specification schema as dclint ships it (kept current with compose-spec). */
function schemaValidator(): ValidateFunction {
  if (validator) return validator;
  const require = createRequire(import.meta.url);
  const schemaPath = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: true, strict: false });
  validator = ajv.compile(schema);
  return validator;
}

function describeError(e: ErrorObject): string {
  const path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
  if (e.keyword === 'additionalProperties') return `${path || '(top level)'}: additional property "${String((e.params as { additionalProperty?: string }).additionalProperty)}" is not allowed`;
  return `${path || '(top level)'}: ${e.message ?? 'invalid'}`;
}

/** Validates a model against the Compose Specification; throws one error listing every problem. */
export function validateCompose(model: unknown, source: string): void {
  const validate = schemaValidator();
  if (validate(model)) return;
  const seen = new Set<string>();
  const problems = (validate.errors ?? [])
    // oneOf/anyOf wrappers repeat what their branches said.
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf')
    .map(describeError)
    .filter((m) => !seen.has(m) && seen.add(m));
  throw new ComposeError(`${source} is not a valid Compose file:\n  ${problems.slice(0, 20).join('\n  ')}`);
}

/** A value produced by interpolation reads as YAML would read it (so `replicas: ${N}` is a number again). */
function retype(node: unknown, original: unknown): unknown {
  if (typeof node === 'string' && typeof original === 'string' && original.includes('$')) {
    if (/^-?\d+$/.test(node)) return Number(node);
    if (/^-?\d*\.\d+$/.test(node)) return Number(node);
    if (node === 'true' || node === 'false') return node === 'true';
    return node;
  }
  if (Array.isArray(node) && Array.isArray(original)) return node.map((v, i) => retype(v, original[i]));
  if (node && typeof node === 'object' && original && typeof original === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = retype(v, (original as Record<string, unknown>)[k]);
    return out;
  }
  return node;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** list-or-dict (environment, labels, ...) as a dict: "K=V" and "K" entries; a bare K has the value null. */
export function listOrDict(v: unknown, sep = '='): Record<string, string | null> {
  if (v === undefined || v === null) return {};
  if (Array.isArray(v)) {
    const out: Record<string, string | null> = {};
    for (const item of v) {
      const s = String(item);
      const i = s.indexOf(sep);
      if (i < 0) out[s] = null;
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
    return out;
  }
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null || x === undefined ? null : String(x)]));
  return {};
}

/** Sequences that a later file adds to (by a key), as Compose merges them; other sequences are replaced. */
const MERGED_SEQUENCES: Record<string, (item: unknown) => string> = {
  ports: (p) => JSON.stringify(p),
  expose: (p) => String(p),
  dns: (p) => String(p),
  dns_search: (p) => String(p),
  tmpfs: (p) => String(p),
  cap_add: (p) => String(p),
  cap_drop: (p) => String(p),
  profiles: (p) => String(p),
  env_file: (p) => JSON.stringify(p),
  volumes: (v) => (isMap(v) ? String(v.target) : String(v).split(':')[1] ?? String(v)),
  secrets: (s) => (isMap(s) ? String(s.source) : String(s)),
  configs: (s) => (isMap(s) ? String(s.source) : String(s)),
};
const DICT_KEYS = new Set(['environment', 'labels', 'annotations', 'extra_hosts', 'sysctls']);

function mergeService(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    if (DICT_KEYS.has(k)) out[k] = { ...listOrDict(b, k === 'extra_hosts' ? ':' : '='), ...listOrDict(v, k === 'extra_hosts' ? ':' : '=') };
    else if (MERGED_SEQUENCES[k] && Array.isArray(b) && Array.isArray(v)) {
      const keyOf = MERGED_SEQUENCES[k];
      const byKey = new Map(b.map((x) => [keyOf(x), x]));
      for (const x of v) byKey.set(keyOf(x), x);
      out[k] = [...byKey.values()];
    } else if (isMap(b) && isMap(v) && k !== 'command' && k !== 'entrypoint') out[k] = deepMerge(b, v);
    else out[k] = v;
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isMap(out[k]) && isMap(v) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

function mergeFiles(files: ComposeFile[]): ComposeFile {
  let out: ComposeFile = {};
  for (const f of files) {
    const services = { ...(out.services ?? {}) };
    for (const [name, svc] of Object.entries(f.services ?? {})) services[name] = services[name] ? mergeService(services[name], svc ?? {}) : (svc ?? {});
    out = { ...deepMerge(out, { ...f, services: {} }), services };
  }
  return out;
}

/** Project names as Compose allows them: lowercase letters, digits, dashes and underscores, starting with a letter or digit. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
}

export function loadProject(o: LoadOptions): ComposeProject {
  const files = o.files.length ? o.files.map((f) => (isAbsolute(f) ? f : resolve(o.cwd, f))) : defaultFiles(o.cwd);
  const dir = dirname(files[0]!);
  const envPath = o.envFile ? resolve(o.cwd, o.envFile) : join(dir, '.env');
  let dotenv: Record<string, string> = {};
  if (existsSync(envPath)) dotenv = parseEnvFile(readFileSync(envPath, 'utf8'), envPath, (n) => o.env[n]);
  else if (o.envFile) throw new ComposeError(`env file ${envPath} not found`);
  // The shell's variables win over .env, as in Compose.
  const env: Lookup = (n) => o.env[n] ?? dotenv[n];
  const parsed: ComposeFile[] = [];
  for (const file of files) {
    if (!existsSync(file)) throw new ComposeError(`${file}: no such file`);
    let doc: unknown;
    try {
      doc = YAML.parse(readFileSync(file, 'utf8'), { merge: true, maxAliasCount: 1000 });
    } catch (err) {
      throw new ComposeError(`${file}: not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!isMap(doc)) throw new ComposeError(`${file}: a Compose file is a mapping at the top level`);
    try {
      parsed.push(retype(interpolateTree(doc, env), doc) as ComposeFile);
    } catch (err) {
      if (err instanceof InterpolationError) throw new ComposeError(`${file}: ${err.message}`);
      throw err;
    }
  }
  const model = mergeFiles(parsed);
  validateCompose(model, files.length === 1 ? files[0]! : files.join(' + '));
  if (!model.services || !Object.keys(model.services).length) throw new ComposeError(`${files.join(', ')}: no services`);
  const rawName = o.projectName ?? o.env.COMPOSE_PROJECT_NAME ?? (typeof model.name === 'string' ? model.name : undefined) ?? basename(dir);
  const name = normalizeProjectName(rawName);
  if (!name) throw new ComposeError(`project name "${rawName}" has no usable characters; pass -p NAME`);
  return { name, dir, files, model: { ...model, name }, env };
}
