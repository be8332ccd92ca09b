// The reasoning behind `ketch why`: from a pod, its events, the scheduler's per-node diagnosis, its node and the
// config maps and secrets it refers to, the findings (what holds it back) and what to change.
import type { EventLike } from './events.js';

type Any = Record<string, unknown>;
const o = (v: unknown): Any => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Any) : {});
const a = (v: unknown): Any[] => (Array.isArray(v) ? v.map(o) : []);
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

export { DIAGNOSIS_ANNOTATION } from '../api/annotations.js';
import { DIAGNOSIS_ANNOTATION } from '../api/annotations.js';

export interface Finding {
  /** One line: what is wrong. */
  problem: string;
  /** Supporting lines (per-node reasons, messages). */
  details: string[];
  /** What to change. */
  fix: string[];
}

export interface PodFacts {
  pod: Any;
  events: EventLike[];
  /** The node the pod is bound to, when it exists. */
  node?: Any | null;
  /** Referenced objects that do not exist: `configmap "x"` -> where they are used. */
  missing: { kind: 'configmap' | 'secret'; name: string; uses: string[]; optional: boolean }[];
  /** Keys referred to that the object lacks. */
  missingKeys: { kind: 'configmap' | 'secret'; name: string; key: string; use: string }[];
}

export interface Verdict {
  summary: string;
  healthy: boolean;
  findings: Finding[];
}

/** The config maps and secrets a pod refers to (volumes, env, envFrom), with where each is used. */
export function podReferences(pod: Any): { kind: 'configmap' | 'secret'; name: string; key?: string; use: string; optional: boolean }[] {
  const spec = o(pod.spec);
  const out: { kind: 'configmap' | 'secret'; name: string; key?: string; use: string; optional: boolean }[] = [];
  for (const v of a(spec.volumes)) {
    const cm = o(v.configMap);
    if (cm.name) out.push({ kind: 'configmap', name: str(cm.name), use: `volume ${str(v.name)}`, optional: cm.optional === true });
    const sec = o(v.secret);
    if (sec.secretName) out.push({ kind: 'secret', name: str(sec.secretName), use: `volume ${str(v.name)}`, optional: sec.optional === true });
    for (const src of a(o(v.projected).sources)) {
      if (o(src.configMap).name) out.push({ kind: 'configmap', name: str(o(src.configMap).name), use: `volume ${str(v.name)}`, optional: o(src.configMap).optional === true });
      if (o(src.secret).name) out.push({ kind: 'secret', name: str(o(src.secret).name), use: `volume ${str(v.name)}`, optional: o(src.secret).optional === true });
    }
  }
  for (const c of [...a(spec.initContainers), ...a(spec.containers)]) {
    for (const e of a(c.env)) {
      const from = o(e.valueFrom);
      const cm = o(from.configMapKeyRef);
      if (cm.name) out.push({ kind: 'configmap', name: str(cm.name), key: str(cm.key), use: `env ${str(e.name)} of container ${str(c.name)}`, optional: cm.optional === true });
      const sec = o(from.secretKeyRef);
      if (sec.name) out.push({ kind: 'secret', name: str(sec.name), key: str(sec.key), use: `env ${str(e.name)} of container ${str(c.name)}`, optional: sec.optional === true });
    }
    for (const e of a(c.envFrom)) {
      if (o(e.configMapRef).name) out.push({ kind: 'configmap', name: str(o(e.configMapRef).name), use: `envFrom of container ${str(c.name)}`, optional: o(e.configMapRef).optional === true });
      if (o(e.secretRef).name) out.push({ kind: 'secret', name: str(o(e.secretRef).name), use: `envFrom of container ${str(c.name)}`, optional: o(e.secretRef).optional === true });
    }
  }
  for (const s of a(spec.imagePullSecrets)) if (s.name) out.push({ kind: 'secret', name: str(s.name), use: 'imagePullSecrets', optional: true });
  return out;
}

function readDiagnosis(pod: Any): Record<string, string[]> | undefined {
  const raw = o(o(pod.metadata).annotations)[DIAGNOSIS_ANNOTATION];
  if (typeof raw !== 'string') return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    return Object.fromEntries(Object.entries(v as Any).map(([k, r]) => [k, Array.isArray(r) ? r.map(String) : [String(r)]]));
  } catch {
    return undefined;
  }
}

