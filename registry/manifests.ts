// Manifests and indexes as pushed: OCI image manifest and index (with artifactType and subject), Docker schema 2
// manifest and manifest list (media types as the runtime names them). What they reference must already be in the
// repository.
import { MEDIA } from '../agent/runtime/oci.js';
import { manifestInvalid, RegistryError } from './errors.js';
import { hexOf } from './names.js';

export { MEDIA };

const MANIFEST_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
/** Layers that registries need not hold (they are fetched from their urls). */
const FOREIGN_LAYERS = new Set([
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  mediaType: string;
  isIndex: boolean;
  /** Blobs (config and layers) the repository must hold. */
  blobs: string[];
  /** Manifests (of an index) the repository must hold. */
  manifests: string[];
  subject?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function descriptor(v: unknown, field: string): Descriptor {
  if (!isObj(v)) throw manifestInvalid(`${field} is not a descriptor`);
  if (typeof v.mediaType !== 'string' || !v.mediaType) throw manifestInvalid(`${field}.mediaType is missing`);
  if (typeof v.digest !== 'string') throw manifestInvalid(`${field}.digest is missing`);
  try {
    hexOf(v.digest);
  } catch (err) {
    if (err instanceof RegistryError) throw manifestInvalid(`${field}.digest: ${err.message}`, { digest: v.digest.slice(0, 200) });
    throw err;
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw manifestInvalid(`${field}.size must be a whole number`);
  return v as unknown as Descriptor;
}

function annotationsOf(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v) || !Object.values(v).every((x) => typeof x === 'string')) throw manifestInvalid(`${field} must map strings to strings`);
  return v as Record<string, string>;
}

/** Parses a pushed manifest; `contentType` is the request's, which must agree with the body's mediaType. */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw manifestInvalid('manifest is not JSON');
  }
  if (!isObj(doc)) throw manifestInvalid('manifest is not a JSON object');
  if (doc.schemaVersion === 1) throw manifestInvalid('Docker schema 1 manifests are not supported: push with a schema 2 or OCI client');
  if (doc.schemaVersion !== 2) throw manifestInvalid('schemaVersion must be 2');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim();
  if (declared && header && header !== declared && header !== 'application/json') {
    throw manifestInvalid(`Content-Type ${header} does not match the manifest's mediaType ${declared}`);
  }
  const mediaType = declared ?? (header && header !== 'application/json' ? header : Array.isArray(doc.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest);
  const subject = doc.subject === undefined ? undefined : descriptor(doc.subject, 'subject').digest;
  const annotations = annotationsOf(doc.annotations, 'annotations');
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
  const common = { mediaType, ...(subject ? { subject } : {}), ...(annotations ? { annotations } : {}) };
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw manifestInvalid('an index needs a manifests array');
    const children = doc.manifests.map((d, i) => descriptor(d, `manifests[${i}]`));
    return { ...common, isIndex: true, blobs: [], manifests: children.map((d) => d.digest), ...(artifactType ? { artifactType } : {}) };
  }
  if (!MANIFEST_TYPES.has(mediaType)) throw manifestInvalid(`unsupported manifest media type ${mediaType.slice(0, 200)}`);
  const config = descriptor(doc.config, 'config');
  if (!Array.isArray(doc.layers)) throw manifestInvalid('a manifest needs a layers array');
  const layers = doc.layers.map((d, i) => descriptor(d, `layers[${i}]`));
  const blobs = [config.digest, ...layers.filter((l) => !FOREIGN_LAYERS.has(l.mediaType)).map((l) => l.digest)];
  // The referrers API names an image manifest's artifact by its artifactType, else its config's media type.
  return { ...common, isIndex: false, blobs, manifests: [], artifactType: artifactType ?? config.mediaType };
}

/** What a manifest body references, for the garbage collector (unparseable bodies reference nothing). */
export function referencesOf(body: Buffer): string[] {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { config?: { digest?: unknown }; layers?: { digest?: unknown }[]; manifests?: { digest?: unknown }[] };
    const out: string[] = [];
    const add = (d: unknown): void => {
      if (typeof d === 'string') out.push(d);
    };
    add(doc.config?.digest);
    for (const l of Array.isArray(doc.layers) ? doc.layers : []) add(l?.digest);
    for (const m of Array.isArray(doc.manifests) ? doc.manifests : []) add(m?.digest);
    return out;
  } catch {
    return [];
  }
}
