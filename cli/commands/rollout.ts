// `ketch rollout status|history|undo|restart|pause|resume` for deployments (status, history, undo and restart also for
// daemon sets and stateful sets, from their ControllerRevisions), following kubectl's messages.
import type { Command } from 'commander';
import type { ObjectLike } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { parseDuration } from '../flags.js';
import { objectName } from '../printers/index.js';
import { tabwrite } from '../printers/tabwriter.js';
import { deepEqual } from '../merge.js';
import { addSelectFlags, selectInfos, type Info, type SelectFlags } from '../select.js';
import { progress, watchObject } from '../wait-util.js';

type Any = Record<string, unknown>;
type Workload = ObjectLike & {
  spec?: { replicas?: number; paused?: boolean; template?: Any; updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } }; selector?: Any };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    conditions?: { type?: string; status?: string; reason?: string }[];
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
};

const REVISION = 'deployment.kubernetes.io/revision';
const CHANGE_CAUSE = 'kubernetes.io/change-cause';

/** One status line, and whether the rollout is done; throws when it can never finish. Kubernetes' rollout status. */
export function rolloutStatus(kind: string, o: Workload): { message: string; done: boolean } {
  const gen = (o.metadata as { generation?: number } | undefined)?.generation ?? 0;
  const st = o.status ?? {};
  const spec = o.spec ?? {};
  const name = o.metadata?.name ?? '';
  const observed = st.observedGeneration ?? 0;
  if (kind === 'Deployment') {
    if (gen <= observed) {
      const cond = st.conditions?.find((c) => c.type === 'Progressing');
      if (cond?.reason === 'ProgressDeadlineExceeded') throw new CliError(`deployment "${name}" exceeded its progress deadline`);
      const updated = st.updatedReplicas ?? 0;
      if (spec.replicas !== undefined && updated < spec.replicas) return { message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${spec.replicas} new replicas have been updated...`, done: false };
      if ((st.replicas ?? 0) > updated) return { message: `Waiting for deployment "${name}" rollout to finish: ${(st.replicas ?? 0) - updated} old replicas are pending termination...`, done: false };
      if ((st.availableReplicas ?? 0) < updated) return { message: `Waiting for deployment "${name}" rollout to finish: ${st.availableReplicas ?? 0} of ${updated} updated replicas are available...`, done: false };
      return { message: `deployment "${name}" successfully rolled out`, done: true };
    }
    return { message: 'Waiting for deployment spec update to be observed...', done: false };
  }
  if (kind === 'DaemonSet') {
    if ((spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') throw new CliError('rollout status is only available for RollingUpdate strategy type');
    if (gen <= observed) {
      const desired = st.desiredNumberScheduled ?? 0;
      if ((st.updatedNumberScheduled ?? 0) < desired) return { message: `Waiting for daemon set "${name}" rollout to finish: ${st.updatedNumberScheduled ?? 0} out of ${desired} new pods have been updated...`, done: false };
      if ((st.numberAvailable ?? 0) < desired) return { message: `Waiting for daemon set "${name}" rollout to finish: ${st.numberAvailable ?? 0} of ${desired} updated pods are available...`, done: false };
      return { message: `daemon set "${name}" successfully rolled out`, done: true };
    }
    return { message: 'Waiting for daemon set spec update to be observed...', done: false };
  }
  if (kind === 'StatefulSet') {
    if ((spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') throw new CliError('rollout status is only available for RollingUpdate strategy type');
    if (observed === 0 || gen > observed) return { message: 'Waiting for statefulset spec update to be observed...', done: false };
    if (spec.replicas !== undefined && (st.readyReplicas ?? 0) < spec.replicas) return { message: `Waiting for ${spec.replicas - (st.readyReplicas ?? 0)} pods to be ready...`, done: false };
    const partition = spec.updateStrategy?.rollingUpdate?.partition;
    if (partition !== undefined && spec.replicas !== undefined && partition > 0) {
      if ((st.updatedReplicas ?? 0) < spec.replicas - partition) return { message: `Waiting for partitioned roll out to finish: ${st.updatedReplicas ?? 0} out of ${spec.replicas - partition} new pods have been updated...`, done: false };
      return { message: `partitioned roll out complete: ${st.updatedReplicas ?? 0} new pods have been updated...`, done: true };
    }
    if (st.updateRevision !== st.currentRevision) return { message: `waiting for statefulset rolling update to complete ${st.updatedReplicas ?? 0} pods at revision ${st.updateRevision ?? ''}...`, done: false };
    return { message: `statefulset rolling update complete ${st.currentRevision ? `${st.replicas ?? 0} pods at revision ${st.currentRevision}` : ''}...`, done: true };
  }
  throw new CliError(`no status viewer has been implemented for ${kind}`);
}

export function register(program: Command): void {
  const rollout = program.command('rollout').description('manage the rollout of deployments, daemon sets and stateful sets');
  const sub = (name: string, desc: string): Command => addSelectFlags(rollout.command(name).description(desc), name).argument('[args...]', 'TYPE NAME or TYPE/NAME');

  sub('status', 'show the status of the rollout, waiting for it to finish')
    .option('-w, --watch [bool]', 'watch until the rollout finishes', 'true')
    .option('--timeout <duration>', 'how long to wait (0: forever)', '0s')
    .option('--revision <n>', 'pin to a specific revision', '0')
    .action((args: string[], flags: StatusFlags, cmd: Command) => status(cliOf(cmd), args, flags));

  sub('history', 'show the revisions of a deployment, daemon set or stateful set')
    .option('--revision <n>', 'show the pod template of this revision', '0')
    .action((args: string[], flags: SelectFlags & { revision: string }, cmd: Command) => history(cliOf(cmd), args, flags));

  sub('undo', 'roll back to a previous revision')
    .option('--to-revision <n>', 'the revision to roll back to (0: the previous one)', '0')
    .action(async (args: string[], flags: SelectFlags & { toRevision: string }, cmd: Command) => {
      const cli = cliOf(cmd);
      for (const info of await workloads(cli, args, flags, 'undo', ['Deployment', 'DaemonSet', 'StatefulSet'], true)) {
        const to = Number(flags.toRevision);
        await (info.res.kind === 'Deployment' ? undo(cli, info, to) : undoFromRevision(cli, info, to)).catch((e: unknown) => cli.fail(e));
      }
    });

  sub('restart', 'restart the pods of a workload (a new rollout)').action(async (args: string[], flags: SelectFlags, cmd: Command) => {
    const cli = cliOf(cmd);
    for (const info of await workloads(cli, args, flags, 'restart', ['Deployment', 'DaemonSet', 'StatefulSet'], true)) await restart(cli, info).catch((e: unknown) => cli.fail(e));
  });

  for (const [verb, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    sub(verb, paused ? 'pause a deployment: changes to it start no rollout' : 'resume a paused deployment').action(async (args: string[], flags: SelectFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      for (const info of await workloads(cli, args, flags, verb, ['Deployment'], true)) await setPaused(cli, info, paused).catch((e: unknown) => cli.fail(e));
    });
  }
}

type StatusFlags = SelectFlags & { watch: string | boolean; timeout: string };

/** `rollout status`: prints each new status line until the rollout is done (or once, without --watch). */
async function status(cli: Cli, args: string[], flags: StatusFlags): Promise<void> {
  const infos = await workloads(cli, args, flags, 'status');
  const watch = flags.watch !== 'false' && flags.watch !== false;
  const timeout = parseDuration(flags.timeout) || 365 * 24 * 3_600_000;
  for (const info of infos) {
    let last = '';
    const p = progress(cli.io);
    try {
      const done = await watchObject<Workload, true>(
        cli.client<Workload>(info.res),
        info.namespace,
        info.name,
        (o) => {
          if (!o) throw new CliError(`object has been deleted`);
          const s = rolloutStatus(info.res.kind, o);
          if (s.message !== last) {
            p.done();
            cli.out(s.message);
            last = s.message;
          }
          p.update(s.message);
          return s.done || !watch ? true : undefined;
        },
        timeout,
      );
      if (!done) throw new CliError('timed out waiting for the condition');
    } finally {
      p.done();
    }
  }
}

/** `rollout history`: the revisions and their change causes, or one revision's pod template. */
async function history(cli: Cli, args: string[], flags: SelectFlags & { revision: string }): Promise<void> {
  for (const info of await workloads(cli, args, flags, 'history')) {
    const revs = await revisionsOf(cli, info);
    const rev = Number(flags.revision);
    const name = objectName({ metadata: { name: info.name } }, info.res);
    if (rev > 0) {
      const r = revs.find((x) => x.revision === rev);
      if (!r) throw new CliError(`unable to find the specified revision`);
      cli.out(`${name} with revision #${rev}`);
      cli.out(tabwrite(podTemplate(r.template)));
      continue;
    }
    cli.out(`${name} `);
    if (!revs.length) {
      cli.out('No rollout history found.');
      continue;
    }
    // kubectl's tabbedString: a tabwriter with padding 2.
    cli.io.stdout.write(tabwrite(['REVISION\tCHANGE-CAUSE', ...revs.map((r) => `${r.revision}\t${r.changeCause || '<none>'}`)].join('\n') + '\n') + '\n');
  }
}

interface Revision {
  revision: number;
  changeCause: string;
  template: Any;
  /** A daemon set's or stateful set's ControllerRevision data: the strategic merge patch that restores it. */
  patch?: Any;
}

/** A workload's revisions, oldest first: a deployment's replica sets, or the ControllerRevisions it controls. */
async function revisionsOf(cli: Cli, info: Info): Promise<Revision[]> {
  if (info.res.kind === 'Deployment') {
    return (await replicaSets(cli, info)).map((r) => ({ revision: revisionOf(r), changeCause: r.metadata?.annotations?.[CHANGE_CAUSE] ?? '', template: (r as { spec?: { template?: Any } }).spec?.template ?? {} }));
  }
  const owner = info.obj ?? (await cli.client(info.res).get(info.namespace, info.name));
  const crRes = (await cli.resolver()).byKind('apps/v1', 'ControllerRevision');
  if (!crRes) throw new CliError('the server has no controller revisions');
  const list = await cli.client<ObjectLike & { revision?: number; data?: Any }>(crRes).listAll(info.namespace);
  return list.items
    .filter((cr) => ((cr.metadata?.ownerReferences ?? []) as { uid?: string; controller?: boolean }[]).some((x) => x.controller && x.uid === owner.metadata?.uid))
    .map((cr) => {
      const { $patch: _directive, ...template } = ((cr.data?.spec as Any | undefined)?.template ?? {}) as Any;
      return { revision: cr.revision ?? 0, changeCause: cr.metadata?.annotations?.[CHANGE_CAUSE] ?? '', template, patch: cr.data ?? {} };
    })
    .sort((a, b) => a.revision - b.revision);
}

/** `rollout undo` of a daemon set or stateful set: its revision's patch applied (kubectl's DaemonSetRollbacker). */
async function undoFromRevision(cli: Cli, info: Info, to: number): Promise<void> {
  const revs = await revisionsOf(cli, info);
  const target = to === 0 ? (revs.length > 1 ? revs[revs.length - 2] : undefined) : revs.find((r) => r.revision === to);
  if (!target) throw new CliError(`unable to find specified revision ${to} in history`);
  const name = objectName({ metadata: { name: info.name } }, info.res);
  if (deepEqual(target.template, (info.obj as Workload).spec?.template ?? {})) {
    cli.out(`${name} skipped rollback (current template already matches revision ${target.revision})`);
    return;
  }
  await cli.client(info.res).patch(info.namespace, info.name, target.patch ?? {}, 'strategic');
  cli.out(`${name} rolled back`);
}

/** `rollout undo`: the deployment's template back to revision `to` (0: the one before the current). */
async function undo(cli: Cli, info: Info, to: number): Promise<void> {
  const d = info.obj as Workload;
  if (d.spec?.paused) throw new CliError(`you cannot rollback a paused deployment; resume it first with 'ketch rollout resume deployment/${info.name}' and try again`);
  const rss = await replicaSets(cli, info);
  let target: ObjectLike | undefined;
  if (to > 0) {
    target = rss.find((r) => revisionOf(r) === to);
    if (!target) throw new CliError(`unable to find specified revision ${to} in history`);
  } else {
    target = rss.length >= 2 ? rss[rss.length - 2] : undefined;
    if (!target) throw new CliError(`no rollout history found for deployment "${info.name}"`);
  }
  const tpl = structuredClone((target as { spec?: { template?: Any } }).spec?.template ?? {}) as { metadata?: { labels?: Record<string, string> } };
  if (tpl.metadata?.labels) delete tpl.metadata.labels['pod-template-hash'];
  const cur = structuredClone(d.spec?.template ?? {}) as { metadata?: { labels?: Record<string, string> } };
  if (cur.metadata?.labels) delete cur.metadata.labels['pod-template-hash'];
  if (deepEqual(tpl, cur)) {
    cli.out(`${objectName({ metadata: { name: info.name } }, info.res)} skipped rollback (current template already matches revision ${revisionOf(target)})`);
    return;
  }
  await cli.client(info.res).patch(info.namespace, info.name, [
    { op: 'test', path: '/metadata/resourceVersion', value: d.metadata?.resourceVersion },
    { op: 'replace', path: '/spec/template', value: tpl },
  ], 'json');
  cli.out(`${objectName({ metadata: { name: info.name } }, info.res)} rolled back`);
}

/** `rollout restart`: a new restartedAt annotation on the pod template starts a rollout. */
async function restart(cli: Cli, info: Info): Promise<void> {
  if ((info.obj as Workload).spec?.paused) throw new CliError(`can't restart paused deployment (run rollout resume first)`);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await cli.client(info.res).patch(info.namespace, info.name, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': now } } } } }, 'strategic');
  cli.out(`${objectName({ metadata: { name: info.name } }, info.res)} restarted`);
}

/** `rollout pause` and `rollout resume`. */
async function setPaused(cli: Cli, info: Info, paused: boolean): Promise<void> {
  const name = objectName({ metadata: { name: info.name } }, info.res);
  if (!!(info.obj as Workload).spec?.paused === paused) {
    cli.fail(new CliError(paused ? `${name} is already paused` : `${name} is not paused`));
    return;
  }
  await cli.client(info.res).patch(info.namespace, info.name, { spec: { paused: paused ? true : null } }, 'merge');
  cli.out(`${name} ${paused ? 'paused' : 'resumed'}`);
}

async function workloads(cli: Cli, args: string[], flags: SelectFlags, verb: string, kinds = ['Deployment', 'DaemonSet', 'StatefulSet'], fetch = false): Promise<Info[]> {
  const infos = await selectInfos(cli, args, flags, { verb: `rollout ${verb}`, fetch });
  for (const i of infos) {
    if (!kinds.includes(i.res.kind)) throw new CliError(`no ${verb === 'status' ? 'status viewer' : verb === 'history' ? 'history viewer' : verb === 'undo' ? 'rollbacker' : 'restarter'} has been implemented for ${i.res.kind}`);
  }
  if (!infos.length && !cli.failed) throw new CliError(`required resource not specified`);
  return infos;
}

const revisionOf = (o: ObjectLike): number => Number(o.metadata?.annotations?.[REVISION] ?? 0);

/** The deployment's replica sets (the revisions), oldest first. */
async function replicaSets(cli: Cli, info: Info): Promise<ObjectLike[]> {
  const d = info.obj ?? (await cli.client(info.res).get(info.namespace, info.name));
  const rsRes = (await cli.resolver()).byKind('apps/v1', 'ReplicaSet');
  if (!rsRes) throw new CliError('the server has no replica sets');
  const list = await cli.client(rsRes).listAll(info.namespace);
  return list.items
    .filter((r) => ((r.metadata?.ownerReferences ?? []) as { uid?: string }[]).some((x) => x.uid === d.metadata?.uid))
    .sort((a, b) => revisionOf(a) - revisionOf(b));
}

function podTemplate(tpl: Any): string {
  const meta = (tpl.metadata ?? {}) as { labels?: Record<string, string>; annotations?: Record<string, string> };
  const spec = (tpl.spec ?? {}) as { containers?: Any[] };
  let t = `Pod Template:\n  Labels:\t${Object.entries(meta.labels ?? {}).map(([k, v]) => `${k}=${v}`).join('\n\t') || '<none>'}\n`;
  if (meta.annotations) t += `  Annotations:\t${Object.entries(meta.annotations).map(([k, v]) => `${k}: ${v}`).join('\n\t')}\n`;
  t += `  Containers:\n`;
  for (const c of spec.containers ?? []) t += `   ${String(c.name)}:\n    Image:\t${String(c.image)}\n`;
  return t;
}