/** What to change when the pod's volumes keep it from a node (VolumeBinding, VolumeRestrictions), or undefined. */
function volumeFix(pod: Any, r: string): string | undefined {
  const ns = str(o(pod.metadata).namespace);
  const claim = /persistentvolumeclaim "([^"]+)"/.exec(r)?.[1];
  if (/volume node affinity conflict/.test(r)) {
    return "its claims are bound to volumes pinned to other nodes (a local volume lives on one node): let the pod run where its volumes are (ketch get pv shows them; ketch describe pv NAME their Node Affinity), or drop the nodeSelector/affinity that keeps it away";
  }
  if (/unbound immediate PersistentVolumeClaims/.test(r)) {
    return 'a claim of an Immediate class is not bound yet, and the pod waits for it: ketch describe pvc NAME says why (no volume matches it, or its provisioner has not made one yet)';
  }
  if (/didn't find available persistent volumes to bind/.test(r)) {
    return 'no PersistentVolume matches its claim on these nodes, and the claim\'s class cannot provision one there: create a matching volume on a node the pod may use, or use a class with a provisioner (the default, local-path)';
  }
  if (/bound to non-existent pv/.test(r)) return 'a claim is bound to a volume that no longer exists (the claim is Lost): delete the claim and create it again';
  if (/ReadWriteOncePod/.test(r)) return 'its claim is ReadWriteOncePod and another pod uses it: only one pod may; delete that pod, or give the claim another access mode';
  if (claim && /not found/.test(r)) return `the claim "${claim}" does not exist: create it (in namespace ${ns}) or fix the volume's claimName`;
  if (claim && /being deleted/.test(r)) return `the claim "${claim}" is being deleted: wait until it is gone and create it again, or use another claim`;
  if (claim && /was not created for the pod/.test(r)) return `a claim named "${claim}" exists that this pod does not own: delete or rename it so that the pod's ephemeral volume gets its own claim`;
  if (/binding volumes/.test(r)) return 'its claims were not bound in time on the chosen node: check the PV controller and the claim\'s provisioner (ketch describe pvc NAME shows their events)';
  return undefined;
}

/** What to change for each kind of scheduler rejection. */
function schedulingFixes(pod: Any, reasons: string[]): string[] {
  const spec = o(pod.spec);
  const fixes = new Set<string>();
  const requests = (res: string): string =>
    a(spec.containers)
      .map((c) => str(o(o(c.resources).requests)[res]))
      .filter(Boolean)
      .join(' + ') || '0';
  for (const r of reasons) {
    const ins = /Insufficient (\S+)/.exec(r);
    const vol = volumeFix(pod, r);
    if (vol) fixes.add(vol);
    else if (ins) fixes.add(`lower the pod's ${ins[1]} request (it asks for ${requests(ins[1]!)}), or add nodes with more free ${ins[1]}`);
    else if (/unschedulable/.test(r)) fixes.add('uncordon the cordoned node(s): ketch uncordon NODE');
    else if (/untolerated taint \{([^:}]+):? ?([^}]*)\}/.test(r)) {
      const m = /untolerated taint \{([^:}]+):? ?([^}]*)\}/.exec(r)!;
      fixes.add(`add a toleration for the taint ${m[1]}${m[2] ? `=${m[2]}` : ''} to the pod, or remove the taint from the nodes (ketch taint nodes NODE ${m[1]}-)`);
    } else if (/node affinity\/selector/.test(r)) {
      const sel = Object.entries(o(spec.nodeSelector)).map(([k, v]) => `${k}=${str(v)}`);
      fixes.add(`no node matches the pod's ${sel.length ? `nodeSelector (${sel.join(', ')})` : 'node affinity'}: label a node to match (ketch label nodes NODE ${sel[0] ?? 'KEY=VALUE'}) or relax the selector`);
    } else if (/free ports/.test(r)) fixes.add('another pod already uses the requested hostPort on those nodes: drop hostPort or use another port');
    else if (/requested node name/.test(r)) fixes.add(`spec.nodeName/nodeSelector pins the pod to ${str(spec.nodeName) || 'a node'}; that node cannot take it`);
    else if (/anti-affinity/.test(r)) fixes.add('pod anti-affinity rules exclude every node: relax them or add nodes');
    else if (/affinity/.test(r)) fixes.add('no node runs the pods the affinity rules ask to be near');
    else if (/topology spread/.test(r)) fixes.add('topology spread constraints cannot be met: relax maxSkew or whenUnsatisfiable, or add nodes in the missing zones');
    else if (/not ready|NotReady/i.test(r)) fixes.add('the nodes are not ready: check their agents (ketch describe node NODE)');
    else if (/volume/i.test(r)) fixes.add('the pod\'s volumes cannot be placed: check its persistent volume claims');
  }
  return [...fixes];
}

