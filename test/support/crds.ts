// CustomResourceDefinitions the API server tests share, and waiting for one to be served.
import type { Harness } from '../apiserver/harness.js';
import { waitFor } from './util.js';

/** Waits until the CRD reports Established (the brief's bound: served within a second of creation by default). */
export async function established(h: Pick<Harness, 'call'>, name: string, timeoutMs = 1000): Promise<void> {
  await waitFor(
    async () => {
      const r = await h.call('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      return ((r.json.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
    },
    { timeoutMs, what: `${name} established` },
  );
}

/** A CRD exercising the schema features: types, enums, patterns, bounds, defaults, int-or-string, CEL, subresources. */
export function widgetCrd(extra: { group?: string } = {}): Record<string, unknown> {
  const group = extra.group ?? 'example.ketch.dev';
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'], categories: ['all'] },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } },
          additionalPrinterColumns: [
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
            { name: 'Color', type: 'string', jsonPath: '.spec.color' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          selectableFields: [{ jsonPath: '.spec.color' }],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  description: 'What the widget should be.',
                  required: ['color'],
                  'x-kubernetes-validations': [
                    { rule: 'self.replicas <= self.maxReplicas', message: 'replicas must not exceed maxReplicas' },
                    { rule: 'self.color == oldSelf.color', message: 'color is immutable' },
                  ],
                  properties: {
                    replicas: { type: 'integer', minimum: 0, default: 1 },
                    maxReplicas: { type: 'integer', default: 10 },
                    color: { type: 'string', enum: ['red', 'green', 'blue'], description: 'The color of the widget.' },
                    code: { type: 'string', pattern: '^[a-z]+$', maxLength: 8 },
                    port: { 'x-kubernetes-int-or-string': true },
                    created: { type: 'string', format: 'date-time' },
                    note: { type: 'string', nullable: true },
                    tags: { type: 'array', maxItems: 3, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
                    extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                    ports: {
                      type: 'array',
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['name'],
                      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, port: { type: 'integer' } } },
                    },
                  },
                },
                status: { type: 'object', properties: { replicas: { type: 'integer' }, selector: { type: 'string' } } },
              },
            },
          },
        },
      ],
    },
  };
}

