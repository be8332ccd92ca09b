// `ketch build -t REF [-f Dockerfile] [--build-arg K=V] [--target STAGE] [--push] DIR`: an image from a Dockerfile,
// built by buildah, loaded into this node's image store and/or pushed (to the built-in registry with the cluster's
// CA and credentials).
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { DEFAULT_BUILD_ROOT, buildImage } from '../build/buildah.js';
import { clusterAccess } from '../build/access.js';
import { DEFAULT_RUNTIME_ROOT, parseMirrors } from './components.js';

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  push?: boolean;
  load: boolean;
  cache: boolean;
  creds?: string;
  runtimeRoot: string;
  buildRoot: string;
  insecureRegistry: string[];
  registryMirror: string[];
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function parseBuildArgs(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    // --build-arg NAME alone takes NAME from the environment, as docker build does.
    if (i < 0) {
      const env = process.env[v];
      if (env !== undefined) out[v] = env;
    } else out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('build')
    .description('build an image from a Dockerfile (buildah), load it into this node\'s image store, --push it to a registry')
    .argument('<dir>', 'the build context')
    .option('-t, --tag <ref>', 'name of the image (repeatable)', collect, [])
    .option('-f, --file <dockerfile>', 'the Dockerfile (default: DIR/Dockerfile)')
    .option('--build-arg <k=v>', 'a build argument (repeatable)', collect, [])
    .option('--target <stage>', 'build up to this stage')
    .option('--push', 'push every tag to its registry')
    .option('--no-load', "do not load the image into this node's image store")
    .option('--no-cache', 'do not use the layer cache')
    .option('--creds <user:password>', 'registry credentials (default: the kubeconfig token; its client certificate is presented too)')
    .option('--runtime-root <dir>', "the node's runtime state directory (image store)", DEFAULT_RUNTIME_ROOT)
    .option('--build-root <dir>', 'buildah storage and layer cache', DEFAULT_BUILD_ROOT)
    .option('--insecure-registry <host:port>', 'registry reached over plain HTTP (repeatable)', collect, [])
    .option('--registry-mirror <name=url>', 'mirror for a registry, e.g. docker.io=http://127.0.0.1:5000 (repeatable)', collect, [])
    .action(async (dir: string, flags: BuildFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      if (!flags.tag.length) throw new CliError('ketch build needs a name: -t REPOSITORY[:TAG]');
      const started = Date.now();
      const result = await buildImage({
        context: dir,
        ...(flags.file ? { dockerfile: flags.file } : {}),
        tags: flags.tag,
        buildArgs: parseBuildArgs(flags.buildArg),
        ...(flags.target ? { target: flags.target } : {}),
        push: !!flags.push,
        load: flags.load,
        noCache: !flags.cache,
        runtimeRoot: flags.runtimeRoot,
        buildRoot: flags.buildRoot,
        insecureRegistries: flags.insecureRegistry,
        mirrors: parseMirrors(flags.registryMirror),
        access: flags.push ? clusterAccess(cli, flags.creds) : flags.creds ? { creds: flags.creds } : {},
        progress: (s) => cli.io.stderr.write(s),
      });
      cli.out(`built ${result.imageId.replace(/^sha256:/, '').slice(0, 12)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      for (const [tag, digest] of Object.entries(result.pushed)) cli.out(`pushed ${tag}@${digest}`);
      for (const name of result.loaded) cli.out(`loaded ${name}`);
    });
}
