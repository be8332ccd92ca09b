import { strict as assert } from 'node:assert';
import { ApiError } from '../../api/errors.js';
import { containerOf, execRequest, logRequest, portForwardPorts } from './stream-options.js';

const refused = (f: () => unknown, code: number, message: string): void =>
  assert.throws(f, (e: unknown) => e instanceof ApiError && e.code === code && e.message === message, message);

describe('pod stream options as kube reads them', () => {
  const pod = { metadata: { name: 'web' }, spec: { containers: [{ name: 'app' }, { name: 'side' }], initContainers: [{ name: 'init' }] } };

  it('names the container: the only one, a named one of the pod\'s, or a 400 listing the choices', () => {
    assert.equal(containerOf({ metadata: { name: 'one' }, spec: { containers: [{ name: 'only' }] } }, null), 'only');
    assert.equal(containerOf(pod, 'init'), 'init');
    refused(() => containerOf(pod, null), 400, 'a container name must be specified for pod web, choose one of: [app side init]');
    refused(() => containerOf(pod, 'nope'), 400, 'container nope is not valid for pod web');
  });

  it('exec and attach: booleans in any spelling, the agent\'s spelling out; a terminal has no stderr', () => {
    const e = execRequest(new URLSearchParams('command=sh&command=-c&command=id&stdin=True&stdout=1&stderr=t&tty=yes'), 'exec');
    assert.deepEqual(e.flags, { stdin: true, stdout: true, stderr: false, tty: true });
    assert.equal(e.agentQuery.toString(), 'command=sh&command=-c&command=id&stdin=true&stdout=true&tty=true');
    refused(() => execRequest(new URLSearchParams('command=id&stdout=False&stderr=0'), 'exec'), 400, 'you must specify at least 1 of stdin, stdout, stderr');
    assert.deepEqual(execRequest(new URLSearchParams('stdout=true&command=ignored'), 'attach').command, []);
  });

  it('logs: integers by Go\'s rules, kube\'s validation as a 422 on PodLogOptions, sinceTime as an age', () => {
    const l = logRequest(new URLSearchParams('follow=True&timestamps=t&previous=False&tailLines=%2B10&limitBytes=007&insecureSkipTLSVerifyBackend=True'), 'web', 0);
    assert.equal(l.agentQuery.toString(), 'follow=true&timestamps=true&tailLines=10&limitBytes=7');
    assert.equal(l.skipVerify, true);
    refused(() => logRequest(new URLSearchParams('tailLines=-1&limitBytes=0'), 'web', 0), 422, 'PodLogOptions "web" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]');
    refused(() => logRequest(new URLSearchParams('sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z'), 'web', 0), 422, 'PodLogOptions "web" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified');
    refused(() => logRequest(new URLSearchParams('tailLines=x'), 'web', 0), 400, 'strconv.ParseInt: parsing "x": invalid syntax');
    const since = logRequest(new URLSearchParams('sinceTime=2026-01-01T00:00:00Z'), 'web', Date.parse('2026-01-01T00:01:30Z'));
    assert.equal(since.agentQuery.get('sinceSeconds'), '90');
  });

  it('port-forward ports: repeated and comma-separated, 1-65535, with Go\'s messages', () => {
    assert.deepEqual(portForwardPorts(new URLSearchParams('ports=80,443&ports=8080')), [80, 443, 8080]);
    assert.deepEqual(portForwardPorts(new URLSearchParams('')), []);
    refused(() => portForwardPorts(new URLSearchParams('ports=80,http')), 400, 'cannot convert to []int32: strconv.ParseUint: parsing "http": invalid syntax');
    refused(() => portForwardPorts(new URLSearchParams('ports=70000')), 400, 'cannot convert to []int32: strconv.ParseUint: parsing "70000": value out of range');
    refused(() => portForwardPorts(new URLSearchParams('ports=0')), 400, 'port "0" must be > 0');
  });
});
