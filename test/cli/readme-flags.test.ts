// The README documents every flag of `ketch up`, `ketch server` and `ketch agent`: read from the commands' own --help,
// so a new flag without a line in the README fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { run } from '../../cli/main.js';
import { Sink } from './harness.js';

async function help(command: string): Promise<string> {
  const out = new Sink();
  const err = new Sink();
  const stdin = new PassThrough();
  stdin.end();
  await run([command, '--help'], { stdout: out, stderr: err, stdin, env: process.env });
  return out.text + err.text;
}

describe('README flags', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const command of ['up', 'server', 'agent']) {
    it(`lists every flag of ketch ${command}`, async () => {
      const text = await help(command);
      const flags = [...text.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!).filter((f) => f !== '--help');
      assert.ok(flags.length > 5, `read the flags from --help:\n${text}`);
      const missing = flags.filter((f) => !readme.includes(`\`${f}`));
      assert.deepEqual(missing, [], `flags of ketch ${command} missing from README.md`);
    });
  }
});
