import assert from 'node:assert/strict';
import { endpointsFor } from './registry-client.js';

describe('registry endpoints', () => {
  const opts = { insecureRegistries: ['10.0.0.5:5000'], mirrors: {} };

  it('tries a loopback registry over https first, then plain http', () => {
    assert.deepEqual(endpointsFor('127.0.0.1:5443', opts), ['https://127.0.0.1:5443', 'http://127.0.0.1:5443']);
    assert.deepEqual(endpointsFor('localhost:5000', opts), ['https://localhost:5000', 'http://localhost:5000']);
  });

  it('uses https only for other hosts, http only for a registry named insecure, and a URL as given', () => {
    assert.deepEqual(endpointsFor('registry.example:5443', opts), ['https://registry.example:5443']);
    assert.deepEqual(endpointsFor('10.0.0.5:5000', opts), ['http://10.0.0.5:5000']);
    assert.deepEqual(endpointsFor('docker.io', opts), ['https://registry-1.docker.io']);
    assert.deepEqual(endpointsFor('http://127.0.0.1:5000/', opts), ['http://127.0.0.1:5000']);
  });
});
