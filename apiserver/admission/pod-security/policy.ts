// Pod Security levels and versions (k8s.io/pod-security-admission/api and policy/registry.go): a namespace's policy from
// its pod-security.kubernetes.io labels over the configured defaults, and the evaluator that runs a level's checks at
// a version in kube's order (baseline check IDs sorted, then restricted ones).
import { CHECKS, type CheckFn, type CheckResult, type Level, type PodMeta, type PodSpec } from './checks.js';

/** A policy version: v1.<minor>, or latest (newer than any). */
export type Version = number;
export const LATEST: Version = Number.POSITIVE_INFINITY;
export const versionString = (v: Version): string => (v === LATEST ? 'latest' : `v1.${v}`);

export interface LevelVersion {
  level: Level;
  version: Version;
}
export const levelVersionString = (lv: LevelVersion): string => `${lv.level}:${versionString(lv.version)}`;

export interface Policy {
  enforce: LevelVersion;
  audit: LevelVersion;
  warn: LevelVersion;
}

const LABEL_PREFIX = 'pod-security.kubernetes.io/';
export const LABELS = {
  enforce: `${LABEL_PREFIX}enforce`,
  enforceVersion: `${LABEL_PREFIX}enforce-version`,
  audit: `${LABEL_PREFIX}audit`,
  auditVersion: `${LABEL_PREFIX}audit-version`,
  warn: `${LABEL_PREFIX}warn`,
  warnVersion: `${LABEL_PREFIX}warn-version`,
} as const;
export const AUDIT_ANNOTATION_PREFIX = LABEL_PREFIX;

const LEVELS: readonly Level[] = ['privileged', 'baseline', 'restricted'];

export function parseLevel(s: string): Level | undefined {
  return (LEVELS as readonly string[]).includes(s) ? (s as Level) : undefined;
}
export const LEVEL_ERROR = `must be one of ${LEVELS.join(', ')}`;

export function parseVersion(s: string): Version | undefined {
  if (s === 'latest') return LATEST;
  const m = /^v1\.([0-9]|[1-9][0-9]*)$/.exec(s);
  return m ? Number(m[1]) : undefined;
}
export const VERSION_ERROR = 'must be "latest" or "v1.x"';

/** CompareLevels: <0, 0, >0. */
export const compareLevels = (a: Level, b: Level): number => LEVELS.indexOf(a) - LEVELS.indexOf(b);

export const fullyPrivileged = (p: Policy): boolean => p.enforce.level === 'privileged' && p.audit.level === 'privileged' && p.warn.level === 'privileged';
const equivalent = (a: LevelVersion, b: LevelVersion): boolean => (a.level === 'privileged' && b.level === 'privileged') || (a.level === b.level && a.version === b.version);
export const policiesEquivalent = (a: Policy, b: Policy): boolean => equivalent(a.enforce, b.enforce) && equivalent(a.audit, b.audit) && equivalent(a.warn, b.warn);

/** A label that does not parse, as a field error (metadata.labels[key]). */
export interface LabelError {
  label: string;
  value: string;
  message: string;
}

