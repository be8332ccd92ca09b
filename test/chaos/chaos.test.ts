// The short chaos runs of CI: two minutes of faults with a fixed seed on three etcd members, two API servers and hollow
// nodes, and on one API server over the embedded SQLite store; zero lost writes, zero watch anomalies, Deployments and
// Jobs converged within 60 s of the last fault, no crash.
import assert from 'node:assert/strict';
import { reportProblems } from './checks.js';
import { formatReport, runChaos } from './run.js';

describe('chaos (short run, fixed seed)', function () {
  this.timeout(600_000);

  it('loses no acknowledged write, keeps watch histories whole and converges after faults', async () => {
    const report = await runChaos({ durationMs: 120_000, seed: 1 });
    process.stdout.write(`${formatReport(report)}\n`);
    assert.deepEqual(reportProblems(report), []);
  });

  it('on the embedded SQLite store: no acknowledged write lost across SIGKILLs of its server, watch histories whole', async () => {
    const report = await runChaos({ durationMs: 120_000, seed: 1, store: 'sqlite' });
    process.stdout.write(`${formatReport(report)}\n`);
    assert.deepEqual(reportProblems(report), []);
  });
});
