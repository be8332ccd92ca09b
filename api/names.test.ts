import assert from 'node:assert/strict';
import {
  isDNS1123Label, isDNS1123Subdomain, isDNS1035Label, isQualifiedName, isValidLabelValue, validateLabels,
  validateAnnotations, validateQualifiedName, isValidPortName, isValidIP, isValidCIDR, isEnvVarName, isConfigMapKey,
  maskTrailingDash,
} from './names.js';

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

describe('names', () => {
  it('accepts DNS-1123 labels and rejects others with the Kubernetes message', () => {
    for (const ok of ['a', 'my-name', '123-abc', 'a'.repeat(63)]) assert.deepEqual(isDNS1123Label(ok), [], ok);
    assert.deepEqual(isDNS1123Label('My_Name'), [LABEL_MSG]);
    assert.deepEqual(isDNS1123Label('-a'), [LABEL_MSG]);
    assert.deepEqual(isDNS1123Label('a.b'), [LABEL_MSG]);
    assert.deepEqual(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
  });

  it('accepts DNS-1123 subdomains', () => {
    assert.deepEqual(isDNS1123Subdomain('example.com'), []);
    assert.deepEqual(isDNS1123Subdomain('web-0.17a5b3c1d2e3f4a5'), []);
    assert.deepEqual(isDNS1123Subdomain('Example.com'), [
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
    assert.deepEqual(isDNS1123Subdomain(`${'a'.repeat(250)}.com`), ['must be no more than 253 characters']);
  });

  it('requires DNS-1035 labels to start with a letter', () => {
    assert.deepEqual(isDNS1035Label('web'), []);
    assert.match(isDNS1035Label('1web')[0] ?? '', /^a DNS-1035 label must consist of/);
  });

  it('masks a trailing dash of a generateName prefix', () => {
    assert.equal(maskTrailingDash('web-'), 'wea');
    assert.equal(maskTrailingDash('-'), '-');
  });

  it('checks qualified names with prefix and name parts', () => {
    for (const ok of ['app', 'app.kubernetes.io/name', 'example.com/My_Name', 'a']) assert.deepEqual(isQualifiedName(ok), [], ok);
    assert.deepEqual(isQualifiedName('/name'), ['prefix part must be non-empty']);
    assert.deepEqual(isQualifiedName('example.com/'), [
      'name part must be non-empty',
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]);
    assert.match(isQualifiedName('a/b/c')[0] ?? '', /^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e.g. 'example.com\/MyName'\)$/);
    assert.match(isQualifiedName('Example.com/x')[0] ?? '', /^prefix part a lowercase RFC 1123 subdomain/);
    assert.deepEqual(isQualifiedName('a'.repeat(64)), ['name part must be no more than 63 characters']);
  });

  it('checks label values', () => {
    assert.deepEqual(isValidLabelValue(''), []);
    assert.deepEqual(isValidLabelValue('v1.2_3-x'), []);
    assert.deepEqual(isValidLabelValue('-x'), [
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]);
  });

  it('reports label problems at the map path with the bad key or value', () => {
    assert.deepEqual(validateLabels({ app: 'web' }, 'metadata.labels'), []);
    const causes = validateLabels({ 'bad key': 'ok', good: 'bad value' }, 'metadata.labels');
    assert.equal(causes.length, 2);
    assert.equal(causes[0]?.field, 'metadata.labels');
    assert.match(causes[0]?.message ?? '', /^Invalid value: "bad key": name part must consist of/);
    assert.match(causes[1]?.message ?? '', /^Invalid value: "bad value": a valid label must be/);
    assert.equal(causes[0]?.reason, 'FieldValueInvalid');
  });

  it('checks annotation keys case-insensitively and limits their total size', () => {
    assert.deepEqual(validateAnnotations({ 'Example.com/Key': 'x'.repeat(1000) }, 'metadata.annotations'), []);
    assert.deepEqual(validateAnnotations({ big: 'x'.repeat(256 * 1024) }, 'metadata.annotations'), [
      { reason: 'FieldValueTooLong', message: 'Too long: must have at most 262144 bytes', field: 'metadata.annotations' },
    ]);
    assert.equal(validateAnnotations({ 'a b': '' }, 'metadata.annotations')[0]?.field, 'metadata.annotations');
  });

  it('validateQualifiedName returns causes at the given field', () => {
    assert.deepEqual(validateQualifiedName('ok/key', 'spec.taints[0].key'), []);
    assert.equal(validateQualifiedName('bad key', 'spec.taints[0].key')[0]?.field, 'spec.taints[0].key');
  });

  it('checks port names, IPs, CIDRs, env var names and config keys', () => {
    assert.deepEqual(isValidPortName('http'), []);
    assert.deepEqual(isValidPortName('8080'), ['must contain at least one letter (a-z)']);
    assert.deepEqual(isValidPortName('a--b'), ['must not contain consecutive hyphens']);
    assert.deepEqual(isValidPortName('a-very-long-port-name'), ['must be no more than 15 characters']);
    assert.deepEqual(isValidIP('10.0.0.1'), []);
    assert.deepEqual(isValidIP('2001:db8::ffff'), []);
    assert.deepEqual(isValidIP('::ffff:10.0.0.1'), []);
    assert.deepEqual(isValidIP('10.0.0.256'), ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
    assert.deepEqual(isValidIP('1:2:3:4:5:6:7:8:9'), ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
    assert.deepEqual(isValidCIDR('10.244.0.0/16'), []);
    assert.deepEqual(isValidCIDR('fd00::/64'), []);
    assert.equal(isValidCIDR('10.244.0.0/33').length, 1);
    assert.equal(isValidCIDR('10.244.0.0').length, 1);
    assert.deepEqual(isEnvVarName('MY_VAR.x-1'), []);
    assert.equal(isEnvVarName('1VAR').length, 1);
    assert.deepEqual(isConfigMapKey('nginx.conf'), []);
    assert.deepEqual(isConfigMapKey('..data'), ["must not start with '..'"]);
    assert.equal(isConfigMapKey('a/b').length, 1);
  });
});
