// Pod Security admission (k8s.io/pod-security-admission/admission, as kube-apiserver's PodSecurity plugin runs it):
// a pod is checked against its namespace's enforce level (refused with kube's message), audit level (an audit
// annotation) and warn level (a Warning header); workload resources with a pod template get warn and audit only; a
// namespace whose enforce level tightens warns about the existing pods that would violate it. Exemptions by user name,
// runtime class and namespace, and the cluster defaults, come from the PodSecurityConfiguration.
import { errors, type StatusCause } from '../../../api/errors.js';
import type { Obj } from '../../registry/object.js';
import type { Admission, AdmissionAttributes } from '../../registry/rest.js';
import { forbiddenBy } from '../namespace-lifecycle.js';
import type { PodMeta, PodSpec } from './checks.js';
import type { PodSecurityConfiguration } from './config.js';
import {
  AUDIT_ANNOTATION_PREFIX,
  compareLevels,
  Evaluator,
  forbiddenDetail,
  forbiddenReason,
  fullyPrivileged,
  LABELS,
  levelVersionString,
  policiesEquivalent,
  policyToEvaluate,
  type LabelError,
  type LevelVersion,
  type Policy,
} from './policy.js';

export interface PodSecurityDeps {
  /** From the namespaces' cache; undefined when there is no such namespace. */
  getNamespace(name: string): Promise<Obj | undefined>;
  /** The pods of a namespace, from the pods' cache (never mutated). */
  listPods(namespace: string): Promise<Obj[]>;
}

const MAX_PODS_TO_CHECK = 3000;
/** Pod subresources PodSecurity leaves alone. */
const IGNORED_POD_SUBRESOURCES = new Set(['exec', 'attach', 'binding', 'eviction', 'log', 'portforward', 'proxy', 'status']);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const rec = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});

/** The pod template of a workload resource (DefaultPodSpecExtractor); undefined for other resources or none set. */
function podTemplateOf(group: string, resource: string, obj: Obj): { meta: PodMeta; spec: PodSpec } | undefined | null {
  const spec = rec(obj.spec);
  let template: unknown;
  switch (`${resource}.${group}`) {
    case 'replicationcontrollers.':
    case 'replicasets.apps':
    case 'deployments.apps':
    case 'statefulsets.apps':
    case 'daemonsets.apps':
    case 'jobs.batch':
      template = spec.template;
      break;
    case 'podtemplates.':
      template = obj.template;
      break;
    case 'cronjobs.batch':
      template = rec(rec(spec.jobTemplate).spec).template;
      break;
    default:
      return null; // no pod template in this kind
  }
  if (!isRecord(template)) return undefined;
  return { meta: rec(template.metadata) as PodMeta, spec: rec(template.spec) as PodSpec };
}

const podMeta = (obj: Obj): PodMeta => ({ ...(obj.metadata.annotations ? { annotations: obj.metadata.annotations } : {}) });
const podSpec = (obj: Obj): PodSpec => rec(obj.spec) as PodSpec;

/** isSignificantPodUpdate: only a change of the containers (count or image) or a new ephemeral container counts. */
function significantPodUpdate(pod: Obj, old: Obj): boolean {
  const a = podSpec(pod);
  const b = podSpec(old);
  const image = (c: unknown): unknown => rec(c).image;
  const same = (x: unknown[] = [], y: unknown[] = []): boolean => x.length === y.length && x.every((c, i) => image(c) === image(y[i]));
  if (!same(a.containers, b.containers) || !same(a.initContainers, b.initContainers)) return true;
  for (const c of a.ephemeralContainers ?? []) {
    const prev = (b.ephemeralContainers ?? []).find((o) => o.name === c.name);
    if (!prev || image(prev) !== image(c)) return true;
  }
  return false;
}

/** decoratePodWarnings: "name (and N other pods): reason". */
function decorated(name: string, count: number, warning: string): string {
  if (count <= 1) return `${name}: ${warning}`;
  if (count === 2) return `${name} (and 1 other pod): ${warning}`;
  return `${name} (and ${count - 1} other pods): ${warning}`;
}

export class PodSecurityAdmission {
  private readonly evaluator = new Evaluator();
  private readonly defaults: Policy;

  constructor(
    private readonly config: PodSecurityConfiguration,
    private readonly deps: PodSecurityDeps,
  ) {
    this.defaults = config.defaults;
  }

  /** The plugin as a registry admission step. */
  admission(): Admission {
    return async (a) => {
      if (a.operation === 'delete') return;
      const { group, resource } = a.info;
      if (group === '' && resource === 'namespaces') return this.validateNamespace(a);
      if (group === '' && resource === 'pods') return this.validatePod(a);
      return this.validatePodController(a);
    };
  }

