// Component commands: each runs one part of the cluster alone (`ketch runtime`, ...), as `ketch server`/`ketch up` host them together.
import type { Command } from 'commander';
import { loadImageArchive, startRuntimeService } from '../../agent/runtime/index.js';
import { untilSignal } from './server.js';

export const DEFAULT_RUNTIME_ROOT = '/var/lib/ketch/runtime';
export const DEFAULT_RUNTIME_ENDPOINT = 'unix:///run/ketch/runtime.sock';

/** Parses repeated `--registry-mirror NAME=URL` flags. */
export function parseMirrors(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new Error(`--registry-mirror wants NAME=URL, got "${v}"`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(program: Command): void {
  program
    .command('runtime')
    .description('run the CRI runtime service over runc (what the node agent talks to)')
    .option('--root <dir>', 'state directory (images, containers, sandboxes)', DEFAULT_RUNTIME_ROOT)
    .option('--listen <endpoint>', 'gRPC endpoint', DEFAULT_RUNTIME_ENDPOINT)
    .option('--insecure-registry <host:port>', 'registry reached over plain HTTP (repeatable)', collect, [])
    .option('--registry-mirror <name=url>', 'mirror for a registry, e.g. docker.io=http://127.0.0.1:5000 (repeatable)', collect, [])
    .action(async (flags: { root: string; listen: string; insecureRegistry: string[]; registryMirror: string[] }) => {
      const rt = await startRuntimeService({
        root: flags.root,
        listen: flags.listen,
        insecureRegistries: flags.insecureRegistry,
        registryMirrors: parseMirrors(flags.registryMirror),
      });
      console.error(`ketch runtime listening on ${flags.listen}`);
      await untilSignal();
      await rt.close();
    });

  const image = program.command('image').description('manage the node image store');
  image
    .command('load')
    .argument('<file>', 'an OCI image-layout tar')
    .description('import an OCI image-layout tar into the runtime image store')
    .option('--root <dir>', 'runtime state directory', DEFAULT_RUNTIME_ROOT)
    .option('--name <ref>', 'tag the image with this name')
    .action(async (file: string, flags: { root: string; name?: string }) => {
      const tags = await loadImageArchive(flags.root, file, flags.name ? { name: flags.name } : {});
      for (const t of tags) console.log(`loaded ${t}`);
    });
}
