import { strict as assert } from 'node:assert';
import type { ApiError } from '../../api/errors.js';
import { isWatchTarget, resolveRequest, splitTarget } from './request-info.js';

describe('splitTarget', () => {
  it('gives the path as sent and the query as URLSearchParams parses it', () => {
    for (const [t, path, query] of [
      ['/api/v1/namespaces/a/pods?labelSelector=app%3Dweb,tier!=db&limit=5', '/api/v1/namespaces/a/pods', 'labelSelector=app%3Dweb%2Ctier%21%3Ddb&limit=5'],
      ['/api/v1/nodes/n1.example.com', '/api/v1/nodes/n1.example.com', ''],
      ['/api/v1/namespaces/a/pods/x?', '/api/v1/namespaces/a/pods/x', ''],
      ['/api/v1/namespaces/a/pods?q=a b&r=1+2&s=x?y', '/api/v1/namespaces/a/pods', 'q=a+b&r=1+2&s=x%3Fy'],
      ['/api/v1/a/../b', '/api/v1/a/../b', ''],
      ['/api/v1/a/%2e%2e/b', '/api/v1/a/%2e%2e/b', ''],
      ['/api/v1/a#frag?x=1', '/api/v1/a', ''],
    ] as const) {
      const got = splitTarget(t);
      assert.equal(got.pathname, path, t);
      assert.equal(got.query.toString(), query, t);
    }
  });
});

describe('resolveRequest', () => {
  const q = new URLSearchParams();
  const code = (method: string, path: string): number | string => {
    try {
      return resolveRequest(method, path, q)?.verb ?? 'none';
    } catch (err) {
      return (err as ApiError).code;
    }
  };

  it('maps methods to verbs, and answers 405 where kube-apiserver has no route', () => {
    assert.equal(code('GET', '/api/v1/namespaces/a/pods'), 'list');
    assert.equal(code('GET', '/api/v1/namespaces/a/pods/p'), 'get');
    assert.equal(code('POST', '/api/v1/namespaces/a/pods'), 'create');
    assert.equal(code('POST', '/api/v1/namespaces/a/pods/p/binding'), 'create');
    assert.equal(code('PUT', '/api/v1/namespaces/a/pods/p'), 'update');
    assert.equal(code('PUT', '/api/v1/namespaces/a/status'), 'update');
    assert.equal(code('DELETE', '/api/v1/namespaces/a/pods'), 'deletecollection');
    assert.equal(code('POST', '/api/v1/namespaces/a/pods/p'), 405);
    assert.equal(code('POST', '/api/v1/namespaces/a'), 405);
    assert.equal(code('PUT', '/api/v1/namespaces/a/pods'), 405);
    assert.equal(code('PATCH', '/apis/apps/v1/deployments'), 405);
    assert.equal(code('OPTIONS', '/api/v1/pods'), 405);
  });

  it('answers 400 to dot segments and encoded slashes instead of resolving them (".../services/.." is no namespace)', () => {
    for (const p of ['/api/v1/namespaces/a/services/..', '/api/v1/namespaces/a/pods/%2e%2e', '/api/v1/namespaces/./pods', '/api/v1/namespaces/a/pods/p%2Fstatus', '/apis/apps/v1/namespaces/a/deployments/d/scale/..']) {
      assert.equal(code('DELETE', p), 400, p);
    }
  });

  it('finds no route for paths with empty segments, instead of skipping them', () => {
    assert.equal(code('DELETE', '/api/v1/namespaces/a/pods//p'), 404);
    assert.equal(code('DELETE', '//api/v1/pods'), 404);
    assert.equal(code('GET', '/api/v1/namespaces/a/pods/'), 'list');
  });

  it('answers 400 to a path with broken percent-encoding', () => {
    assert.equal(code('GET', '/api/v1/namespaces/a/pods/%ZZ'), 400);
    assert.equal(code('GET', '/api/v1/namespaces/a/pods/%E2%82'), 400);
    assert.equal(code('GET', '/api/v1/namespaces/a/pods/caf%C3%A9'), 'get');
  });
});

describe('isWatchTarget', () => {
  it('is a watch for a /watch/ path or a watch parameter that converts to true (kube\'s boolean rule)', () => {
    for (const t of ['/api/v1/pods?watch=true', '/api/v1/pods?watch=1', '/api/v1/pods?watch=True', '/api/v1/pods?limit=1&watch', '/api/v1/pods?watch=&x=1', '/api/v1/pods?watch=%54rue', '/api/v1/watch/pods', '/apis/apps/v1/watch/namespaces/a/deployments']) {
      assert.equal(isWatchTarget(t), true, t);
    }
    for (const t of ['/api/v1/pods', '/api/v1/pods?watch=false', '/api/v1/pods?watch=FALSE&watch=true', '/api/v1/pods?watch=0', '/api/v1/pods?allowWatchBookmarks=true', '/api/v1/pods?xwatch=true', '/api/v1/namespaces/watch/pods']) {
      assert.equal(isWatchTarget(t), false, t);
    }
  });
});
