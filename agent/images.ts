// The agent's image endpoints (what `ketch image ls|inspect|pull|rm|prune` call on every node, through the API
// server's node proxy, authorized as nodes/proxy like the kubelet's other debugging endpoints): each is one or a few
// calls to the node's CRI ImageService. An image a container of this node uses (running or not, as crictl counts it)
// is kept by prune, and rm refuses it unless forced.
//   GET    /images                  the node's images, each with inUse
//   GET    /images/status?image=R   ImageStatus, verbose (config and chain ids)
//   POST   /images/pull?image=R     PullImage
//   DELETE /images?image=R[&force=true]
//   POST   /images/prune            removes every image no container uses
import type { RuntimeClient } from './cri/index.js';
import type { Image } from './cri/api-types.js';

/** The part of a CRI client the image endpoints use. */
export type CriImages = Pick<RuntimeClient, 'image' | 'runtime'>;

/** An image as the agent reports it. */
export interface NodeImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  inUse: boolean;
}

/** A refusal the server turns into a Status with this code. */
export class ImageRequestError extends Error {
  constructor(
    readonly code: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** The ids of those of `images` that this node's containers (running or not) were created from. */
export async function imagesInUse(rt: Pick<RuntimeClient, 'runtime'>, images: Image[]): Promise<Set<string>> {
  const { containers } = await rt.runtime.listContainers({});
  const used = new Set<string>();
  for (const c of containers) {
    for (const ref of [c.imageRef, c.imageId, c.image?.image]) {
      if (!ref) continue;
      const match = images.find((i) => i.id === ref || i.repoTags.includes(ref) || i.repoDigests.includes(ref));
      if (match) used.add(match.id);
    }
  }
  return used;
}

function toNodeImage(i: Image, used: Set<string>): NodeImage {
  return { id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, size: Number(i.size), inUse: used.has(i.id) };
}

export async function listNodeImages(rt: CriImages): Promise<NodeImage[]> {
  const { images } = await rt.image.listImages({});
  const used = await imagesInUse(rt, images);
  return images.map((i) => toNodeImage(i, used));
}

export async function imageStatus(rt: CriImages, ref: string): Promise<{ image: NodeImage; info: Record<string, string> }> {
  const { image, info } = await rt.image.imageStatus({ image: { image: ref }, verbose: true });
  if (!image) throw new ImageRequestError(404, `image ${ref} not found`);
  const used = await imagesInUse(rt, [image]);
  return { image: toNodeImage(image, used), info };
}

export async function pullImage(rt: CriImages, ref: string): Promise<{ imageRef: string }> {
  const { imageRef } = await rt.image.pullImage({ image: { image: ref } });
  return { imageRef };
}

/** Removes one image (by id, tag or digest); an image in use needs force. Returns the id removed. */
export async function removeImage(rt: CriImages, ref: string, force: boolean): Promise<{ removed: string }> {
  const { image } = await rt.image.imageStatus({ image: { image: ref } });
  if (!image) throw new ImageRequestError(404, `image ${ref} not found`);
  if (!force && (await imagesInUse(rt, [image])).has(image.id)) {
    throw new ImageRequestError(409, `image ${ref} (${image.id}) is used by a container on this node`);
  }
  await rt.image.removeImage({ image: { image: image.id } });
  return { removed: image.id };
}

/** Removes every image no container uses (crictl rmi --prune). Returns the ids removed. */
export async function pruneImages(rt: CriImages): Promise<{ removed: string[]; reclaimedBytes: number }> {
  const { images } = await rt.image.listImages({});
  const used = await imagesInUse(rt, images);
  const removed: string[] = [];
  let reclaimedBytes = 0;
  for (const i of images) {
    if (used.has(i.id)) continue;
    await rt.image.removeImage({ image: { image: i.id } });
    removed.push(i.id);
    reclaimedBytes += Number(i.size);
  }
  return { removed, reclaimedBytes };
}

/** Answers an /images request (parts: the path's segments); undefined when the path is none of these. */
export async function serveImages(rt: CriImages, method: string, parts: string[], q: URLSearchParams): Promise<unknown> {
  if (parts[0] !== 'images') return undefined;
  const ref = (): string => {
    const image = q.get('image');
    if (!image) throw new ImageRequestError(400, 'give the image as ?image=REF');
    return image;
  };
  const sub = parts.slice(1).join('/');
  if (method === 'GET' && sub === '') return { kind: 'ImageList', items: await listNodeImages(rt) };
  if (method === 'GET' && sub === 'status') return imageStatus(rt, ref());
  if (method === 'POST' && sub === 'pull') return pullImage(rt, ref());
  if (method === 'DELETE' && sub === '') return removeImage(rt, ref(), q.get('force') === 'true');
  if (method === 'POST' && sub === 'prune') return pruneImages(rt);
  return undefined;
}
