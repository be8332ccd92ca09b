// The PodSecurity plugin's configuration (pod-security.admission.config.k8s.io/v1 PodSecurityConfiguration): cluster
// defaults for namespaces without labels, and exemptions. Read from --admission-control-config-file (an
// apiserver.config.k8s.io/v1 AdmissionConfiguration whose PodSecurity plugin entry holds it inline or names its file).
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LATEST, LEVEL_ERROR, parseLevel, parseVersion, VERSION_ERROR, type Policy } from './policy.js';

export interface PodSecurityConfiguration {
  defaults: Policy;
  exemptions: { usernames: string[]; namespaces: string[]; runtimeClasses: string[] };
}

/** kube's defaults: privileged:latest for every mode, no exemptions. */
export const DEFAULT_POD_SECURITY: PodSecurityConfiguration = {
  defaults: { enforce: { level: 'privileged', version: LATEST }, audit: { level: 'privileged', version: LATEST }, warn: { level: 'privileged', version: LATEST } },
  exemptions: { usernames: [], namespaces: [], runtimeClasses: [] },
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates and defaults a PodSecurityConfiguration object; errors in kube's field-path wording. */
export function podSecurityConfiguration(raw: unknown): PodSecurityConfiguration {
  if (!isRecord(raw)) throw new Error('the PodSecurity configuration is not an object');
  if (raw.kind !== 'PodSecurityConfiguration' || !/^pod-security\.admission\.config\.k8s\.io\/v1(beta1|alpha1)?$/.test(String(raw.apiVersion))) {
    throw new Error(`the PodSecurity configuration is ${String(raw.apiVersion)} ${String(raw.kind)}, not a pod-security.admission.config.k8s.io/v1 PodSecurityConfiguration`);
  }
  const d = isRecord(raw.defaults) ? raw.defaults : {};
  const e = isRecord(raw.exemptions) ? raw.exemptions : {};
  const errs: string[] = [];
  const str = (o: Record<string, unknown>, k: string, dflt: string): string => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : dflt);
  const lv = (mode: 'enforce' | 'audit' | 'warn'): Policy['enforce'] => {
    const level = str(d, mode, 'privileged');
    const version = str(d, `${mode}-version`, 'latest');
    const l = parseLevel(level);
    const v = parseVersion(version);
    if (!l) errs.push(`defaults.${mode}: Invalid value: ${JSON.stringify(level)}: ${LEVEL_ERROR}`);
    if (v === undefined) errs.push(`defaults.${mode}-version: Invalid value: ${JSON.stringify(version)}: ${VERSION_ERROR}`);
    return { level: l ?? 'privileged', version: v ?? LATEST };
  };
  const defaults: Policy = { enforce: lv('enforce'), warn: lv('warn'), audit: lv('audit') };
  const list = (k: string, valid: (s: string) => string | undefined): string[] => {
    const v = e[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      errs.push(`exemptions.${k}: must be a list`);
      return [];
    }
    const seen = new Set<string>();
    v.forEach((item, i) => {
      const s = typeof item === 'string' ? item : '';
      const why = valid(s);
      if (why) errs.push(`exemptions.${k}[${i}]: Invalid value: ${JSON.stringify(s)}: ${why}`);
      else if (seen.has(s)) errs.push(`exemptions.${k}[${i}]: Duplicate value: ${JSON.stringify(s)}`);
      else seen.add(s);
    });
    return [...seen];
  };
  const exemptions = {
    namespaces: list('namespaces', (s) => (DNS_LABEL.test(s) && s.length <= 63 ? undefined : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'")),
    runtimeClasses: list('runtimeClasses', (s) => (DNS_SUBDOMAIN.test(s) && s.length <= 253 ? undefined : 'a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\'')),
    usernames: list('usernames', (s) => (s === '' ? 'username must not be empty' : undefined)),
  };
  if (errs.length) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);
  return { defaults, exemptions };
}

/**
 * The PodSecurity configuration of an AdmissionConfiguration file (--admission-control-config-file): its PodSecurity
 * entry's inline configuration or the file its path names (relative to the config file); none: kube's defaults.
 */
export async function loadPodSecurityConfiguration(file: string): Promise<PodSecurityConfiguration> {
  const fail = (why: string): Error => new Error(`--admission-control-config-file ${file}: ${why}`);
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
  if (!isRecord(doc) || doc.kind !== 'AdmissionConfiguration' || !/^apiserver\.(config\.)?k8s\.io\/v1(alpha1)?$/.test(String(doc.apiVersion))) {
    throw fail('not an apiserver.config.k8s.io/v1 AdmissionConfiguration');
  }
  const entry = (Array.isArray(doc.plugins) ? doc.plugins : []).find((p): p is Record<string, unknown> => isRecord(p) && p.name === 'PodSecurity');
  if (!entry) return DEFAULT_POD_SECURITY;
  try {
    if (entry.configuration !== undefined) return podSecurityConfiguration(entry.configuration);
    if (typeof entry.path === 'string' && entry.path) {
      const path = isAbsolute(entry.path) ? entry.path : join(dirname(file), entry.path);
      return podSecurityConfiguration(parseYaml(await readFile(path, 'utf8')) as unknown);
    }
    return DEFAULT_POD_SECURITY;
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
}