function warningEvents(events: EventLike[], reasons: string[]): EventLike[] {
  return events.filter((e) => e.type === 'Warning' && reasons.includes(e.reason ?? ''));
}

const eventLine = (e: EventLike): string => `${e.reason ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}: ${(e.message ?? '').trim()}`;

/** Pending, crashing, not ready, failed: the findings about one pod, most important first. */
export function diagnosePod(f: PodFacts): Verdict {
  const st = o(f.pod.status);
  const statuses: Any[] = [...a(st.initContainerStatuses).map((c) => ({ ...c, init: true })), ...a(st.containerStatuses)];
  const findings = [
    ...placementFindings(f),
    // Missing config maps and secrets stop the pod from starting wherever it lands (after placement, so second).
    ...configFindings(f),
    ...statuses.flatMap((cs) => containerFinding(f, cs) ?? []),
  ];
  const phase = str(st.phase) || 'Pending';
  if (phase === 'Failed') {
    const spec = o(f.pod.spec);
    findings.push({ problem: `the pod failed${st.reason ? ` (${str(st.reason)})` : ''}`, details: [str(st.message)].filter(Boolean), fix: [str(spec.restartPolicy) === 'Never' ? 'restartPolicy is Never: fix the cause and create it again' : 'fix the cause and create it again'] });
  }
  return verdictOf(f, findings);
}

/** Being deleted; not placed (the scheduler's reasons and fixes); placed on a node that is gone or not ready. */
function placementFindings(f: PodFacts): Finding[] {
  const pod = f.pod;
  const meta = o(pod.metadata);
  const spec = o(pod.spec);
  const phase = str(o(pod.status).phase) || 'Pending';
  const cond = (t: string): Any | undefined => a(o(pod.status).conditions).find((c) => c.type === t);
  const findings: Finding[] = [];
  if (meta.deletionTimestamp) {
    findings.push({
      problem: `the pod is being deleted (since ${str(meta.deletionTimestamp)})`,
      details: spec.nodeName ? [`it stays until node ${str(spec.nodeName)} confirms its containers stopped`] : [],
      fix: spec.nodeName && f.node && !nodeReady(f.node) ? [`node ${str(spec.nodeName)} is not ready, so it cannot confirm: ketch delete pod ${str(meta.name)} --force --grace-period=0`] : [],
    });
  }

  if (!spec.nodeName) {
    const sched = cond('PodScheduled');
    const diag = readDiagnosis(pod);
    const failed = warningEvents(f.events, ['FailedScheduling']);
    if (sched?.status === 'False' || diag || failed.length) {
      const details: string[] = [];
      const msg = str(sched?.message) || str(failed.at(-1)?.message);
      if (msg) details.push(msg);
      const reasons: string[] = [];
      for (const [node, rs] of Object.entries(diag ?? {}).sort(([x], [y]) => (x < y ? -1 : 1))) {
        details.push(`  ${node}: ${rs.join('; ')}`);
        reasons.push(...rs);
      }
      if (!diag) reasons.push(...msg.split(/[,.]/).map((s) => s.replace(/^\s*\d+\s*/, '').trim()));
      const fixes = schedulingFixes(pod, reasons);
      if (/^0\/0 nodes/.test(msg) || (diag && !Object.keys(diag).length && /no nodes/i.test(msg))) fixes.unshift('no nodes are registered: start a node agent (ketch agent) and check ketch get nodes');
      findings.push({ problem: 'the scheduler cannot place it on any node', details, fix: fixes.length ? fixes : ['see the per-node reasons above'] });
    } else if (phase === 'Pending') {
      findings.push({ problem: 'it is not scheduled yet and the scheduler has not reported on it', details: [], fix: ['check that the scheduler runs (ketch get pods -n kube-system, or the ketch server logs)', str(spec.schedulerName) && str(spec.schedulerName) !== 'default-scheduler' ? `the pod asks for scheduler "${str(spec.schedulerName)}": is it running?` : ''].filter(Boolean) });
    }
  } else if (f.node === null) {
    findings.push({ problem: `it is bound to node ${str(spec.nodeName)}, which does not exist`, details: [], fix: ['delete the pod so that its controller makes a new one, or register the node'] });
  } else if (f.node && !nodeReady(f.node)) {
    const ready = a(o(f.node.status).conditions).find((c) => c.type === 'Ready');
    findings.push({
      problem: `its node ${str(spec.nodeName)} is not ready${ready ? ` (${str(ready.reason) || str(ready.status)})` : ''}`,
      details: ready?.message ? [str(ready.message)] : [],
      fix: [`check the node agent on ${str(spec.nodeName)} (ketch describe node ${str(spec.nodeName)})`],
    });
  }

  return findings;
}