  private policyOf(labels: Record<string, string> | undefined): { policy: Policy; errors: LabelError[] } {
    return policyToEvaluate(labels, this.defaults);
  }

  private exemptNamespace(ns: string): boolean {
    return ns !== '' && this.config.exemptions.namespaces.includes(ns);
  }

  private exemptUser(name: string): boolean {
    return name !== '' && this.config.exemptions.usernames.includes(name);
  }

  private annotate(a: AdmissionAttributes, key: string, value: string): void {
    a.scope.annotate?.(AUDIT_ANNOTATION_PREFIX + key, value);
  }

  private async validateNamespace(a: AdmissionAttributes): Promise<void> {
    if (a.subresource !== '' || !a.obj) return;
    const name = a.obj.metadata.name ?? a.name;
    const labels = a.obj.metadata.labels;
    const next = this.policyOf(labels);
    const invalid = (): Error =>
      errors.invalid(
        'Namespace',
        '',
        name,
        next.errors.map((e): StatusCause => ({ reason: 'FieldValueInvalid', field: `metadata.labels[${e.label}]`, message: `Invalid value: ${JSON.stringify(e.value)}: ${e.message}` })),
      );
    if (a.operation === 'create') {
      if (next.errors.length) throw invalid();
      if (this.exemptNamespace(name)) this.warnExempt(a, name, next.policy, labels);
      return;
    }
    const prev = this.policyOf(a.old?.metadata.labels);
    if (next.errors.length && (prev.errors.length === 0 || JSON.stringify(next.errors) !== JSON.stringify(prev.errors))) throw invalid();
    const ne = next.policy.enforce;
    const pe = prev.policy.enforce;
    if (ne.level === pe.level && ne.version === pe.version) return;
    if (ne.level === 'privileged') return;
    if (ne.version === pe.version && compareLevels(ne.level, pe.level) < 1) return;
    if (this.exemptNamespace(name)) {
      this.warnExempt(a, name, next.policy, labels);
      return;
    }
    for (const w of await this.evaluatePodsInNamespace(name, ne)) a.scope.warn?.(w);
  }

  /** exemptNamespaceWarning: the labels of an exempt namespace will be ignored. */
  private warnExempt(a: AdmissionAttributes, name: string, p: Policy, labels: Record<string, string> | undefined): void {
    if (fullyPrivileged(p) || policiesEquivalent(p, this.defaults)) return;
    const l = labels ?? {};
    const parts: string[] = [];
    const add = (mode: 'enforce' | 'audit' | 'warn', lv: LevelVersion, level: string, version: string): void => {
      if (lv.level !== 'privileged' && (l[level] !== undefined || l[version] !== undefined)) parts.push(`${mode}=${levelVersionString(lv)}`);
    };
    add('enforce', p.enforce, LABELS.enforce, LABELS.enforceVersion);
    add('audit', p.audit, LABELS.audit, LABELS.auditVersion);
    add('warn', p.warn, LABELS.warn, LABELS.warnVersion);
    a.scope.warn?.(`namespace ${JSON.stringify(name)} is exempt from Pod Security, and the policy (${parts.join(', ')}) will be ignored`);
  }

  /** EvaluatePodsInNamespace: the existing pods that the new enforce level would refuse, one warning per reason. */
  private async evaluatePodsInNamespace(namespace: string, enforce: LevelVersion): Promise<string[]> {
    const all = (await this.deps.listPods(namespace)).filter((p) => !this.exemptRuntimeClass(podSpec(p).runtimeClassName));
    // One pod per controller first (the others are likely the same), then the rest.
    const seen = new Set<string>();
    const first: Obj[] = [];
    const rest: Obj[] = [];
    for (const p of all) {
      const owner = (p.metadata.ownerReferences as { uid?: string; controller?: boolean }[] | undefined)?.find((r) => r.controller === true)?.uid;
      if (owner && seen.has(owner)) rest.push(p);
      else {
        if (owner) seen.add(owner);
        first.push(p);
      }
    }
    const pods = [...first, ...rest].slice(0, MAX_PODS_TO_CHECK);
    const counts = new Map<string, { name: string; count: number }>();
    for (const p of pods) {
      const r = this.evaluator.evaluate(enforce, podMeta(p), podSpec(p));
      if (r.allowed) continue;
      const w = forbiddenReason(r);
      const name = p.metadata.name ?? '';
      const c = counts.get(w);
      if (!c) counts.set(w, { name, count: 1 });
      else {
        c.count++;
        if (name < c.name) c.name = name;
      }
    }
    const out: string[] = [];
    if (pods.length < all.length) out.push(`new PodSecurity enforce level only checked against the first ${pods.length} of ${all.length} existing pods`);
    if (counts.size) out.push(`existing pods in namespace ${JSON.stringify(namespace)} violate the new PodSecurity enforce level ${JSON.stringify(levelVersionString(enforce))}`);
    const podWarnings = [...counts].map(([w, c]) => decorated(c.name, c.count, w)).sort();
    return [...out, ...podWarnings];
  }

