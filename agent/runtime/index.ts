// ketch's runtime shim: a CRI (runtime.v1) server over runc, with its image store, pod network and streaming; run in
// the agent's process (startRuntimeService) or as its child (spawnRuntimeService). The CRI itself is in ../cri.
export { defaultBridge, importHostBusybox, loadImageArchive, saveImagesArchive, startRuntimeService, tagImage, type RuntimeServiceHandle, type RuntimeServiceOptions } from './service.js';
export { spawnRuntimeService, type RuntimeChildOptions } from './child.js';
export type { ImageGcPolicy } from './image-store.js';
export { ensurePodCidrFree } from './host-claims.js';
export { RuntimeError } from '../cri/errors.js';
export { HOST_BUSYBOX_TAGS, hasDefaultRoute } from './host-image.js';
