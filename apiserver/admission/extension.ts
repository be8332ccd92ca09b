// The admission plugins that extend the API, in kube's order after the built-in mutating ones: mutating webhooks,
// then ValidatingAdmissionPolicy, then validating webhooks. Configurations are read from the stores' caches.
import type { Logger } from '../../lib/logger.js';
import type { Registry, Store } from '../registry/index.js';
import type { Admission } from '../registry/rest.js';
import { endpointsResolver, type ServiceResolver } from './webhook/client.js';
import { mutatingWebhooks, validatingWebhooks } from './webhook/admission.js';
import { validatingPolicies } from './policy/admission.js';

function storeOf(registry: Registry, group: string, resource: string): Store {
  const s = registry.byResource(group, 'v1', resource);
  if (!s) throw new Error(`${resource} missing from the resource table`);
  return s;
}

/** Where a Service is served, from the Service, EndpointSlice and Endpoints stores' caches. */
export function serviceResolver(registry: Registry): ServiceResolver {
  const services = storeOf(registry, '', 'services');
  const endpoints = storeOf(registry, '', 'endpoints');
  const slices = registry.byResource('discovery.k8s.io', 'v1', 'endpointslices');
  return endpointsResolver(
    (resource, ns, name) => (resource === 'services' ? services : endpoints).lookup(ns, name),
    async (ns, service) => (slices ? (await slices.lookupAll()).filter((s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === service) : []),
  );
}

export function extensionAdmission(registry: Registry, log: Logger): Admission[] {
  const adm = 'admissionregistration.k8s.io';
  const namespaces = storeOf(registry, '', 'namespaces');
  const getNamespace = (name: string) => namespaces.lookup('', name);
  const resolver = serviceResolver(registry);
  const mutating = storeOf(registry, adm, 'mutatingwebhookconfigurations');
  const validating = storeOf(registry, adm, 'validatingwebhookconfigurations');
  const policies = storeOf(registry, adm, 'validatingadmissionpolicies');
  const bindings = storeOf(registry, adm, 'validatingadmissionpolicybindings');
  const wlog = log.child({ component: 'admission-webhook' });
  return [
    mutatingWebhooks({ configurations: () => mutating.lookupAll(), none: () => mutating.knownEmpty(), getNamespace, resolver, log: wlog }),
    validatingPolicies({
      policies: () => policies.lookupAll(),
      bindings: () => bindings.lookupAll(),
      none: () => bindings.knownEmpty(),
      getNamespace,
      params: (apiVersion, kind, namespace, name) => registry.lookupByKind(apiVersion, kind, namespace, name),
      listParams: (apiVersion, kind, namespace) => registry.lookupAllByKind(apiVersion, kind, namespace),
      log: log.child({ component: 'admission-policy' }),
    }),
    validatingWebhooks({ configurations: () => validating.lookupAll(), none: () => validating.knownEmpty(), getNamespace, resolver, log: wlog }),
  ];
}