/** PolicyToEvaluate: the namespace's labels over the defaults; bad labels are reported (enforce fails closed, audit and warn open). */
export function policyToEvaluate(labels: Record<string, string> | undefined, defaults: Policy): { policy: Policy; errors: LabelError[] } {
  const p: Policy = { enforce: { ...defaults.enforce }, audit: { ...defaults.audit }, warn: { ...defaults.warn } };
  const errors: LabelError[] = [];
  if (!labels || Object.keys(labels).length === 0) return { policy: p, errors };
  const level = (key: string, onError: Level): Level | undefined => {
    const v = labels[key];
    if (v === undefined) return undefined;
    const l = parseLevel(v);
    if (!l) errors.push({ label: key, value: v, message: LEVEL_ERROR });
    return l ?? onError;
  };
  const version = (key: string): Version | undefined => {
    const v = labels[key];
    if (v === undefined) return undefined;
    const parsed = parseVersion(v);
    if (parsed === undefined) errors.push({ label: key, value: v, message: VERSION_ERROR });
    return parsed ?? LATEST;
  };
  const enforceLabel = labels[LABELS.enforce];
  const enforceLevel = level(LABELS.enforce, 'restricted');
  if (enforceLevel) p.enforce.level = enforceLevel;
  const hasEnforceLevel = enforceLabel !== undefined && parseLevel(enforceLabel) !== undefined;
  const ev = version(LABELS.enforceVersion);
  if (ev !== undefined) p.enforce.version = ev;
  const al = level(LABELS.audit, 'privileged');
  if (al) p.audit.level = al;
  const av = version(LABELS.auditVersion);
  if (av !== undefined) p.audit.version = av;
  const hasWarnLevel = labels[LABELS.warn] !== undefined;
  const wl = level(LABELS.warn, 'privileged');
  if (wl) p.warn.level = wl;
  const hasWarnVersion = labels[LABELS.warnVersion] !== undefined;
  const wv = version(LABELS.warnVersion);
  if (wv !== undefined) p.warn.version = wv;
  // An enforce level given without a warn level warns at least as strictly.
  if (!hasWarnLevel && hasEnforceLevel && compareLevels(p.enforce.level, p.warn.level) > 0) {
    p.warn.level = p.enforce.level;
    if (!hasWarnVersion) p.warn.version = p.enforce.version;
  }
  return { policy: p, errors };
}

/** The aggregate of a level's checks (AggregateCheckResults): the reasons, and the details for one object. */
export interface Aggregate {
  allowed: boolean;
  reasons: string[];
  details: string[];
}

/** ForbiddenReason: "host ports, privileged". */
export const forbiddenReason = (a: Aggregate): string => a.reasons.join(', ');
/** ForbiddenDetail: "hostPort (container "c" uses hostPort 80), privileged (...)". */
export const forbiddenDetail = (a: Aggregate): string => a.reasons.map((r, i) => (a.details[i] ? `${r} (${a.details[i]})` : r)).join(', ');

/** The checks of each level at each version, built once (kube's checkRegistry). */
export class Evaluator {
  private readonly baseline = new Map<number, CheckFn[]>();
  private readonly restricted = new Map<number, CheckFn[]>();
  private readonly maxVersion: number;

  constructor() {
    this.maxVersion = Math.max(...CHECKS.map((c) => c.versions.at(-1)!.minimum));
    const order = [...CHECKS.filter((c) => c.level === 'baseline').map((c) => c.id).sort(), ...CHECKS.filter((c) => c.level === 'restricted').map((c) => c.id).sort()];
    const byId = new Map(CHECKS.map((c) => [c.id, c]));
    for (let v = 0; v <= this.maxVersion; v++) {
      const at = (id: string) => [...byId.get(id)!.versions].reverse().find((x) => x.minimum <= v);
      const overridden = new Set(CHECKS.filter((c) => c.level === 'restricted').flatMap((c) => at(c.id)?.overrides ?? []));
      const base: CheckFn[] = [];
      const strict: CheckFn[] = [];
      for (const id of order) {
        const vc = at(id);
        if (!vc) continue;
        if (byId.get(id)!.level === 'baseline') {
          base.push(vc.check);
          if (!overridden.has(id)) strict.push(vc.check);
        } else strict.push(vc.check);
      }
      this.baseline.set(v, base);
      this.restricted.set(v, strict);
    }
  }

  evaluate(lv: LevelVersion, meta: PodMeta, spec: PodSpec): Aggregate {
    const out: Aggregate = { allowed: true, reasons: [], details: [] };
    if (lv.level === 'privileged') return out;
    const v = Math.min(lv.version, this.maxVersion);
    const checks = (lv.level === 'baseline' ? this.baseline : this.restricted).get(v) ?? [];
    for (const check of checks) {
      const r: CheckResult = check(meta, spec);
      if (r.allowed) continue;
      out.allowed = false;
      out.reasons.push(r.forbiddenReason || 'unknown forbidden reason');
      out.details.push(r.forbiddenDetail ?? '');
    }
    return out;
  }
}
