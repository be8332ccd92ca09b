// `ketch registry`: the built-in OCI registry in the foreground; `ketch registry gc`: collect its unreferenced blobs.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { RegistryStore, Uploads, RwLock, collectGarbage, startRegistry, registryServingCert, apiServerAuth, DEFAULT_REGISTRY_PORT, DEFAULT_GC, type GcReport } from '../../registry/index.js';
import { readFlags, type FlagTable } from '../../lib/flags.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { untilSignal } from '../signals.js';

export const DEFAULT_REGISTRY_DIR = '/var/lib/ketch/registry';

export const REGISTRY_FLAGS: FlagTable = [
  { name: '--data-dir', kind: 'string', arg: 'dir', default: DEFAULT_REGISTRY_DIR, description: 'storage of blobs, repositories and uploads' },
  { name: '--port', kind: 'int', arg: 'port', default: String(DEFAULT_REGISTRY_PORT), description: 'HTTPS port' },
  { name: '--address', kind: 'string', arg: 'ip', default: '0.0.0.0', description: 'address to listen on' },
  { name: '--pki-dir', kind: 'string', arg: 'dir', default: '/var/lib/ketch/server/pki', description: "the cluster's PKI (ca.crt, ca.key): signs the registry's serving certificate" },
  { name: '--anonymous-pull', kind: 'bool', description: 'let callers without credentials pull (as system:anonymous, if the authorizer allows)' },
  { name: '--gc-grace', kind: 'duration', arg: 'duration', default: '1h', description: 'the collector keeps blobs and links younger than this (pushes between blobs and manifest)' },
];

export const REGISTRY_GC_FLAGS: FlagTable = [
  { name: '--registry', kind: 'string', arg: 'url', default: `https://127.0.0.1:${DEFAULT_REGISTRY_PORT}`, description: 'the running registry (authenticated with the kubeconfig credentials)' },
  { name: '--grace', kind: 'duration', arg: 'duration', default: '1h', description: 'keep blobs and links younger than this' },
  { name: '--dry-run', kind: 'bool', description: 'report what would be removed, remove nothing' },
  { name: '--offline', kind: 'bool', description: "collect directly in `ketch registry`'s --data-dir (only while no registry serves it)" },
];

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function printReport(cmd: Command, r: GcReport): void {
  cliOf(cmd).out(`${r.dryRun ? 'would remove' : 'removed'} ${r.deleted.length} of ${r.blobs} blobs (${mb(r.bytesFreed)}), ${r.uploadsExpired} expired uploads`);
  for (const d of r.deleted) cliOf(cmd).out(`  ${d}`);
}

/** POST /ketch/gc to a running registry with the kubeconfig's credentials (client certificate or token) and CA. */
async function remoteGc(cmd: Command, url: string, graceMs: number, dryRun: boolean): Promise<GcReport> {
  const cfg = cliOf(cmd).config;
  const target = new URL(`/ketch/gc?graceSeconds=${Math.round(graceMs / 1000)}&dryRun=${dryRun}`, url);
  const body = await new Promise<{ status: number; text: string }>((done, fail) => {
    const req = request(
      target,
      {
        method: 'POST',
        ...(cfg.ca ? { ca: cfg.ca } : {}),
        ...(cfg.cert && cfg.key ? { cert: cfg.cert, key: cfg.key } : {}),
        rejectUnauthorized: !cfg.insecureSkipTLSVerify,
        headers: cfg.token ? { authorization: `Bearer ${cfg.token}` } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', fail);
      },
    );
    req.on('error', (err) => fail(new CliError(`cannot reach the registry at ${url}: ${err.message} (is it running? --offline collects a stopped one)`)));
    req.end();
  });
  if (body.status !== 200) throw new CliError(`registry answered ${body.status}: ${body.text.slice(0, 500)}`);
  return JSON.parse(body.text) as GcReport;
}

export function register(program: Command): void {
  const registry = program.command('registry').description('run the built-in OCI registry (HTTPS with the cluster CA, cluster tokens); `registry gc` collects garbage');
  addFlags(registry, REGISTRY_FLAGS).action(async (_opts: unknown, cmd: Command) => {
    const f = readFlags(REGISTRY_FLAGS, givenFlags(cmd));
    const root = resolve(f.string('--data-dir'));
    const tls = await registryServingCert(f.string('--pki-dir'), root);
    const reg = await startRegistry({
      root,
      port: f.int('--port'),
      host: f.string('--address'),
      tls,
      auth: { cluster: apiServerAuth(cliOf(cmd).rest), ...(f.bool('--anonymous-pull') ? { anonymousPull: true } : {}) },
      gc: { graceMs: f.durationMs('--gc-grace') },
    });
    console.error(`ketch registry serving ${root} at ${reg.url} (CA: ${join(root, 'tls', 'ca.crt')})`);
    await untilSignal();
    await reg.close();
  });

  const gc = registry.command('gc').description('remove blobs no manifest references (safe while pushes run: blobs younger than --grace stay)');
  addFlags(gc, REGISTRY_GC_FLAGS).action(async (_opts: unknown, cmd: Command) => {
    const f = readFlags(REGISTRY_GC_FLAGS, givenFlags(cmd));
    const graceMs = f.durationMs('--grace');
    const dryRun = f.bool('--dry-run');
    if (!f.bool('--offline')) return printReport(cmd, await remoteGc(cmd, f.string('--registry'), graceMs, dryRun));
    // --data-dir is the parent command's flag (commander gives a parent's options to it wherever they stand).
    const root = resolve(readFlags(REGISTRY_FLAGS, cmd.parent ? givenFlags(cmd.parent) : {}).string('--data-dir'));
    if (!existsSync(join(root, 'blobs'))) throw new CliError(`${root} holds no registry storage (pass ketch registry --data-dir DIR gc --offline)`);
    const store = new RegistryStore(root);
    const report = await collectGarbage(store, new Uploads(store, Number.MAX_SAFE_INTEGER), new RwLock(), { ...DEFAULT_GC, graceMs, dryRun });
    printReport(cmd, report);
  });
}
