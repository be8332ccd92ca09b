// The CRI (runtime.v1) as the node agent and ketch's runtime shim share it: api.proto, its generated types, the
// client, the server glue and the error type. The shim itself (runc, images, network) is in ../runtime.
export type * from './types.js';
export { int64, POD_CIDR_ANNOTATION } from './types.js';
export { connectRuntime, isNotFound, type RuntimeClient } from './client.js';
export { serveCri } from './server.js';
export { RuntimeError, invalid, notFound, type RuntimeErrorCode } from './errors.js';
export { PULL_PROGRESS_INFO, decodePullProgress, encodePullProgress, type PullProgressInfo } from './pull-progress.js';
