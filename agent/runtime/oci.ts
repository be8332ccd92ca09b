// OCI image-spec and Docker schema-2 shapes, narrowed from JSON, and the platform choice for indexes.
import { RuntimeError } from '../cri/errors.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export const MANIFEST_ACCEPT = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList];

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface Manifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Index {
  mediaType: string;
  manifests: Descriptor[];
}

/** The parts of an image config that decide how a container runs. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
  };
  rootfs: { type: string; diff_ids: string[] };
}

function bad(what: string): RuntimeError {
  return new RuntimeError('FailedPrecondition', `invalid ${what}`, false);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, what: string): Descriptor {
  if (!isObj(v) || typeof v.digest !== 'string' || typeof v.size !== 'number') throw bad(what);
  return v as unknown as Descriptor;
}

export function isIndexType(mediaType: string): boolean {
  return mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;
}

/** Parses a manifest or index body; `contentType` fills in when the body has no mediaType. */
export function parseManifestOrIndex(body: Buffer, contentType: string | undefined): Manifest | Index {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw bad(`manifest: not JSON (${String(err)})`);
  }
  if (!isObj(doc)) throw bad('manifest');
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : (contentType?.split(';')[0]?.trim() ?? '');
  if (doc.schemaVersion === 1) throw new RuntimeError('FailedPrecondition', 'docker schema-1 manifests are not supported', false);
  if (Array.isArray(doc.manifests) || isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw bad('index');
    return { mediaType: mediaType || MEDIA.ociIndex, manifests: doc.manifests.map((d) => descriptor(d, 'index entry')) };
  }
  if (!Array.isArray(doc.layers)) throw bad('manifest: no layers');
  return {
    mediaType: mediaType || MEDIA.ociManifest,
    config: descriptor(doc.config, 'manifest config'),
    layers: doc.layers.map((d) => descriptor(d, 'manifest layer')),
  };
}

export function isIndex(m: Manifest | Index): m is Index {
  return 'manifests' in m;
}

export function hostPlatform(): { os: string; architecture: string } {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch];
  return { os: 'linux', architecture: arch ?? process.arch };
}

/** Picks the host's platform (linux/amd64 here) from an index. */
export function pickPlatform(index: Index, what: string): Descriptor {
  const want = hostPlatform();
  const found = index.manifests.find((d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture);
  if (found) return found;
  // An index of one manifest without platform (an OCI layout written by a tool) is taken as is.
  const only = index.manifests.length === 1 ? index.manifests[0] : undefined;
  if (only && !only.platform) return only;
  throw new RuntimeError('NotFound', `${what}: no manifest for ${want.os}/${want.architecture} in the index`);
}

export function parseImageConfig(body: Buffer): ImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw bad(`image config: not JSON (${String(err)})`);
  }
  if (!isObj(doc) || !isObj(doc.rootfs) || !Array.isArray(doc.rootfs.diff_ids)) throw bad('image config: no rootfs.diff_ids');
  return doc as unknown as ImageConfig;
}
