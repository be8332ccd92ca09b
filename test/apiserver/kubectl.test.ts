// The real kubectl (v1.32) against the in-process API server, with only the admin kubeconfig the server writes.
import { kubectlScenarios } from '../support/kubectl-scenarios.js';
import { startHarness } from './harness.js';

describe('kubectl e2e', function () {
  this.timeout(60_000);
  kubectlScenarios(async () => {
    const h = await startHarness();
    return { kubeconfig: h.api.adminKubeconfigPath, stop: () => h.stop() };
  });
});
