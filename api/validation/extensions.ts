// Rules for the extension kinds: CustomResourceDefinition's names and versions (its schemas are checked by the API
// server's apiextensions strategy, which compiles them), webhook configurations, admission policies, APIServices.
import type { APIService, CustomResourceDefinition, MutatingWebhookConfiguration, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidatingWebhookConfiguration } from '../schemas/extensions.js';
import { duplicate, forbidden, invalid, required, type Cause } from '../field.js';
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, nameIsDNSSubdomain, type NameValidator } from '../names.js';
import { rules } from './rules.js';

function validateNames(crd: CustomResourceDefinition): Cause[] {
  const causes: Cause[] = [];
  const n = crd.spec.names;
  const label = (field: string, v: string | undefined): void => {
    if (v !== undefined && v !== '' && isDNS1123Label(v).length) causes.push(invalid(`spec.names.${field}`, v, 'a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character'));
  };
  if (!n.plural) causes.push(required('spec.names.plural'));
  label('plural', n.plural);
  label('singular', n.singular);
  if (!n.kind) causes.push(required('spec.names.kind'));
  else if (isDNS1035Label(n.kind.toLowerCase()).length) causes.push(invalid('spec.names.kind', n.kind, 'may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?'));
  (n.shortNames ?? []).forEach((s, i) => label(`shortNames[${i}]`, s));
  (n.categories ?? []).forEach((s, i) => label(`categories[${i}]`, s));
  return causes;
}

function validateVersions(crd: CustomResourceDefinition): Cause[] {
  const causes: Cause[] = [];
  const versions = crd.spec.versions;
  if (versions.length === 0) return [required('spec.versions', 'must have exactly one version marked as storage version')];
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    if (seen.has(v.name)) causes.push(duplicate(`spec.versions[${i}].name`, v.name));
    seen.add(v.name);
    if (isDNS1035Label(v.name).length) causes.push(invalid(`spec.versions[${i}].name`, v.name, 'a DNS-1035 label must consist of lower case alphanumeric characters or \'-\', start with an alphabetic character, and end with an alphanumeric character'));
  });
  const storage = versions.filter((v) => v.storage).length;
  if (storage !== 1) causes.push(invalid('spec.versions', versions, 'must have exactly one version marked as storage version'));
  if (!versions.some((v) => v.served)) causes.push(invalid('spec.versions', versions, 'must have at least one version marked as served'));
  const conv = crd.spec.conversion;
  if (conv?.strategy === 'Webhook' && !conv.webhook?.clientConfig) causes.push(required('spec.conversion.webhook.clientConfig', 'required when strategy is set to Webhook'));
  if (conv?.strategy !== 'Webhook' && conv?.webhook) causes.push(forbidden('spec.conversion.webhook', 'should not be set when strategy is not set to Webhook'));
  return causes;
}

export const customResourceDefinition = rules<CustomResourceDefinition>({
  name: nameIsDNSSubdomain,
  validate: (crd) => {
    const causes: Cause[] = [];
    const want = `${crd.spec.names.plural}.${crd.spec.group}`;
    if (crd.metadata.name !== want) causes.push(invalid('metadata.name', crd.metadata.name ?? '', 'must be spec.names.plural+"."+spec.group'));
    if (!crd.spec.group) causes.push(required('spec.group'));
    else if (!crd.spec.group.includes('.')) causes.push(invalid('spec.group', crd.spec.group, 'should be a domain with at least one dot'));
    else if (isDNS1123Subdomain(crd.spec.group).length) causes.push(invalid('spec.group', crd.spec.group, 'must be a DNS-1123 subdomain'));
    causes.push(...validateNames(crd), ...validateVersions(crd));
    return causes;
  },
  validateUpdate: (crd, old) => {
    const causes: Cause[] = [];
    if (crd.spec.group !== old.spec.group) causes.push(invalid('spec.group', crd.spec.group, 'field is immutable'));
    if (crd.spec.names.plural !== old.spec.names.plural) causes.push(invalid('spec.names.plural', crd.spec.names.plural, 'field is immutable'));
    return causes;
  },
});

