// Emits agent/cri/api-types.ts, the TypeScript shapes of the CRI messages and services in agent/cri/api.proto, as
// @grpc/proto-loader decodes them with the options of agent/cri/proto.ts: camelCase names, enums as their names,
// int64 as decimal strings (numbers accepted when sent), scalar defaults filled in, absent sub-messages as null.
//
// Why a generator of our own over protobufjs's reflection, and not pbjs/pbts (protobufjs-cli): pbts declares the
// classes of protobufjs's static modules (optional fields, Long for int64, enums as numbers), which is not the shape
// proto-loader hands our code; types derived at compile time would need a proto parser in the type system. The
// output is committed, and agent/cri/api-types.test.ts fails when it is stale.
// Run: npx tsx scripts/gen-cri-types.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PROTO_FILE = join(ROOT, 'agent', 'cri', 'api.proto');
export const TYPES_FILE = join(ROOT, 'agent', 'cri', 'api-types.ts');
const PACKAGE = 'runtime.v1';

const SCALARS: Record<string, string> = {
  string: 'string',
  bool: 'boolean',
  bytes: 'Buffer',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  double: 'number',
  float: 'number',
  int64: 'Int64',
  uint64: 'Int64',
  sint64: 'Int64',
  fixed64: 'Int64',
  sfixed64: 'Int64',
};

function fieldType(f: protobuf.Field): string {
  const r = f.resolvedType;
  const base = r ? r.name : SCALARS[f.type];
  if (!base) throw new Error(`${f.fullName}: no TypeScript type for proto type ${f.type}`);
  if (f instanceof protobuf.MapField) return `Record<string, ${base}>`;
  if (f.repeated) return `${base}[]`;
  // proto-loader (defaults: true) gives an absent sub-message as null; scalars and enums get their zero value.
  return r instanceof protobuf.Type ? `${base} | null` : base;
}

function emitEnum(e: protobuf.Enum): string {
  return `export type ${e.name} = ${Object.keys(e.values).map((v) => `'${v}'`).join(' | ')};\n`;
}

function emitMessage(t: protobuf.Type): string {
  if (!t.fieldsArray.length) return `export type ${t.name} = Record<string, never>;\n`;
  const fields = t.fieldsArray.map((f) => `  ${f.name}: ${fieldType(f)};\n`).join('');
  return `export interface ${t.name} {\n${fields}}\n`;
}

function emitService(s: protobuf.Service): string {
  const methods = s.methodsArray.map((m) => `  ${m.name}: [${m.resolvedRequestType?.name ?? m.requestType}, ${m.resolvedResponseType?.name ?? m.responseType}];\n`).join('');
  return `/** ${s.name}: method name -> [request, response]. */\nexport interface ${s.name}Methods {\n${methods}}\n`;
}

/** The text of api-types.ts for the proto source given. */
export function generateCriTypes(protoSource: string): string {
  const root = protobuf.parse(protoSource, { keepCase: false }).root;
  root.resolveAll();
  const pkg = root.lookup(PACKAGE);
  if (!(pkg instanceof protobuf.Namespace)) throw new Error(`package ${PACKAGE} not found`);
  const parts: string[] = [
    '// GENERATED from agent/cri/api.proto by scripts/gen-cri-types.ts: do not edit by hand.\n' +
      '// The decoded shapes (@grpc/proto-loader, options in agent/cri/proto.ts); regenerate with `npx tsx scripts/gen-cri-types.ts`.\n',
    '/** An int64 field: a decimal string when received; a number is accepted when sent. */\nexport type Int64 = string | number;\n',
  ];
  for (const n of pkg.nestedArray) {
    if (n instanceof protobuf.Enum) parts.push(emitEnum(n));
    else if (n instanceof protobuf.Type) parts.push(emitMessage(n));
  }
  for (const n of pkg.nestedArray) if (n instanceof protobuf.Service) parts.push(emitService(n));
  return parts.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TYPES_FILE, generateCriTypes(readFileSync(PROTO_FILE, 'utf8')));
  console.log(`wrote ${TYPES_FILE}`);
}