/** Config maps, secrets and keys the pod refers to that do not exist, and volumes that cannot be mounted. */
function configFindings(f: PodFacts): Finding[] {
  const meta = o(f.pod.metadata);
  const phase = str(o(f.pod.status).phase) || 'Pending';
  const findings: Finding[] = [];
  for (const m of f.missing.filter((x) => !x.optional)) {
    findings.push({
      problem: `${m.kind} "${m.name}" does not exist`,
      details: [`used by ${m.uses.join(', ')}`],
      fix: [m.kind === 'configmap' ? `create it: ketch create configmap ${m.name} --from-literal=KEY=VALUE (in namespace ${str(meta.namespace)})` : `create it: ketch create secret generic ${m.name} --from-literal=KEY=VALUE (in namespace ${str(meta.namespace)})`, `or mark the reference optional: true`],
    });
  }
  for (const k of f.missingKeys) {
    findings.push({ problem: `${k.kind} "${k.name}" has no key "${k.key}"`, details: [`used by ${k.use}`], fix: [`add the key: ketch patch ${k.kind} ${k.name} --type merge -p '{"data":{"${k.key}":"..."}}'`] });
  }

  const mounts = warningEvents(f.events, ['FailedMount', 'FailedAttachVolume']);
  if (mounts.length && phase === 'Pending') findings.push({ problem: 'its volumes cannot be mounted', details: [eventLine(mounts.at(-1)!)], fix: ['fix the volume source named in the message (missing config map, secret or host path, or a persistent volume claim that is not bound: ketch describe pvc NAME)'] });

  return findings;
}

