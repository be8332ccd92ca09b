import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import { InFlightLimiter } from './inflight.js';

const req = (method: string, url: string): IncomingMessage => ({ method, url }) as IncomingMessage;
const user = { name: 'u', groups: ['system:authenticated'] };
const master = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };

describe('InFlightLimiter', () => {
  it('counts reads and mutating requests in separate pools and frees a slot once', () => {
    const l = new InFlightLimiter(2, 1);
    const r1 = l.admit(req('GET', '/api/v1/pods'), user);
    const r2 = l.admit(req('HEAD', '/api/v1/pods'), user);
    assert.ok(r1 && r2);
    assert.equal(l.admit(req('GET', '/api'), user), null);
    const w = l.admit(req('PATCH', '/api/v1/namespaces/a/pods/p'), user);
    assert.ok(w);
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.equal(l.admit(req(m, '/api/v1/namespaces/a/pods'), user), null, m);
    assert.deepEqual(l.inFlight, { reads: 2, mutating: 1 });
    r1();
    r1();
    assert.deepEqual(l.inFlight, { reads: 1, mutating: 1 });
    assert.ok(l.admit(req('GET', '/api'), user));
  });

  it('does not count long-running requests, health checks or system:masters, and 0 means no limit', () => {
    const l = new InFlightLimiter(1, 1);
    assert.ok(l.admit(req('GET', '/api/v1/pods'), user));
    assert.ok(l.admit(req('POST', '/api/v1/namespaces/a/pods'), user));
    for (const url of [
      '/api/v1/pods?watch=true',
      '/api/v1/namespaces/a/pods?labelSelector=x&watch=1',
      '/apis/apps/v1/watch/deployments',
      '/api/v1/namespaces/a/pods/p/log?follow=true',
      '/api/v1/namespaces/a/pods/p/exec?command=sh',
      '/api/v1/namespaces/a/pods/p/attach',
      '/api/v1/namespaces/a/pods/p/portforward',
      '/api/v1/nodes/n1/proxy/stats/summary',
      '/healthz',
      '/readyz?verbose',
      '/livez/ping',
    ]) {
      assert.equal(l.admit(req('GET', url), user), undefined, url);
    }
    assert.equal(l.admit(req('GET', '/api/v1/namespaces/a/pods/watcher'), user), null, 'a pod named watcher is no watch');
    assert.equal(l.admit(req('GET', '/api/v1/pods'), master), undefined);
    assert.equal(l.admit(req('DELETE', '/api/v1/namespaces/a/pods/p'), master), undefined);
    const free = new InFlightLimiter(0, 0);
    for (let i = 0; i < 1000; i++) assert.equal(free.admit(req('POST', '/api/v1/namespaces/a/pods'), user), undefined);
  });
});
