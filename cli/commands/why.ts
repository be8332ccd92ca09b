// `ketch why TYPE/NAME`: why isn't it running? For a pod: scheduling (per-node reasons), its node, missing config
// maps and secrets, container states, last terminations, probe failures and image pulls, with what to change. For a
// deployment, replica set, stateful set, daemon set or job: its own state, then the pods that hold it back.
import type { Command } from 'commander';
import { isNotFound } from '../../api/errors.js';
import type { ObjectLike } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { diagnosePod, formatVerdict, podReferences, type PodFacts, type Verdict } from '../diagnose.js';
import { eventsOrNone } from '../events.js';
import { colours } from '../io.js';
import { parseTargets, type ApiResource } from '../resources.js';
import { rolloutStatus } from './rollout.js';

type Any = Record<string, unknown>;
type Obj = ObjectLike & Any;
const o = (v: unknown): Any => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Any) : {});
const a = (v: unknown): Any[] => (Array.isArray(v) ? v.map(o) : []);

export function register(program: Command): void {
  program
    .command('why')
    .description("explain why a pod, deployment or replica set isn't running, and what to change")
    .argument('<args...>', 'TYPE/NAME or TYPE NAME')
    .option('--pods <n>', 'how many held-back pods of a workload to explain in detail', '3')
    .action(async (args: string[], flags: { pods: string }, cmd: Command) => {
      const cli = cliOf(cmd);
      const targets = parseTargets(await cli.resolver(), args);
      if (!targets.length || targets.some((t) => t.name === undefined)) throw new CliError('specify what to explain: ketch why pod/NAME (or deployment/NAME, replicaset/NAME)');
      const c = colours(cli.io);
      for (const t of targets) {
        const obj = (await cli.client<Obj>(t.res).get(cli.nsFor(t.res), t.name!)) as Obj;
        if (t.res.kind === 'Pod' && t.res.group === '') cli.io.stdout.write(formatVerdict(await explainPod(cli, obj), c));
        else cli.io.stdout.write(await explainWorkload(cli, t.res, obj, Number(flags.pods) || 3));
      }
    });
}

export async function podFacts(cli: Cli, pod: Obj): Promise<PodFacts> {
  const ns = pod.metadata?.namespace;
  const events = await eventsOrNone(cli, pod, 'Pod');
  const nodeName = o(pod.spec).nodeName as string | undefined;
  let node: Any | null | undefined;
  if (nodeName) {
    try {
      node = (await cli.rest.request<Any>('GET', `/api/v1/nodes/${encodeURIComponent(nodeName)}`)) ?? null;
    } catch (e) {
      if (isNotFound(e)) node = null;
      else throw e;
    }
  }
  const refs = podReferences(pod);
  const missing: PodFacts['missing'] = [];
  const missingKeys: PodFacts['missingKeys'] = [];
  const cache = new Map<string, Any | null>();
  for (const r of refs) {
    const key = `${r.kind}/${r.name}`;
    if (!cache.has(key)) {
      try {
        cache.set(key, await cli.rest.request<Any>('GET', `/api/v1/namespaces/${encodeURIComponent(ns ?? cli.namespace)}/${r.kind === 'configmap' ? 'configmaps' : 'secrets'}/${encodeURIComponent(r.name)}`));
      } catch (e) {
        if (!isNotFound(e)) throw e;
        cache.set(key, null);
      }
    }
    const found = cache.get(key);
    if (found === null) {
      if (r.use === 'imagePullSecrets') continue;
      const m = missing.find((x) => x.kind === r.kind && x.name === r.name);
      if (m) {
        if (!m.uses.includes(r.use)) m.uses.push(r.use);
        m.optional &&= r.optional;
      } else missing.push({ kind: r.kind, name: r.name, uses: [r.use], optional: r.optional });
    } else if (found && r.key && !r.optional && !(r.key in o(found.data)) && !(r.key in o(found.binaryData)) && !(r.key in o(found.stringData))) {
      missingKeys.push({ kind: r.kind, name: r.name, key: r.key, use: r.use });
    }
  }
  return { pod, events, ...(node !== undefined ? { node } : {}), missing, missingKeys };
}

export async function explainPod(cli: Cli, pod: Obj): Promise<Verdict> {
  return diagnosePod(await podFacts(cli, pod));
}

const ownedBy = (x: ObjectLike, uid: string | undefined): boolean => ((x.metadata?.ownerReferences ?? []) as { uid?: string }[]).some((r) => r.uid === uid);
const revisionOf = (x: ObjectLike): number => Number(x.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);

