// The client machinery shared by the scheduler, controllers, agent and CLI.
export * from './kubeconfig.js';
export * from './rest.js';
export * from './informer.js';
export * from './workqueue.js';
export * from './leader-election.js';
export * from './events.js';
export * from './object-ref.js';
export * from './resources.js';
export * from './created-meta.js';
