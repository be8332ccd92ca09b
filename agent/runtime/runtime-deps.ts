// What the CRI RuntimeService's methods work on: the stores, the pod network, the streaming server and the locks.
import type { ContainerStore } from './containers.js';
import type { KeyedLock } from './keyed-lock.js';
import type { NetworkManager } from './network.js';
import type { SandboxStore } from './sandboxes.js';
import type { StreamingServer } from './streaming.js';

export interface RuntimeDeps {
  sandboxes: SandboxStore;
  containers: ContainerStore;
  network: NetworkManager;
  streaming: StreamingServer;
  runcVersion: string;
  /** Serialises the calls on one sandbox or container (a key per id). */
  locks: KeyedLock;
}
