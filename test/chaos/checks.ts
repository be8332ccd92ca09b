// What a chaos run must show to pass: the issue's "done when" as checks over the report.
import type { ChaosReport } from './run.js';

export const CONVERGE_WITHIN_MS = 60_000;

export function reportProblems(r: ChaosReport): string[] {
  const out: string[] = [];
  if (r.acknowledged === 0) out.push('no write was acknowledged');
  if (r.lost) out.push(`${r.lost} acknowledged writes lost`);
  if (r.watchAnomalies.length) out.push(`${r.watchAnomalies.length} watch anomalies`);
  if (r.watchEvents === 0) out.push('the watchers saw no event');
  if (r.convergedAfterLastFaultMs === undefined || r.convergedAfterLastFaultMs > CONVERGE_WITHIN_MS) out.push(`Deployments and Jobs not converged within ${CONVERGE_WITHIN_MS / 1000} s of the last fault`);
  if (!r.jobs.complete) out.push('not every Job completed');
  if (r.leaks) out.push(`the real node left ${r.leaksDetail}`);
  const crashed = Object.entries(r.crashes);
  if (crashed.length) out.push(`processes crashed outside the injected faults: ${crashed.map(([k, n]) => `${k}=${n}`).join(' ')}`);
  if (Object.keys(r.faults).length === 0) out.push('no fault was injected');
  return out;
}
