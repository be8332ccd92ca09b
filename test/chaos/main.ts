// `npm run chaos -- [--duration 20m] [--seed N] [--store etcd|sqlite] [--real-agent]`: a chaos run that prints its report; exits 1 when a check fails.
import { parseDuration } from '../../lib/duration.js';
import { formatReport, runChaos } from './run.js';
import { reportProblems } from './checks.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const durationMs = parseDuration(arg('--duration') ?? '2m');
const seed = Number(arg('--seed') ?? 1);
const store = arg('--store') ?? 'etcd';
if (store !== 'etcd' && store !== 'sqlite') {
  console.error(`--store must be etcd or sqlite, not ${store}`);
  process.exit(2);
}
const report = await runChaos({ durationMs, seed, store, realAgent: process.argv.includes('--real-agent'), progress: (l) => console.log(l) });
console.log(formatReport(report));
const problems = reportProblems(report);
for (const p of problems) console.log(`FAILED: ${p}`);
process.exit(problems.length ? 1 : 0);
