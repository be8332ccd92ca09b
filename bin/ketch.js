#!/usr/bin/env node
// Launcher for the `ketch` command: builds dist/ on first use (e.g. a fresh clone run through npx), then runs the CLI.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('ketch: building (first run)...\n');
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  } catch (err) {
    if (!existsSync(entry)) throw err; // type errors still emit JavaScript; only a missing entry point is fatal
  }
}
const { main } = await import(entry);
await main(process.argv.slice(2));
