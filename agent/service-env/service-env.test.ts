// Service environment variables against the kubelet's exact output (envvars_test.go TestFromServices, and the
// namespace and enableServiceLinks rules of getServiceEnvVarMap).
import assert from 'node:assert/strict';
import type { Service, ServiceSpec } from '../../api/index.js';
import { fromServices, serviceEnvVars } from './service-env.js';

const svc = (namespace: string, name: string, spec: Partial<ServiceSpec>): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { bar: 'baz' }, ...spec } });

describe('service environment variables', () => {
  it('writes what envvars.FromServices writes, in its order', () => {
    const services = [
      svc('', 'foo-bar', { clusterIP: '1.2.3.4', ports: [{ port: 8080, protocol: 'TCP' }] }),
      svc('', 'abc-123', { clusterIP: '5.6.7.8', ports: [{ name: 'u-d-p', port: 8081, protocol: 'UDP' }, { name: 't-c-p', port: 8081, protocol: 'TCP' }] }),
      svc('', 'q-u-u-x', { clusterIP: '9.8.7.6', ports: [{ port: 8082, protocol: 'TCP' }, { name: '8083', port: 8083, protocol: 'TCP' }] }),
      svc('', 'svrc-clusterip-none', { clusterIP: 'None', ports: [{ port: 8082, protocol: 'TCP' }] }),
      svc('', 'svrc-clusterip-empty', { clusterIP: '', ports: [{ port: 8082, protocol: 'TCP' }] }),
    ];
    assert.deepEqual(
      fromServices(services).map((e) => [e.name, e.value]),
      [
        ['FOO_BAR_SERVICE_HOST', '1.2.3.4'],
        ['FOO_BAR_SERVICE_PORT', '8080'],
        ['FOO_BAR_PORT', 'tcp://1.2.3.4:8080'],
        ['FOO_BAR_PORT_8080_TCP', 'tcp://1.2.3.4:8080'],
        ['FOO_BAR_PORT_8080_TCP_PROTO', 'tcp'],
        ['FOO_BAR_PORT_8080_TCP_PORT', '8080'],
        ['FOO_BAR_PORT_8080_TCP_ADDR', '1.2.3.4'],
        ['ABC_123_SERVICE_HOST', '5.6.7.8'],
        ['ABC_123_SERVICE_PORT', '8081'],
        ['ABC_123_SERVICE_PORT_U_D_P', '8081'],
        ['ABC_123_SERVICE_PORT_T_C_P', '8081'],
        ['ABC_123_PORT', 'udp://5.6.7.8:8081'],
        ['ABC_123_PORT_8081_UDP', 'udp://5.6.7.8:8081'],
        ['ABC_123_PORT_8081_UDP_PROTO', 'udp'],
        ['ABC_123_PORT_8081_UDP_PORT', '8081'],
        ['ABC_123_PORT_8081_UDP_ADDR', '5.6.7.8'],
        ['ABC_123_PORT_8081_TCP', 'tcp://5.6.7.8:8081'],
        ['ABC_123_PORT_8081_TCP_PROTO', 'tcp'],
        ['ABC_123_PORT_8081_TCP_PORT', '8081'],
        ['ABC_123_PORT_8081_TCP_ADDR', '5.6.7.8'],
        ['Q_U_U_X_SERVICE_HOST', '9.8.7.6'],
        ['Q_U_U_X_SERVICE_PORT', '8082'],
        ['Q_U_U_X_SERVICE_PORT_8083', '8083'],
        ['Q_U_U_X_PORT', 'tcp://9.8.7.6:8082'],
        ['Q_U_U_X_PORT_8082_TCP', 'tcp://9.8.7.6:8082'],
        ['Q_U_U_X_PORT_8082_TCP_PROTO', 'tcp'],
        ['Q_U_U_X_PORT_8082_TCP_PORT', '8082'],
        ['Q_U_U_X_PORT_8082_TCP_ADDR', '9.8.7.6'],
        ['Q_U_U_X_PORT_8083_TCP', 'tcp://9.8.7.6:8083'],
        ['Q_U_U_X_PORT_8083_TCP_PROTO', 'tcp'],
        ['Q_U_U_X_PORT_8083_TCP_PORT', '8083'],
        ['Q_U_U_X_PORT_8083_TCP_ADDR', '9.8.7.6'],
      ],
    );
  });

  const cluster = [
    svc('default', 'kubernetes', { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }),
    svc('default', 'other', { clusterIP: '10.96.0.2', ports: [{ port: 80 }] }),
    svc('web', 'web', { clusterIP: '10.96.0.3', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
    svc('web', 'db', { clusterIP: 'None', ports: [{ port: 5432 }] }),
    svc('web', 'ext', { type: 'ExternalName', externalName: 'example.com' }),
    svc('elsewhere', 'cache', { clusterIP: '10.96.0.4', ports: [{ port: 6379 }] }),
  ];
  const kubernetes = {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443',
    KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
  };

  it("gives a pod its namespace's services with a cluster IP and the kubernetes service, not other namespaces'", () => {
    assert.deepEqual(Object.fromEntries(serviceEnvVars(cluster, 'web', true)), {
      ...kubernetes,
      WEB_SERVICE_HOST: '10.96.0.3',
      WEB_SERVICE_PORT: '80',
      WEB_SERVICE_PORT_HTTP: '80',
      WEB_PORT: 'tcp://10.96.0.3:80',
      WEB_PORT_80_TCP: 'tcp://10.96.0.3:80',
      WEB_PORT_80_TCP_PROTO: 'tcp',
      WEB_PORT_80_TCP_PORT: '80',
      WEB_PORT_80_TCP_ADDR: '10.96.0.3',
    });
    assert.equal(serviceEnvVars(cluster, 'web', undefined).size, 16, 'enableServiceLinks defaults to true');
  });

  it('gives only the kubernetes service with enableServiceLinks false, in any namespace', () => {
    assert.deepEqual(Object.fromEntries(serviceEnvVars(cluster, 'web', false)), kubernetes);
    assert.deepEqual(Object.fromEntries(serviceEnvVars(cluster, 'default', false)), kubernetes);
    assert.ok(serviceEnvVars(cluster, 'default', true).has('OTHER_SERVICE_HOST'));
  });

  it("lets a namespace's own kubernetes service win over default's, as the kubelet's map does", () => {
    const own = svc('web', 'kubernetes', { clusterIP: '10.96.0.9', ports: [{ port: 8443 }] });
    for (const order of [[...cluster, own], [own, ...cluster]]) assert.equal(serviceEnvVars(order, 'web', true).get('KUBERNETES_SERVICE_HOST'), '10.96.0.9');
    assert.equal(serviceEnvVars([own, ...cluster], 'web', false).get('KUBERNETES_SERVICE_HOST'), '10.96.0.1');
  });
});
