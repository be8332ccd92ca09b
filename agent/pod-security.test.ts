// What the agent asks of the runtime for a pod's securityContext, and what it refuses (kubelet's rules).
import { strict as assert } from 'node:assert';
import type { Container, Pod, PodSpec } from '../api/index.js';
import { containerSecurity, MASKED_PATHS, READONLY_PATHS, refusePod, verifyRunAsNonRoot } from './pod-security.js';

const opts = { seccompDefault: true, seccompProfileRoot: '/var/lib/ketch/seccomp' };
const pod = (spec: Partial<PodSpec> = {}): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [], ...spec } }) as Pod;
const ctr = (extra: Partial<Container> = {}): Container => ({ name: 'c', image: 'busybox', ...extra });

describe('pod security context (kubelet rules)', () => {
  it('defaults to RuntimeDefault seccomp, masked and read-only /proc paths, a private IPC namespace even with hostNetwork', () => {
    const sc = containerSecurity(pod({ hostNetwork: true }), ctr(), opts);
    assert.deepEqual(sc.seccomp, { profileType: 'RuntimeDefault' });
    assert.deepEqual(sc.maskedPaths, MASKED_PATHS);
    assert.deepEqual(sc.readonlyPaths, READONLY_PATHS);
    assert.deepEqual(sc.namespaceOptions, { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' });
    assert.equal(sc.noNewPrivs, false);
    assert.equal(sc.readonlyRootfs, false);
    assert.deepEqual(containerSecurity(pod(), ctr(), { ...opts, seccompDefault: false }).seccomp, { profileType: 'Unconfined' });
  });

  it('passes allowPrivilegeEscalation: false as no_new_privs, readOnlyRootFilesystem, capabilities, users and fsGroup', () => {
    const sc = containerSecurity(
      pod({ securityContext: { runAsUser: 1000, runAsGroup: 2000, supplementalGroups: [3000], fsGroup: 4000 } }),
      ctr({ securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } }),
      opts,
    );
    assert.equal(sc.noNewPrivs, true);
    assert.equal(sc.readonlyRootfs, true);
    assert.deepEqual(sc.capabilities, { addCapabilities: ['NET_BIND_SERVICE'], dropCapabilities: ['ALL'] });
    assert.deepEqual(sc.runAsUser, { value: 1000 });
    assert.deepEqual(sc.runAsGroup, { value: 2000 });
    assert.deepEqual(sc.supplementalGroups, [3000, 4000]);
  });

  it('unmasks /proc only for privileged containers; refuses a Localhost profile path with ".."', () => {
    const sc = containerSecurity(pod(), ctr({ securityContext: { privileged: true } }), opts);
    assert.deepEqual([sc.maskedPaths, sc.readonlyPaths], [[], []]);
    assert.deepEqual(containerSecurity(pod(), ctr({ securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } } }), opts).seccomp, {
      profileType: 'Localhost',
      localhostRef: '/var/lib/ketch/seccomp/p.json',
    });
    assert.throws(() => containerSecurity(pod(), ctr({ securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: '../../etc/x' } } }), opts), /must be a relative path without "\.\."/);
  });

  it('refuses procMount Unmasked and hostUsers: false instead of ignoring them', () => {
    assert.throws(() => containerSecurity(pod(), ctr({ securityContext: { procMount: 'Unmasked' } }), opts), /procMount Unmasked needs a user namespace/);
    assert.match(refusePod(pod({ hostUsers: false })) ?? '', /user namespaces \(hostUsers: false\) are not supported/);
    assert.equal(refusePod(pod()), undefined);
  });

  it('verifies runAsNonRoot against the image user with kubelet\'s messages', () => {
    const p = pod({ securityContext: { runAsNonRoot: true } });
    assert.throws(() => verifyRunAsNonRoot(p, ctr(), { uid: 0, username: '' }), { message: 'container has runAsNonRoot and image will run as root (pod: "ns/p", container: c)' });
    assert.throws(() => verifyRunAsNonRoot(p, ctr(), { username: 'app' }), /image has non-numeric user \(app\), cannot verify user is non-root/);
    assert.throws(() => verifyRunAsNonRoot(p, ctr({ securityContext: { runAsUser: 0 } }), { uid: 1000, username: '' }), /container's runAsUser breaks non-root policy/);
    verifyRunAsNonRoot(p, ctr(), { uid: 1000, username: '' });
    verifyRunAsNonRoot(p, ctr({ securityContext: { runAsUser: 1000 } }), { uid: 0, username: '' });
    verifyRunAsNonRoot(pod(), ctr(), { uid: 0, username: '' });
  });
});
