// The node agent end to end (issue 7) on ketch's own runtime: `ketch server` and `ketch agent` (with its built-in
// runtime) as separate processes, driven by the real kubectl. The scenarios (test/support/agent-scenarios.ts) run
// unchanged on containerd too (agent-containerd.test.ts); cases for this runtime alone go below them, using `suite`.
// test/agent/agent.test.ts covers the rest of the agent in-process.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { agentScenarios } from '../support/agent-scenarios.js';
import { bridgeOf, ENTRY, execResult, kubectlEnv, leftovers } from './cluster.js';

describe('node agent (e2e: ketch server + ketch agent, kubectl)', function () {
  this.timeout(180_000);
  const suite = agentScenarios({
    node: 'e2e-agent-node',
    clusterCidr: '10.62.0.0/16',
    startRuntime: async ({ agentRoot, mirror }) => {
      const runtimeRoot = join(agentRoot, 'runtime');
      return {
        agentArgs: ['--registry-mirror', `docker.io=${mirror.url}`],
        sandboxes: async () => leftovers(agentRoot, runtimeRoot, []).sandboxes,
        leftovers: async (ids) => leftovers(agentRoot, runtimeRoot, ids),
        // ketch's runtime leaves its bridge for the next start.
        stop: async () => void (await execResult('ip', ['link', 'del', bridgeOf(runtimeRoot)]).catch(() => undefined)),
      };
    },
  });

  it('kubectl exec -it and ketch exec -it run the command on a terminal of the client’s size and pass its exit code', async () => {
    await suite.apply('tty', `apiVersion: v1\nkind: Pod\nmetadata: {name: tty}\nspec:\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sleep, "3600"]}\n`);
    await suite.waitRunning('tty');
    // kubectl asks for a TTY only when its stdin is a terminal: script(1) gives it one, here of 40 rows and 100 columns.
    const kubectl = "stty rows 40 cols 100; kubectl exec -it tty -- sh -c 'tty; stty size; exit 3'";
    const r = await execResult('script', ['-qfec', kubectl, '/dev/null'], { env: kubectlEnv(suite.c.kubeconfig, suite.c.home) });
    assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /\/dev\/pts\/\d+\r\r?\n40 100\r\r?\n/);
    assert.match(r.stdout, /command terminated with exit code 3/);

    // The same with `ketch exec -it` (raw terminal, its size sent first, exit code passed through).
    const ketch = `stty rows 30 cols 90; ${process.execPath} --import tsx ${ENTRY} --kubeconfig ${suite.c.kubeconfig} exec -it tty -- sh -c 'tty; stty size; exit 4'`;
    const k = await execResult('script', ['-qfec', ketch, '/dev/null'], { env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(k.code, 4, `${k.stdout}${k.stderr}`);
    // libuv's raw mode keeps the local terminal's ONLCR (kubectl's clears OPOST), so each remote \r\n may gain one or more \r.
    assert.match(k.stdout, /\/dev\/pts\/\d+\r+\n30 90\r+\n/);
    assert.match(k.stdout, /command terminated with exit code 4/);
  });
});