/** What is wrong with one container: its image, crashes, creation, readiness; undefined when nothing is. */
function containerFinding(f: PodFacts, cs: Any): Finding | undefined {
  const meta = o(f.pod.metadata);
  const spec = o(f.pod.spec);
  const phase = str(o(f.pod.status).phase) || 'Pending';
  const cname = str(cs.name);
  const state = o(cs.state);
  const waiting = o(state.waiting);
  const term = o(state.terminated);
  const last = o(o(cs.lastState).terminated);
  const c = [...a(spec.initContainers), ...a(spec.containers)].find((x) => x.name === cname) ?? {};
  const w = str(waiting.reason);
  const label = `container ${cname}${cs.init ? ' (init)' : ''}`;
  if (['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'].includes(w)) {
    const pullEv = warningEvents(f.events, ['Failed']).filter((e) => /pull|image/i.test(e.message ?? '')).at(-1);
    return {
      problem: `${label} cannot pull its image "${str(c.image)}" (${w})`,
      details: [str(waiting.message), pullEv ? eventLine(pullEv) : ''].filter(Boolean),
      fix: ['check the image name and tag', 'check that the registry is reachable from the node, and imagePullSecrets if it is private', w === 'ErrImageNeverPull' ? 'imagePullPolicy is Never: load the image on the node or change the policy' : ''].filter(Boolean),
    };
  }
  if (w === 'CrashLoopBackOff' || (term.exitCode !== undefined && term.exitCode !== 0)) {
    const t = Object.keys(term).length ? term : last;
    const details = [`restarted ${str(cs.restartCount) || '0'} times`];
    if (Object.keys(t).length) details.push(`last exit: code ${str(t.exitCode)}${t.reason ? ` (${str(t.reason)})` : ''}${t.signal ? `, signal ${str(t.signal)}` : ''}${t.message ? `: ${str(t.message).trim()}` : ''}`);
    const fix = [`read its output: ketch logs ${str(meta.name)} -c ${cname} --previous`];
    if (t.reason === 'OOMKilled') fix.unshift(`it ran out of memory: raise resources.limits.memory (now ${str(o(o(c.resources).limits).memory) || 'unset'})`);
    else if (t.exitCode === 127 || t.exitCode === 126) fix.unshift('the command was not found or not executable: check command/args and the image');
    const live = warningEvents(f.events, ['Unhealthy']).filter((e) => /Liveness/i.test(e.message ?? ''));
    if (live.length) {
      details.push(eventLine(live.at(-1)!));
      fix.unshift('the liveness probe kills it: fix the probe (path, port, initialDelaySeconds) or the app');
    }
    return { problem: `${label} keeps crashing${w === 'CrashLoopBackOff' ? ' (CrashLoopBackOff)' : ''}`, details, fix };
  }
  if (w === 'CreateContainerConfigError' || w === 'CreateContainerError' || w === 'RunContainerError') {
    return { problem: `${label} cannot be created (${w})`, details: [str(waiting.message)].filter(Boolean), fix: [w === 'CreateContainerConfigError' ? 'a config map, secret or key it refers to is missing (see above)' : 'check the container\'s command, mounts and security settings against the message'] };
  }
  if (!cs.init && state.running && cs.ready !== true && phase === 'Running') {
    const un = warningEvents(f.events, ['Unhealthy']).filter((e) => /Readiness|Startup/i.test(e.message ?? ''));
    return {
      problem: `${label} runs but is not ready`,
      details: un.length ? [eventLine(un.at(-1)!)] : c.readinessProbe ? ['its readiness probe has not passed yet'] : [],
      fix: c.readinessProbe ? ['fix the readiness probe (path, port, timing) or what the app answers on it'] : ['wait: it has just started'],
    };
  }
  return undefined;
}

/** The summary line, and for a pod with no finding that is not healthy, the last warning or that it is starting. */
function verdictOf(f: PodFacts, findings: Finding[]): Verdict {
  const meta = o(f.pod.metadata);
  const spec = o(f.pod.spec);
  const st = o(f.pod.status);
  const name = `pod/${str(meta.name)}`;
  const phase = str(st.phase) || 'Pending';
  const cond = (t: string): Any | undefined => a(st.conditions).find((c) => c.type === t);
  const ready = cond('Ready')?.status === 'True';
  const healthy = !findings.length && ((phase === 'Running' && ready) || phase === 'Succeeded');
  let summary: string;
  if (healthy) summary = phase === 'Succeeded' ? `${name} completed successfully.` : `${name} is running and ready on ${str(spec.nodeName)}.`;
  else if (!findings.length) {
    const ev = f.events.filter((e) => e.type === 'Warning').at(-1);
    summary = `${name} is ${phase}${spec.nodeName ? ` on ${str(spec.nodeName)}` : ''}; nothing is known to be wrong yet.`;
    if (ev) findings.push({ problem: 'the last warning about it', details: [eventLine(ev)], fix: [] });
    else if (phase === 'Pending' && spec.nodeName) findings.push({ problem: `it is starting on ${str(spec.nodeName)}`, details: [], fix: ['wait, or check the node agent if it stays so'] });
  } else summary = `${name} is ${meta.deletionTimestamp ? 'Terminating' : phase}${spec.nodeName ? ` on ${str(spec.nodeName)}` : ' and not scheduled'}: ${findings[0]!.problem}.`;
  return { summary, healthy, findings };
}

export function nodeReady(node: Any): boolean {
  return a(o(node.status).conditions).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Text for a verdict: the summary, then each finding with its details and fixes. */
export function formatVerdict(v: Verdict, c: { red: (s: string) => string; green: (s: string) => string; yellow: (s: string) => string; bold: (s: string) => string }, indent = ''): string {
  let t = `${indent}${v.healthy ? c.green(v.summary) : c.bold(v.summary)}\n`;
  for (const f of v.findings) {
    t += `${indent}  ${c.red('✗')} ${f.problem}\n`;
    for (const d of f.details) t += `${indent}      ${d}\n`;
    for (const x of f.fix) t += `${indent}    ${c.yellow('→')} ${x}\n`;
  }
  return t;
}