type Webhooks = MutatingWebhookConfiguration | ValidatingWebhookConfiguration;

export const webhookConfiguration = rules<Webhooks>({
  name: nameIsDNSSubdomain,
  validate: (c) => {
    const causes: Cause[] = [];
    const names = new Set<string>();
    (c.webhooks ?? []).forEach((w, i) => {
      const at = `webhooks[${i}]`;
      if (names.has(w.name)) causes.push(duplicate(`${at}.name`, w.name));
      names.add(w.name);
      if (isDNS1123Subdomain(w.name).length || w.name.split('.').length < 3) causes.push(invalid(`${at}.name`, w.name, 'should be a domain with at least three segments separated by dots'));
      const cc = w.clientConfig;
      if (!cc.url && !cc.service) causes.push(required(`${at}.clientConfig`, 'exactly one of url or service is required'));
      if (cc.url && cc.service) causes.push(required(`${at}.clientConfig`, 'exactly one of url or service is required'));
      if (cc.url && !cc.url.startsWith('https://')) causes.push(invalid(`${at}.clientConfig.url`, cc.url, "'https' is the only allowed URL scheme"));
      if (!w.admissionReviewVersions.includes('v1')) causes.push(invalid(`${at}.admissionReviewVersions`, w.admissionReviewVersions, 'must include at least one of v1'));
    });
    return causes;
  },
});

export const validatingAdmissionPolicy = rules<ValidatingAdmissionPolicy>({
  name: nameIsDNSSubdomain,
  validate: (p) => {
    const causes: Cause[] = [];
    if (!p.spec?.validations?.length && !p.spec?.auditAnnotations?.length) causes.push(required('spec.validations', 'validations or auditAnnotations must contain at least one item'));
    if (!p.spec?.matchConstraints?.resourceRules?.length) causes.push(required('spec.matchConstraints.resourceRules'));
    (p.spec?.validations ?? []).forEach((v, i) => {
      if (!v.expression.trim()) causes.push(required(`spec.validations[${i}].expression`));
    });
    return causes;
  },
});

export const validatingAdmissionPolicyBinding = rules<ValidatingAdmissionPolicyBinding>({
  name: nameIsDNSSubdomain,
  validate: (b) => {
    const causes: Cause[] = [];
    if (!b.spec?.policyName) causes.push(required('spec.policyName'));
    if (!b.spec?.validationActions?.length) causes.push(required('spec.validationActions'));
    return causes;
  },
});

/** kube-aggregator's name rule: any valid path segment ("v1." for the core group); the version.group match is checked apart. */
const pathSegmentName: NameValidator = (name) => (name === '.' || name === '..' ? [`may not be '${name}'`] : /[/%]/.test(name) ? ["may not contain '/' or '%'"] : []);

export const apiService = rules<APIService>({
  name: pathSegmentName,
  validate: (a) => {
    const causes: Cause[] = [];
    const spec = a.spec;
    if (!spec) return [required('spec')];
    const want = `${spec.version ?? ''}.${spec.group ?? ''}`;
    if (a.metadata.name !== want) causes.push(invalid('metadata.name', a.metadata.name ?? '', `must be ${JSON.stringify(want)}: .spec.version followed by .spec.group`));
    if (!spec.version) causes.push(required('spec.version'));
    if (spec.service && (!spec.service.namespace || !spec.service.name)) causes.push(required('spec.service', 'namespace and name are required'));
    if (spec.groupPriorityMinimum <= 0 || spec.groupPriorityMinimum > 20000) causes.push(invalid('spec.groupPriorityMinimum', spec.groupPriorityMinimum, 'must be positive and less than 20000'));
    if (spec.versionPriority <= 0 || spec.versionPriority > 1000) causes.push(invalid('spec.versionPriority', spec.versionPriority, 'must be positive and less than 1000'));
    if (spec.insecureSkipTLSVerify && spec.caBundle) causes.push(invalid('spec.insecureSkipTLSVerify', true, 'may not be true if caBundle is present'));
    return causes;
  },
});
