// scripts/install-deps.sh (what the quick start runs first) installs only what is missing or out of date (issue 23): a
// second run neither reinstalls the npm dependencies nor rebuilds. Run on a copy of the script in a scratch tree, with
// npm, dpkg-query, apt-get and systemctl stubbed on PATH (they record their calls): the real ones would change the host.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/install-deps.sh', import.meta.url));

describe('scripts/install-deps.sh: only what is missing or out of date', () => {
  let dir: string;
  const calls = (): string[] => readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter(Boolean);
  const run = (env: NodeJS.ProcessEnv = {}): string =>
    execFileSync('bash', [join(dir, 'scripts', 'install-deps.sh')], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${join(dir, 'stubs')}:${process.env.PATH ?? ''}`, ...env } });
  // File times set, not waited for: the tree is made an hour ago; a change is dated after the script's stamps.
  const touch = (p: string, changed = false): void => {
    const t = Date.now() / 1000 + (changed ? 60 : -3600);
    utimesSync(join(dir, p), t, t);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-deps-'));
    mkdirSync(join(dir, 'scripts'));
    mkdirSync(join(dir, 'stubs'));
    mkdirSync(join(dir, 'cli'));
    copyFileSync(SCRIPT, join(dir, 'scripts', 'install-deps.sh'));
    writeFileSync(join(dir, 'package.json'), '{"name":"x"}\n');
    writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion":3}\n');
    writeFileSync(join(dir, 'cli', 'main.ts'), 'export {};\n');
    writeFileSync(join(dir, 'calls'), '');
    const stub = (name: string, body: string): void => {
      writeFileSync(join(dir, 'stubs', name), `#!/bin/sh\necho "${name} $*" >> "${join(dir, 'calls')}"\n${body}\n`);
      chmodSync(join(dir, 'stubs', name), 0o755);
    };
    stub('npm', 'case "$1" in ci) rm -rf node_modules; mkdir node_modules;; run) mkdir -p dist/cli; touch dist/cli/main.js;; esac');
    stub('dpkg-query', "printf 'install ok installed'");
    stub('apt-get', 'exit 1');
    stub('systemctl', 'exit 0');
    for (const p of ['package.json', 'package-lock.json', 'cli/main.ts']) touch(p);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs and builds on the first run, and does neither on the second', () => {
    run();
    assert.deepEqual(calls().filter((c) => c.startsWith('npm')), ['npm ci --no-audit --no-fund', 'npm run build']);
    assert.ok(!calls().some((c) => c.startsWith('apt-get')), 'no Debian package was missing');
    writeFileSync(join(dir, 'calls'), '');
    const out = run();
    assert.deepEqual(calls().filter((c) => c.startsWith('npm')), []);
    assert.match(out, /npm dependencies up to date/);
    assert.match(out, /build up to date/);
  });

  it('rebuilds after a source file changed, and reinstalls after package-lock.json changed', () => {
    run();
    writeFileSync(join(dir, 'calls'), '');
    touch('cli/main.ts', true);
    run();
    assert.deepEqual(calls().filter((c) => c.startsWith('npm')), ['npm run build']);
    writeFileSync(join(dir, 'calls'), '');
    writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}\n');
    touch('package-lock.json', true);
    run();
    // The new lock file is also newer than the build: npm ci may have changed what the build compiles against.
    assert.deepEqual(calls().filter((c) => c.startsWith('npm')), ['npm ci --no-audit --no-fund', 'npm run build']);
    writeFileSync(join(dir, 'calls'), '');
    run({ KETCH_REINSTALL: '1' });
    assert.deepEqual(calls().filter((c) => c.startsWith('npm')), ['npm ci --no-audit --no-fund', 'npm run build']);
  });
});
