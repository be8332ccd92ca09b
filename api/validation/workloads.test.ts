// StatefulSet validation: a volumeMount may name a volumeClaimTemplate (its pods get that claim as a volume), but not
// a name that is neither a volume nor a claim template.
import assert from 'node:assert/strict';
import { applyDefaults } from '../defaults.js';
import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../schemas/meta.js';
import { validateObject } from './index.js';

const create = (obj: object): StatusCause[] => validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'create' });

const sts = (mount: string) => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db', namespace: 'default' },
  spec: {
    serviceName: 'db',
    selector: { matchLabels: { app: 'db' } },
    template: {
      metadata: { labels: { app: 'db' } },
      spec: { containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: mount, mountPath: '/data' }] }] },
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
  },
});

describe('StatefulSet validation', () => {
  it('lets volumeMounts name a volumeClaimTemplate', () => {
    assert.deepEqual(create(sts('data')), []);
  });
  it('still refuses a mount of a volume that is neither in the template nor a claim template', () => {
    assert.deepEqual(create(sts('other')).map((c) => `${c.field}: ${c.message}`), ['spec.template.spec.containers[0].volumeMounts[0].name: Not found: "other"']);
  });
});
