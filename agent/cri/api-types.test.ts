import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { PROTO_FILE, TYPES_FILE, generateCriTypes } from '../../scripts/gen-cri-types.js';

describe('CRI types (api-types.ts, generated from api.proto)', () => {
  it('are fresh: regenerating from api.proto gives the committed file (npx tsx scripts/gen-cri-types.ts)', () => {
    assert.equal(readFileSync(TYPES_FILE, 'utf8'), generateCriTypes(readFileSync(PROTO_FILE, 'utf8')));
  });

  it('follow the proto: a field added to a message shows in the output', () => {
    const proto = readFileSync(PROTO_FILE, 'utf8').replace('message VersionRequest {\n    string version = 1;', 'message VersionRequest {\n    string version = 1;\n    repeated int64 extra_ids = 9;');
    assert.match(generateCriTypes(proto), /export interface VersionRequest \{\n {2}version: string;\n {2}extraIds: Int64\[\];\n\}/);
  });
});
