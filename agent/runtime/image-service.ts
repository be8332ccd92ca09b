// The CRI ImageService: pull, status, list, remove and filesystem usage over the image store.
import type { DeepPartial, Image, ImageServiceMethods, ServiceImpl } from '../cri/types.js';
import { invalid } from '../cri/errors.js';
import { PULL_PROGRESS_INFO, encodePullProgress } from '../cri/pull-progress.js';
import { type ImageRecord, type ImageStore, imageUser } from './image-store.js';
import { nowNanos } from './monitor.js';

function toImage(r: ImageRecord): DeepPartial<Image> {
  const user = imageUser(r);
  return {
    id: r.id,
    repoTags: r.repoTags,
    repoDigests: r.repoDigests,
    size: r.size,
    uid: user.uid !== undefined ? { value: user.uid } : null,
    username: user.username ?? '',
    spec: { image: r.id },
    pinned: false,
    imageSource: r.source,
  };
}

export function imageService(images: ImageStore): ServiceImpl<ImageServiceMethods> {
  return {
    async ListImages(req) {
      const name = req.filter?.image?.image;
      if (name) {
        const one = await images.find(name);
        return { images: one ? [toImage(one)] : [] };
      }
      return { images: (await images.list()).map(toImage) };
    },

    async ImageStatus(req) {
      const name = req.image?.image;
      if (!name) throw invalid('image is required');
      const found = await images.find(name);
      const info: Record<string, string> = found && req.verbose ? { config: JSON.stringify(found.config), chainIds: JSON.stringify(found.chainIds) } : {};
      // A pull of this reference under way (a first pull, or a re-pull of a tag present): how far it has come.
      const pulling = req.verbose ? images.pullProgress(name) : undefined;
      if (pulling) info[PULL_PROGRESS_INFO] = encodePullProgress(pulling);
      return { image: found ? toImage(found) : null, info };
    },

    async PullImage(req) {
      const name = req.image?.image;
      if (!name) throw invalid('image is required');
      const a = req.auth;
      const rec = await images.pull(name, {
        username: a?.username || undefined,
        password: a?.password || undefined,
        auth: a?.auth || undefined,
        registryToken: a?.registryToken || undefined,
        identityToken: a?.identityToken || undefined,
      });
      return { imageRef: rec.id };
    },

    async RemoveImage(req) {
      const name = req.image?.image;
      if (!name) throw invalid('image is required');
      await images.remove(name);
      return {};
    },

    async ImageFsInfo() {
      const usage = await images.usage();
      return {
        imageFilesystems: [
          { timestamp: nowNanos().toString(), fsId: { mountpoint: images.root }, usedBytes: { value: usage.bytes }, inodesUsed: { value: usage.inodes } },
        ],
        containerFilesystems: [],
      };
    },
  };
}
