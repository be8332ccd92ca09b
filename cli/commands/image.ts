// `ketch image ls|inspect|pull|rm|prune [--node N]`: the images of every node (or one), through the API server's node
// proxy to each agent's image endpoints (agent/images.ts), which call the node's CRI ImageService. Nodes are visited
// one after another; a node that cannot be reached is named on stderr and the exit status says so.
// `ketch image save|tag|push` act on this host's runtime store, as `ketch image load` does.
import type { Command } from 'commander';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveImagesArchive, tagImage } from '../../agent/runtime/index.js';
import { clusterAccess } from '../build/access.js';
import { registryCertDir, type RegistryAccess } from '../build/buildah.js';
import { ApiError } from '../../api/errors.js';
import type { NodeImage } from '../../agent/images.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { formatColumns } from '../printers/table.js';

export interface NodeFlags {
  node?: string;
}

/** The nodes to act on: the one given, or every node. */
async function nodesOf(cli: Cli, node: string | undefined): Promise<string[]> {
  if (node) return [node];
  const list = await cli.rest.request<{ items: { metadata: { name: string } }[] }>('GET', '/api/v1/nodes');
  return list.items.map((n) => n.metadata.name).sort();
}

const imagesPath = (node: string, sub = ''): string => `/api/v1/nodes/${encodeURIComponent(node)}/proxy/images${sub}`;