async function explainWorkload(cli: Cli, res: ApiResource, obj: Obj, maxPods: number): Promise<string> {
  const c = colours(cli.io);
  const ns = obj.metadata?.namespace;
  const resolver = await cli.resolver();
  const podRes = resolver.byKind('v1', 'Pod')!;
  const name = `${res.kind.toLowerCase()}${res.group ? '.' + res.group : ''}/${obj.metadata?.name ?? ''}`;
  const lines: string[] = [];
  const problems: string[] = [];
  const spec = o(obj.spec);
  const st = o(obj.status);
  let owners: Obj[] = [obj];
  let desired = typeof spec.replicas === 'number' ? spec.replicas : 1;

  if (['Deployment', 'DaemonSet', 'StatefulSet'].includes(res.kind)) {
    try {
      const s = rolloutStatus(res.kind, obj);
      if (!s.done) problems.push(s.message.replace(/\.\.\.$/, ''));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  for (const cond of a(st.conditions)) {
    if ((cond.type === 'ReplicaFailure' && cond.status === 'True') || (cond.type === 'Progressing' && cond.status === 'False') || (cond.type === 'Available' && cond.status === 'False') || (cond.type === 'Failed' && cond.status === 'True')) {
      problems.push(`${String(cond.type)}=${String(cond.status)}${cond.reason ? ` (${String(cond.reason)})` : ''}${cond.message ? `: ${String(cond.message)}` : ''}`);
    }
  }
  if (spec.paused === true) problems.push('it is paused: changes start no rollout (ketch rollout resume ' + name + ')');
  const gen = (obj.metadata as { generation?: number } | undefined)?.generation ?? 0;
  if (typeof st.observedGeneration !== 'number' || st.observedGeneration < gen) {
    problems.push(`its controller has not acted on the latest spec (generation ${gen}, observed ${String(st.observedGeneration ?? 'none')}): is the controller manager running?`);
  }

  if (res.kind === 'Deployment') {
    const rsRes = resolver.byKind('apps/v1', 'ReplicaSet')!;
    const rss = (await cli.client<Obj>(rsRes).listAll(ns)).items.filter((r) => ownedBy(r, obj.metadata?.uid)).sort((x, y) => revisionOf(y) - revisionOf(x));
    const newest = rss[0];
    if (newest) lines.push(`  new replica set: ${newest.metadata?.name ?? ''} (revision ${revisionOf(newest)}, ${String(o(newest.status).readyReplicas ?? 0)}/${String(o(newest.spec).replicas ?? 0)} ready)`);
    const olds = rss.slice(1).filter((r) => Number(o(r.status).replicas ?? 0) > 0);
    if (olds.length) lines.push(`  old replica sets still running: ${olds.map((r) => `${r.metadata?.name ?? ''} (${String(o(r.status).replicas ?? 0)})`).join(', ')}`);
    owners = rss;
    for (const rs of rss.slice(0, 2)) {
      const evs = (await eventsOrNone(cli, rs, 'ReplicaSet')).filter((e) => e.type === 'Warning');
      for (const e of evs.slice(-2)) problems.push(`replica set ${rs.metadata?.name ?? ''}: ${e.reason ?? ''}: ${(e.message ?? '').trim()}`);
    }
    if (!rss.length && desired > 0) problems.push('it has no replica set yet: the deployment controller has not created one');
  } else if (res.kind === 'DaemonSet') {
    desired = Number(st.desiredNumberScheduled ?? 0);
  }
  const ownEvents = (await eventsOrNone(cli, obj, res.kind)).filter((e) => e.type === 'Warning');
  for (const e of ownEvents.slice(-3)) problems.push(`${e.reason ?? ''}: ${(e.message ?? '').trim()}`);

  const pods = (await cli.client<Obj>(podRes).listAll(ns)).items.filter((p) => owners.some((w) => ownedBy(p, w.metadata?.uid)));
  const verdicts: { pod: Obj; v: Verdict }[] = [];
  for (const p of pods) verdicts.push({ pod: p, v: await explainPod(cli, p) });
  const bad = verdicts.filter((x) => !x.v.healthy);
  const readyCount = verdicts.length - bad.length;
  lines.unshift(`  pods: ${readyCount} ready of ${pods.length} (want ${desired})`);
  if (pods.length < desired && !problems.some((p) => /FailedCreate/.test(p))) problems.push(`only ${pods.length} of ${desired} pods exist`);

  const healthy = !problems.length && !bad.length && readyCount >= desired;
  let out = healthy ? c.green(`${name} is running: ${readyCount}/${desired} pods ready.`) + '\n' : c.bold(`${name} is not fully running: ${readyCount}/${desired} pods ready.`) + '\n';
  for (const l of lines) out += `${l}\n`;
  for (const p of problems) out += `  ${c.red('✗')} ${p}\n`;
  if (bad.length) {
    // Pods that share a cause are explained once.
    const groups = new Map<string, { pod: Obj; v: Verdict }[]>();
    for (const b of bad) {
      const key = b.v.findings.map((f) => f.problem.replace(/container \S+/, 'container')).join('|');
      groups.set(key, [...(groups.get(key) ?? []), b]);
    }
    out += `\n  Pods holding it back:\n`;
    let shown = 0;
    for (const g of groups.values()) {
      if (shown++ >= maxPods) {
        out += `    ... and ${g.length} more pod(s) with other problems: ketch why pod/NAME\n`;
        continue;
      }
      const first = g[0]!;
      out += formatVerdict(first.v, c, '    ');
      if (g.length > 1) out += `      (the same for ${g.length - 1} more: ${g.slice(1, 6).map((x) => x.pod.metadata?.name ?? '').join(', ')}${g.length > 6 ? ', ...' : ''})\n`;
    }
  }
  return out;
}
