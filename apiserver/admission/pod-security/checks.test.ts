// The Pod Security checks' words, case by case as kube's own policy tests state them, and the evaluator's order,
// levels and versions.
import { strict as assert } from 'node:assert';
import { CHECKS, type CheckResult, type PodMeta, type PodSpec } from './checks.js';
import { Evaluator, forbiddenDetail, LATEST, policyToEvaluate } from './policy.js';

/** The newest revision of a check. */
const check = (id: string, meta: PodMeta, spec: PodSpec): CheckResult => CHECKS.find((c) => c.id === id)!.versions.at(-1)!.check(meta, spec);
const detail = (id: string, spec: PodSpec, meta: PodMeta = {}): [string | undefined, string | undefined] => {
  const r = check(id, meta, spec);
  return [r.forbiddenReason, r.forbiddenDetail];
};

describe('Pod Security checks', () => {
  it('host ports', () => {
    const spec = { containers: [{ name: 'a', ports: [{ hostPort: 0 }] }, { name: 'b', ports: [{ hostPort: 0 }, { hostPort: 10 }, { hostPort: 20 }] }, { name: 'c', ports: [{ hostPort: 10 }, { hostPort: 30 }] }] };
    assert.deepEqual(detail('hostPorts', spec), ['hostPort', 'containers "b", "c" use hostPorts 10, 20, 30']);
    assert.deepEqual(detail('hostPorts', { containers: [{ name: 'b', ports: [{ hostPort: 20 }] }] }), ['hostPort', 'container "b" uses hostPort 20']);
  });

  it('SELinux options', () => {
    const c = (name: string, o: object) => ({ name, securityContext: { seLinuxOptions: o } });
    const spec: PodSpec = {
      securityContext: { seLinuxOptions: { type: 'foo', user: 'bar', role: 'baz' } },
      containers: [c('a', { type: 'container_t' }), c('d', { type: 'container_engine_t' }), c('e', { type: 'bar' }), c('f', { user: 'bar' }), c('g', { role: 'baz' })],
    };
    assert.deepEqual(detail('seLinuxOptions', spec), ['seLinuxOptions', 'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set']);
  });

  it('restricted volume types, the unknown included', () => {
    const spec: PodSpec = {
      volumes: [{ name: 'a1', emptyDir: {} }, { name: 'a2', projected: {} }, { name: 'b1', hostPath: { path: '/' } }, { name: 'b2', nfs: {} }, { name: 'b3', nfs: {} }, { name: 'c1' }],
    };
    assert.deepEqual(detail('restrictedVolumes', spec), ['restricted volume types', 'volumes "b1", "b2", "b3", "c1" use restricted volume types "hostPath", "nfs", "unknown"']);
  });

  it('capabilities, AppArmor, sysctls, seccomp, runAsUser, hostProcess, procMount, host namespaces', () => {
    assert.deepEqual(detail('capabilities_baseline', { containers: [{ name: 'a', securityContext: { capabilities: { add: ['NET_RAW', 'CHOWN', 'SYS_ADMIN'] } } }] }), [
      'non-default capabilities',
      'container "a" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add',
    ]);
    assert.deepEqual(detail('capabilities_restricted', { containers: [{ name: 'a' }, { name: 'b', securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'CHOWN'] } } }] }), [
      'unrestricted capabilities',
      'container "a" must set securityContext.capabilities.drop=["ALL"]; container "b" must not include "CHOWN" in securityContext.capabilities.add',
    ]);
    assert.deepEqual(detail('appArmorProfile', { containers: [{ name: 'foo', securityContext: { appArmorProfile: { type: 'Unconfined' } } }] }), [
      'forbidden AppArmor profile',
      'container "foo" must not set AppArmor profile type to "Unconfined"',
    ]);
    assert.deepEqual(detail('appArmorProfile', { containers: [] }, { annotations: { 'container.apparmor.security.beta.kubernetes.io/a': 'unconfined', 'container.apparmor.security.beta.kubernetes.io/b': 'localhost/x' } }), [
      'forbidden AppArmor profile',
      'annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/a="unconfined""',
    ]);
    assert.deepEqual(detail('sysctls', { securityContext: { sysctls: [{ name: 'net.ipv4.tcp_rmem' }, { name: 'kernel.msgmax' }, { name: 'a' }] } }), ['forbidden sysctls', 'kernel.msgmax, a']);
    assert.deepEqual(detail('seccompProfile_baseline', { securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [{ name: 'a' }] }), [
      'seccompProfile',
      'pod must not set securityContext.seccompProfile.type to "Unconfined"',
    ]);
    assert.deepEqual(detail('runAsUser', { securityContext: { runAsUser: 0 }, containers: [{ name: 'c', securityContext: { runAsUser: 0 } }, { name: 'd', securityContext: { runAsUser: 1 } }] }), [
      'runAsUser=0',
      'pod and container "c" must not set runAsUser=0',
    ]);
    assert.deepEqual(detail('windowsHostProcess', { securityContext: { windowsOptions: { hostProcess: true } }, containers: [] }), ['hostProcess', 'pod must not set securityContext.windowsOptions.hostProcess=true']);
    assert.deepEqual(detail('procMount', { containers: [{ name: 'a', securityContext: { procMount: 'Unmasked' } }, { name: 'b', securityContext: { procMount: 'Default' } }] }), [
      'procMount',
      'container "a" must not set securityContext.procMount to "Unmasked"',
    ]);
    assert.deepEqual(detail('hostNamespaces', { hostNetwork: true, hostIPC: true }), ['host namespaces', 'hostNetwork=true, hostIPC=true']);
    assert.deepEqual(detail('hostPathVolumes', { volumes: [{ name: 'h', hostPath: { path: '/etc' } }] }), ['hostPath volumes', 'volume "h"']);
  });

  it('evaluates baseline checks, then restricted ones, each sorted by id; restricted replaces some baseline checks', () => {
    const ev = new Evaluator();
    const spec: PodSpec = { hostNetwork: true, volumes: [{ name: 'h', hostPath: { path: '/' } }], containers: [{ name: 'c', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } }] };
    const baseline = ev.evaluate({ level: 'baseline', version: LATEST }, {}, spec);
    assert.deepEqual(baseline.reasons, ['non-default capabilities', 'host namespaces', 'hostPath volumes', 'privileged']);
    const restricted = ev.evaluate({ level: 'restricted', version: LATEST }, {}, spec);
    // capabilities_baseline and hostPathVolumes give way to capabilities_restricted and restrictedVolumes.
    assert.deepEqual(restricted.reasons, ['host namespaces', 'privileged', 'allowPrivilegeEscalation != false', 'unrestricted capabilities', 'restricted volume types', 'runAsNonRoot != true', 'seccompProfile']);
    assert.ok(forbiddenDetail(restricted).startsWith('host namespaces (hostNetwork=true), privileged (container "c" must not set securityContext.privileged=true)'));
    assert.equal(ev.evaluate({ level: 'privileged', version: LATEST }, {}, spec).allowed, true);
    // Versions: runAsUser exists from v1.23, tcp_rmem is allowed from v1.32.
    const root = { securityContext: { runAsNonRoot: true, runAsUser: 0, seccompProfile: { type: 'RuntimeDefault' } }, containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }] };
    assert.equal(ev.evaluate({ level: 'restricted', version: 22 }, {}, root).allowed, true);
    assert.deepEqual(ev.evaluate({ level: 'restricted', version: 23 }, {}, root).reasons, ['runAsUser=0']);
    const sysctl = { securityContext: { sysctls: [{ name: 'net.ipv4.tcp_rmem' }] } };
    assert.equal(ev.evaluate({ level: 'baseline', version: 31 }, {}, sysctl).allowed, false);
    assert.equal(ev.evaluate({ level: 'baseline', version: 32 }, {}, sysctl).allowed, true);
  });

  it('reads a namespace policy from its labels over the defaults', () => {
    const defaults = { enforce: { level: 'privileged' as const, version: LATEST }, audit: { level: 'privileged' as const, version: LATEST }, warn: { level: 'privileged' as const, version: LATEST } };
    const p = policyToEvaluate({ 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.25' }, defaults);
    assert.deepEqual(p.errors, []);
    // warn follows a stricter enforce level given without a warn level, with its version.
    assert.deepEqual(p.policy.warn, { level: 'baseline', version: 25 });
    const bad = policyToEvaluate({ 'pod-security.kubernetes.io/enforce': 'nope', 'pod-security.kubernetes.io/audit': 'nope' }, defaults);
    // Enforce fails closed (restricted), audit and warn open (privileged).
    assert.equal(bad.policy.enforce.level, 'restricted');
    assert.equal(bad.policy.audit.level, 'privileged');
    assert.equal(bad.errors.length, 2);
  });
});
