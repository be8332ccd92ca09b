// A fake CRI for image tests (the point of those tests is the agent's policy, not a store): a map of image id ->
// size, tagged example.com/ID:1, and containers naming the image they were created from. RemoveImage of an absent
// image fails the test.
import assert from 'node:assert/strict';
import type { RuntimeClient } from '../../agent/cri/index.js';

export function fakeCriImages(images: Map<string, number>, containers: { imageRef: string }[]): Pick<RuntimeClient, 'image' | 'runtime'> {
  const toImage = (id: string, size: number): object => ({ id, repoTags: [`example.com/${id}:1`], repoDigests: [], size, uid: null, username: '', spec: null, pinned: false, imageSource: '' });
  const find = (ref: string): string | undefined => [...images.keys()].find((id) => id === ref || `example.com/${id}:1` === ref);
  const image = {
    listImages: async () => ({ images: [...images].map(([id, size]) => toImage(id, size)) }),
    imageStatus: async (req?: { image?: { image?: string } | null }) => {
      const id = find(req?.image?.image ?? '');
      return { image: id ? toImage(id, images.get(id) ?? 0) : null, info: {} };
    },
    pullImage: async (req?: { image?: { image?: string } | null }) => {
      const ref = req?.image?.image ?? '';
      const id = ref.replace(/^example\.com\/|:1$/g, '');
      images.set(id, 1);
      return { imageRef: id };
    },
    removeImage: async (req?: { image?: { image?: string } | null }) => {
      assert.ok(images.delete(req?.image?.image ?? ''), `removed an image that exists: ${req?.image?.image}`);
      return {};
    },
  };
  const runtime = {
    listContainers: async () => ({
      containers: containers.map((c) => ({ id: 'c', podSandboxId: 'p', metadata: null, image: null, imageRef: c.imageRef, state: 'CONTAINER_EXITED', createdAt: 0, labels: {}, annotations: {}, imageId: '' })),
    }),
  };
  return { image, runtime } as unknown as Pick<RuntimeClient, 'image' | 'runtime'>;
}