  private exemptRuntimeClass(rc: string | undefined): boolean {
    return !!rc && this.config.exemptions.runtimeClasses.includes(rc);
  }

  private async namespacePolicy(a: AdmissionAttributes): Promise<{ policy: Policy; errors: LabelError[] }> {
    const ns = await this.deps.getNamespace(a.namespace);
    if (!ns) throw errors.internal(`failed to lookup namespace ${JSON.stringify(a.namespace)}`);
    return this.policyOf(ns.metadata.labels);
  }

  private async validatePod(a: AdmissionAttributes): Promise<void> {
    if (IGNORED_POD_SUBRESOURCES.has(a.subresource) || !a.obj) return;
    if (this.exemptNamespace(a.namespace)) return this.annotate(a, 'exempt', 'namespace');
    if (this.exemptUser(a.scope.user.name)) return this.annotate(a, 'exempt', 'user');
    const ns = await this.namespacePolicy(a);
    if (ns.errors.length === 0 && fullyPrivileged(ns.policy)) return this.annotate(a, 'enforce-policy', 'privileged:latest');
    if (a.operation === 'update' && a.old && !significantPodUpdate(a.obj, a.old)) return;
    this.evaluate(a, ns.policy, ns.errors, podMeta(a.obj), podSpec(a.obj), true);
  }

  private async validatePodController(a: AdmissionAttributes): Promise<void> {
    if (a.subresource !== '' || !a.obj) return;
    const template = podTemplateOf(a.info.group, a.info.resource, a.obj);
    if (template === null) return;
    if (this.exemptNamespace(a.namespace)) return this.annotate(a, 'exempt', 'namespace');
    if (this.exemptUser(a.scope.user.name)) return this.annotate(a, 'exempt', 'user');
    const nsObj = await this.deps.getNamespace(a.namespace);
    if (!nsObj) return this.annotate(a, 'error', `failed to lookup namespace ${JSON.stringify(a.namespace)}`);
    const ns = this.policyOf(nsObj.metadata.labels);
    if (ns.errors.length === 0 && ns.policy.warn.level === 'privileged' && ns.policy.audit.level === 'privileged') return;
    if (!template) return;
    this.evaluate(a, ns.policy, ns.errors, template.meta, template.spec, false);
  }

  /** EvaluatePod: enforce (pods only), then audit, then warn (only when allowed); each level evaluated once. */
  private evaluate(a: AdmissionAttributes, policy: Policy, labelErrors: LabelError[], meta: PodMeta, spec: PodSpec, enforce: boolean): void {
    if (this.exemptRuntimeClass(spec.runtimeClassName)) return this.annotate(a, 'exempt', 'runtimeClass');
    if (labelErrors.length) {
      const list = labelErrors.map((e) => `metadata.labels[${e.label}]: Invalid value: ${JSON.stringify(e.value)}: ${e.message}`);
      this.annotate(a, 'error', `Failed to parse policy: ${list.length === 1 ? list[0]! : `[${list.join(', ')}]`}`);
    }
    const cache = new Map<string, ReturnType<Evaluator['evaluate']>>();
    const run = (lv: LevelVersion): ReturnType<Evaluator['evaluate']> => {
      const key = levelVersionString(lv);
      let r = cache.get(key);
      if (!r) cache.set(key, (r = this.evaluator.evaluate(lv, meta, spec)));
      return r;
    };
    let refusal: Error | undefined;
    if (enforce) {
      this.annotate(a, 'enforce-policy', levelVersionString(policy.enforce));
      const r = run(policy.enforce);
      if (!r.allowed) refusal = forbiddenBy(a.info, a.name, `violates PodSecurity ${JSON.stringify(levelVersionString(policy.enforce))}: ${forbiddenDetail(r)}`);
    }
    const audit = run(policy.audit);
    if (!audit.allowed) this.annotate(a, 'audit-violations', `would violate PodSecurity ${JSON.stringify(levelVersionString(policy.audit))}: ${forbiddenDetail(audit)}`);
    if (refusal) throw refusal;
    const warn = run(policy.warn);
    if (!warn.allowed) a.scope.warn?.(`would violate PodSecurity ${JSON.stringify(levelVersionString(policy.warn))}: ${forbiddenDetail(warn)}`);
  }
}
