// A disruption through the whole agent (issue 18): the eviction API puts DisruptionTarget on a running Job pod and
// deletes it; the agent stops the container and writes the pod's final status, keeping the condition it does not own,
// so that the Job controller's podFailurePolicy rule on DisruptionTarget applies. A real API server, the runtime shim
// (runc) and Debian's docker-registry. Needs root, runc, iproute2 and docker-registry.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import type { Pod } from '../../api/index.js';
import type { ResourceClient } from '../../client/index.js';
import { startAgent, type Agent } from '../../agent/index.js';
import { NODES, PODS } from '../../agent/resources.js';
import { connectRuntime, type RuntimeClient } from '../../agent/cri/index.js';
import { JOBS, type Job } from '../../controllers/job/types.js';
import { startAgentEnv, type AgentEnv } from '../support/agent-env.js';
import { conditionOf, job, startJobController, type RunningControllers } from '../controllers/job-harness.js';
import type { JobController } from '../../controllers/job/job-controller.js';
import { waitFor } from '../support/util.js';

const NODE = 'disruption-node';
const POD_CIDR = '10.252.19.0/24';
const BRIDGE = 'ketchdsr0';

describe('a Job pod evicted under the agent', function () {
  this.timeout(120_000);
  let env: AgentEnv;
  let agent: Agent | undefined;
  let runtime: RuntimeClient | undefined;
  let ctrl: RunningControllers<JobController> | undefined;
  let pods: ResourceClient<Pod>;

  before(async () => {
    env = await startAgentEnv('disruption', BRIDGE);
    pods = env.cluster.rest.resource<Pod>(PODS);
    agent = await startAgent({ rest: env.cluster.rest, nodeName: NODE, rootDir: join(env.root, 'agent'), port: 0, runtimeBridge: BRIDGE, syncIntervalMs: 250 });
    runtime = connectRuntime(agent.runtimeEndpoint);
    await env.cluster.rest.resource(NODES).patch(undefined, NODE, { spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] } });
    ctrl = await startJobController(env.cluster.rest);
  });

  after(async () => {
    await ctrl?.stop();
    if (agent && runtime) {
      const list = await pods.list(undefined).catch(() => ({ items: [] as Pod[] }));
      for (const p of list.items) {
        // The Job's tracking finalizer would keep a pod the stopped controller no longer tends.
        if (p.metadata.finalizers?.length) await pods.patch(p.metadata.namespace, p.metadata.name ?? '', { metadata: { finalizers: null } }).catch(() => undefined);
        await pods.delete(p.metadata.namespace, p.metadata.name ?? '', { gracePeriodSeconds: 0 }).catch(() => undefined);
      }
      const rt = runtime;
      await waitFor(async () => (await rt.runtime.listPodSandbox({})).items.length === 0, { timeoutMs: 30_000, what: 'agent cleanup' }).catch(() => undefined);
      rt.close();
      await agent.stop();
    }
    await env?.stop();
  });

  it('fails the Job by its FailJob rule on DisruptionTarget: the condition survives the agent\'s final status', async () => {
    const jobs = env.cluster.rest.resource<Job>(JOBS);
    const spec = job('evicted', {
      backoffLimit: 6,
      podFailurePolicy: { rules: [{ action: 'FailJob', onPodConditions: [{ type: 'DisruptionTarget' }] }] },
    });
    const podSpec = spec.spec.template.spec!;
    podSpec.nodeName = NODE;
    podSpec.terminationGracePeriodSeconds = 1;
    podSpec.containers = [{ name: 'main', image: env.image, command: ['sleep', '3600'] }];
    await jobs.create('default', spec);
    const running = await waitFor(
      async () => (await pods.list('default', { labelSelector: 'batch.kubernetes.io/job-name=evicted' })).items.find((p) => p.status?.containerStatuses?.[0]?.state?.running),
      { timeoutMs: 60_000, intervalMs: 100, what: 'the Job pod running under the agent' },
    );
    const name = running.metadata.name ?? '';
    await env.cluster.rest.request('POST', `/api/v1/namespaces/default/pods/${name}/eviction`, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' } } });

    // The agent's final status: the container killed, the pod Failed, DisruptionTarget still there. The Job tracking
    // finalizer keeps the pod until the controller counted it; either the pod is seen so, or the Job tells it.
    const failed = await waitFor(
      async () => {
        const j = await jobs.get('default', 'evicted');
        return conditionOf(j, 'Failed')?.status === 'True' && j;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the Job Failed' },
    ).catch(async (err: unknown) => {
      const j = await jobs.get('default', 'evicted');
      const ps = (await pods.list('default', { labelSelector: 'batch.kubernetes.io/job-name=evicted' })).items;
      throw new Error(`${String(err)}\njob status: ${JSON.stringify(j.status)}\npods: ${JSON.stringify(ps.map((p) => ({ name: p.metadata.name, deletion: p.metadata.deletionTimestamp, finalizers: p.metadata.finalizers, status: p.status })))}`);
    });
    assert.equal(conditionOf(failed, 'Failed')?.reason, 'PodFailurePolicy');
    assert.match(conditionOf(failed, 'Failed')?.message ?? '', new RegExp(`Pod default/${name} has condition DisruptionTarget matching FailJob rule at index 0`));
    assert.equal(failed.status?.failed, 1);
    const all = (await pods.list('default', { labelSelector: 'batch.kubernetes.io/job-name=evicted' })).items;
    assert.ok(all.every((p) => p.metadata.name === name), 'no replacement pod: the rule failed the Job at once');
  });
});
