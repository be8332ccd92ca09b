// Test support: removes a pod bridge that an in-process runtime made, and the runtime's claim record on it
// (/run/ketch/bridges/<bridge>.json). A clean stop keeps both for the next start; a later start prunes a record only
// when its process is gone, and the test process lives on, so a test that removes the bridge removes the record too.
import { releaseBridge } from '../../../agent/runtime/host-claims.js';
import { run } from '../../../agent/runtime/command-runner.js';

export async function removeTestBridge(bridge: string): Promise<void> {
  await run('ip', ['link', 'del', bridge], { allowFailure: true });
  await releaseBridge(bridge);
}
