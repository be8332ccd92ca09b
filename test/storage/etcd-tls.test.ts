// etcd over TLS (client certificates required, peers on TLS too): a slice of the storage contract through both etcd
// clients (the HTTP/2 transport for KV and watches, etcd3 for compaction), clients that etcd or we must refuse, and
// `ketch server --etcd-cafile/--etcd-certfile/--etcd-keyfile`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import { isStorageError } from '../../apiserver/storage/interface.js';
import { runServer } from '../../cli/commands/server.js';
import { createCa } from '../../lib/x509.js';
import { makeEtcdTls, startEtcd, type EtcdServer, type EtcdTlsFiles } from '../support/etcd-server.js';
import { storageContract } from './contract.js';

describe('etcd over TLS', function () {
  this.timeout(60_000);
  let etcd: EtcdServer;
  let tls: EtcdTlsFiles;
  before(async () => {
    tls = await makeEtcdTls();
    etcd = await startEtcd({ progressIntervalMs: 200, tls });
  });
  after(async () => etcd?.stop());

  const client = (t: { ca?: string; cert?: string; key?: string }): EtcdStorage => new EtcdStorage({ endpoints: [etcd.endpoint], callTimeoutMs: 5000, tls: t });

  storageContract('etcd over TLS', {
    make: () => Promise.resolve(client({ ca: tls.ca.certPem, cert: tls.client.certPem, key: tls.client.keyPem })),
    progressMs: 200,
    sections: ['create and get', 'update (compare-and-swap)', 'list', 'watch', 'compaction'],
  });

  it('the endpoint is https, and a client without a certificate, or trusting another CA, gets no answer', async () => {
    assert.match(etcd.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    const unavailable = (err: unknown): boolean => isStorageError(err, 'Unavailable');
    const noCert = client({ ca: tls.ca.certPem });
    const otherCa = client({ ca: (await createCa('another')).certPem, cert: tls.client.certPem, key: tls.client.keyPem });
    try {
      await assert.rejects(noCert.get('/registry/x'), unavailable);
      await assert.rejects(otherCa.get('/registry/x'), unavailable);
    } finally {
      await noCert.close();
      await otherCa.close();
    }
  });

  it('ketch server stores through it with --etcd-cafile, --etcd-certfile and --etcd-keyfile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ketch-etcd-tls-'));
    const file = (name: string, pem: string): string => {
      writeFileSync(join(dir, name), pem, { mode: 0o600 });
      return join(dir, name);
    };
    const server = await runServer({
      '--data-dir': join(dir, 'server'),
      '--secure-port': '0',
      '--bind-address': '127.0.0.1',
      '--etcd-servers': etcd.endpoint,
      '--etcd-cafile': file('ca.crt', tls.ca.certPem),
      '--etcd-certfile': file('client.crt', tls.client.certPem),
      '--etcd-keyfile': file('client.key', tls.client.keyPem),
      '--disable-controller-manager': 'true',
      '--disable-scheduler': 'true',
    });
    try {
      await server.rest.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'over-tls' } } });
      const check = client({ ca: tls.ca.certPem, cert: tls.client.certPem, key: tls.client.keyPem });
      try {
        const kv = await check.get('/registry/core/namespaces/over-tls');
        assert.match(Buffer.from(kv!.value).toString(), /"name":"over-tls"/);
      } finally {
        await check.close();
      }
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
