// The flags of `ketch scheduler` (and of the scheduler hosted in `ketch server`): a flag table (the CLI turns it into
// options) and the conversion of the values given to startScheduler's options.
import { readFlags, type FlagInput, type FlagTable } from '../lib/flags.js';
import { loadConfigFile, type SchedulerConfiguration } from './config.js';

export const SCHEDULER_FLAGS: FlagTable = [
  { name: '--kubeconfig', kind: 'string', arg: 'file', description: 'kubeconfig of the API server to schedule for' },
  { name: '--config', kind: 'string', arg: 'file', description: 'KubeSchedulerConfiguration YAML: profiles, plugin weights, percentageOfNodesToScore' },
  { name: '--leader-elect', kind: 'bool', description: 'run only while holding the kube-system/kube-scheduler Lease' },
  { name: '--scheduler-name', kind: 'string', arg: 'name', description: 'schedulerName of pods to schedule (default "default-scheduler")' },
];

/** startScheduler's options from the flags given (by name); --kubeconfig is the caller's, to build the client. */
export function schedulerOptionsFromFlags(input: FlagInput): { config?: SchedulerConfiguration; leaderElect?: boolean; schedulerName?: string } {
  const f = readFlags(SCHEDULER_FLAGS, input);
  const config = f.optional('--config');
  const schedulerName = f.optional('--scheduler-name');
  return {
    ...(config ? { config: loadConfigFile(config) } : {}),
    ...(f.given('--leader-elect') ? { leaderElect: f.bool('--leader-elect') } : {}),
    ...(schedulerName ? { schedulerName } : {}),
  };
}