/** Calls `call` on each node; failures are printed per node and, when any, end in one error. */
async function eachNode<T>(cli: Cli, flags: NodeFlags, call: (node: string) => Promise<T>, opts: { notFoundOk?: boolean } = {}): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  const failed: string[] = [];
  for (const node of await nodesOf(cli, flags.node)) {
    try {
      out.set(node, await call(node));
    } catch (e) {
      if (opts.notFoundOk && e instanceof ApiError && e.code === 404) continue;
      failed.push(node);
      cli.io.stderr.write(`node ${node}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  if (failed.length) throw new CliError(`failed on ${failed.length} node(s): ${failed.join(', ')}`);
  return out;
}

/** 45.2MB, as docker prints sizes (powers of 1000). */
/** Pulls an image on every node (or flags.node) through its agent, printing what each resolved it to. */
export async function pullOnNodes(cli: Cli, ref: string, flags: NodeFlags = {}, label = ''): Promise<void> {
  await eachNode(cli, flags, async (node) => {
    const r = await cli.rest.request<{ imageRef: string }>('POST', imagesPath(node, `/pull?image=${encodeURIComponent(ref)}`));
    cli.io.stdout.write(`${label}${node}: pulled ${ref} (${r.imageRef})\n`);
  });
}

export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toPrecision(3)}${units[u]}`;
}

/** REPOSITORY and TAG of a repo tag ("<none>" for an untagged image). */
function splitTag(tag: string): [string, string] {
  const slash = tag.lastIndexOf('/');
  const colon = tag.lastIndexOf(':');
  return colon > slash ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, '<none>'];
}

/** The rows of `ketch image ls`: one per node and tag. */
export function imageRows(byNode: Map<string, NodeImage[]>, quiet: boolean): string[][] {
  const rows: string[][] = quiet ? [] : [['NODE', 'REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE', 'IN USE']];
  for (const [node, images] of byNode) {
    for (const i of images) {
      const short = i.id.replace(/^sha256:/, '').slice(0, 12);
      if (quiet) {
        rows.push([short]);
        continue;
      }
      const tags = i.repoTags.length ? i.repoTags : ['<none>:<none>'];
      for (const t of tags) rows.push([node, ...splitTag(t), short, humanSize(i.size), i.inUse ? 'yes' : 'no']);
    }
  }
  return rows;
}

export function registerImageVerbs(image: Command, defaultRoot: string): void {
  registerNodeVerbs(image);
  registerLocalVerbs(image, defaultRoot);
}

function registerNodeVerbs(image: Command): void {
  image
    .command('ls')
    .alias('list')
    .description("list the images of every node (or one node's)")
    .option('--node <name>', 'only this node')
    .option('-q, --quiet', 'only image ids')
    .action(async (flags: NodeFlags & { quiet?: boolean }, cmd: Command) => {
      const cli = cliOf(cmd);
      const byNode = await eachNode(cli, flags, async (node) => (await cli.rest.request<{ items: NodeImage[] }>('GET', imagesPath(node))).items);
      const rows = imageRows(byNode, flags.quiet === true);
      cli.io.stdout.write(flags.quiet ? [...new Set(rows.map((r) => r[0]))].map((id) => `${id}\n`).join('') : formatColumns(rows));
    });

  image
    .command('inspect')
    .argument('<image>')
    .description('the image as each node holds it (ImageStatus, verbose), as JSON')
    .option('--node <name>', 'only this node')
    .action(async (ref: string, flags: NodeFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const found = await eachNode(cli, flags, (node) => cli.rest.request<{ image: NodeImage; info: Record<string, string> }>('GET', imagesPath(node, `/status?image=${encodeURIComponent(ref)}`)), { notFoundOk: true });
      if (!found.size) throw new CliError(`no such image: ${ref}`);
      const out = [...found].map(([node, s]) => ({ node, ...s.image, info: Object.fromEntries(Object.entries(s.info).map(([k, v]) => [k, parseJson(v)])) }));
      cli.io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  image
    .command('pull')
    .argument('<image>')
    .description('pull an image on every node (or one)')
    .option('--node <name>', 'only this node')
    .action(async (ref: string, flags: NodeFlags, cmd: Command) => {
      await pullOnNodes(cliOf(cmd), ref, flags);
    });

  image
    .command('rm')
    .alias('rmi')
    .argument('<image...>')
    .description('remove images from every node (or one); an image a container uses needs --force')
    .option('--node <name>', 'only this node')
    .option('-f, --force', 'remove even when a container uses it')
    .action(async (refs: string[], flags: NodeFlags & { force?: boolean }, cmd: Command) => {
      const cli = cliOf(cmd);
      for (const ref of refs) {
        const q = `?image=${encodeURIComponent(ref)}${flags.force ? '&force=true' : ''}`;
        const removed = await eachNode(cli, flags, (node) => cli.rest.request<{ removed: string }>('DELETE', imagesPath(node, q)), { notFoundOk: true });
        if (!removed.size) throw new CliError(`no such image: ${ref}`);
        for (const [node, r] of removed) cli.io.stdout.write(`${node}: deleted ${r.removed}\n`);
      }
    });

  image
    .command('prune')
    .description('remove the images no container uses, on every node (or one)')
    .option('--node <name>', 'only this node')
    .action(async (flags: NodeFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      let total = 0;
      await eachNode(cli, flags, async (node) => {
        const r = await cli.rest.request<{ removed: string[]; reclaimedBytes: number }>('POST', imagesPath(node, '/prune'));
        for (const id of r.removed) cli.io.stdout.write(`${node}: deleted ${id}\n`);
        total += r.reclaimedBytes;
      });
      cli.io.stdout.write(`Total reclaimed space: ${humanSize(total)}\n`);
    });
}

/**
 * save, tag and push act, as load does, on this host's runtime store (--root): the CRI has no verb for them, so they
 * are not sent through the node agents. push copies with skopeo (Debian's package), with the cluster's CA and
 * credentials for the built-in registry.
 */
function registerLocalVerbs(image: Command, defaultRoot: string): void {
  image
    .command('save')
    .argument('<image...>')
    .description("write images of this host's runtime store to an OCI image-layout tar")
    .requiredOption('-o, --output <file>', 'the tar to write')
    .option('--root <dir>', 'runtime state directory', defaultRoot)
    .action(async (refs: string[], flags: { output: string; root: string }, cmd: Command) => {
      const cli = cliOf(cmd);
      for (const name of await saveImagesArchive(flags.root, refs, flags.output)) cli.io.stdout.write(`saved ${name}\n`);
    });

  image
    .command('tag')
    .argument('<source>')
    .argument('<target>')
    .description("name an image of this host's runtime store also as TARGET")
    .option('--root <dir>', 'runtime state directory', defaultRoot)
    .action(async (source: string, target: string, flags: { root: string }) => {
      await tagImage(flags.root, source, target);
    });

  image
    .command('push')
    .argument('<image>')
    .argument('[destination]', 'the reference to push to (default: the image name)')
    .description("push an image of this host's runtime store to a registry (skopeo copy)")
    .option('--root <dir>', 'runtime state directory', defaultRoot)
    .option('--creds <user:password>', 'registry credentials (default: the kubeconfig token; its client certificate is presented too)')
    .option('--tls-verify <bool>', 'verify the registry certificate and use HTTPS', 'true')
    .action(async (ref: string, dest: string | undefined, flags: { root: string; creds?: string; tlsVerify: string }, cmd: Command) => {
      const cli = cliOf(cmd);
      const digest = await pushImage(flags.root, ref, dest ?? ref, clusterAccess(cli, flags.creds), flags.tlsVerify !== 'false');
      cli.io.stdout.write(`pushed ${dest ?? ref}@${digest}\n`);
    });
}

/** Saves the image to a temporary OCI archive and copies it with skopeo; returns the manifest digest pushed. */
async function pushImage(root: string, ref: string, dest: string, access: RegistryAccess, tlsVerify: boolean): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'ketch-push-'));
  const certs = await registryCertDir(access);
  try {
    const archive = join(work, 'image.tar');
    const [name] = await saveImagesArchive(root, [ref], archive);
    const tag = name?.startsWith('sha256:') ? '' : `:${name?.slice(name.lastIndexOf(':') + 1)}`;
    const digestFile = join(work, 'digest');
    await runSkopeo([
      'copy', '--digestfile', digestFile,
      ...(certs ? ['--dest-cert-dir', certs] : []),
      ...(access.creds ? ['--dest-creds', access.creds] : []),
      ...(tlsVerify ? [] : ['--dest-tls-verify=false']),
      `oci-archive:${archive}${tag}`, `docker://${dest}`,
    ]);
    return (await readFile(digestFile, 'utf8')).trim();
  } finally {
    await rm(work, { recursive: true, force: true });
    if (certs) await rm(certs, { recursive: true, force: true });
  }
}

function runSkopeo(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new CliError(missing ? 'ketch image push needs skopeo (apt-get install skopeo)' : `skopeo copy failed: ${stderr.trim() || err.message}`));
    });
  });
}

function parseJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    // Not every runtime's verbose info is JSON (containerd's is; a plain string is shown as it is).
    return v;
  }
}
