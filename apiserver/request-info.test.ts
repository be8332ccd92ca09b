import { strict as assert } from 'node:assert';
import { splitTarget } from './request-info.js';

describe('splitTarget', () => {
  it('gives the path and query that WHATWG URL parsing gives', () => {
    for (const t of [
      '/api/v1/namespaces/a/pods?labelSelector=app%3Dweb,tier!=db&limit=5',
      '/api/v1/nodes/n1.example.com',
      '/api/v1/namespaces/a/pods/x?',
      '/api/v1/namespaces/a/pods?q=a b&r=1+2&s=x?y',
      "/api/v1/a/b'c/d(e)",
      '/api/v1/a//b',
      '/api/v1/a/./b',
      '/api/v1/a/../b',
      '/api/v1/a/..',
      '/api/v1/a/%2e%2e/b',
      '/api/v1/a b/c',
      '/api/v1/a\\b',
      '/api/v1/ä',
      '/api/v1/a#frag?x=1',
    ]) {
      const url = new URL(t, 'https://localhost');
      const got = splitTarget(t);
      assert.equal(got.pathname, url.pathname, t);
      assert.equal(got.query.toString(), url.searchParams.toString(), t);
    }
  });
});
