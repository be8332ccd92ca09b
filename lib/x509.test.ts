import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createCa, createCsr, generateKeyPair, parseCsr, publicKeyPin, signCertificate, signedBy, subjectAltNames, validity } from './x509.js';

describe('lib/x509', () => {
  it('a request made here is read back, signed by the CA with the usages and SANs asked for', async () => {
    const ca = await createCa('test-ca');
    const keys = await generateKeyPair();
    const pem = await createCsr(keys, { commonName: 'system:node:n1', organizations: ['system:nodes'] }, { dns: ['n1'], ips: ['10.0.0.5'] });
    const csr = await parseCsr(pem);
    assert.equal(csr.commonName, 'system:node:n1');
    assert.deepEqual(csr.organizations, ['system:nodes']);
    assert.deepEqual([csr.dns, csr.ips, csr.emails, csr.uris], [['n1'], ['10.0.0.5'], [], []]);
    assert.equal(csr.signatureValid, true);
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(Date.now() + 3600_000);
    const certPem = await signCertificate(ca, {
      subject: { commonName: csr.commonName, organizations: csr.organizations },
      publicKey: csr.publicKey,
      usages: ['digital signature', 'server auth'],
      dns: csr.dns,
      ips: csr.ips,
      notBefore,
      notAfter,
    });
    assert.ok(signedBy(certPem, ca.certPem));
    assert.ok(!signedBy(certPem, (await createCa('other')).certPem));
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subject, 'CN=system:node:n1\nO=system:nodes');
    assert.equal(cert.ca, false);
    assert.deepEqual(subjectAltNames(certPem), { dns: ['n1'], ips: ['10.0.0.5'] });
    assert.equal(Math.floor(validity(certPem).notAfter.getTime() / 1000), Math.floor(notAfter.getTime() / 1000));
    // The certificate holds the request's key: the key pair's public half.
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(keys.keyPem)));
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: certPem }).toString();
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  });

  it('reads an RSA request made by openssl, and refuses what is not one request', async () => {
    const pem = execFileSync('sh', ['-c', 'openssl req -new -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=jane/O=dev/O=ops" 2>/dev/null']).toString();
    const csr = await parseCsr(pem);
    assert.deepEqual([csr.commonName, csr.organizations, csr.signatureValid], ['jane', ['dev', 'ops'], true]);
    const ca = await createCa('test-ca');
    const certPem = await signCertificate(ca, { subject: { commonName: 'jane' }, publicKey: csr.publicKey, usages: ['client auth'], notBefore: new Date(), notAfter: new Date(Date.now() + 3600_000) });
    assert.equal(new X509Certificate(certPem).publicKey.asymmetricKeyType, 'rsa');
    await assert.rejects(parseCsr(ca.certPem), /expected one PEM block of type "CERTIFICATE REQUEST", found "CERTIFICATE"/);
    await assert.rejects(parseCsr(pem + pem), /found "CERTIFICATE REQUEST", "CERTIFICATE REQUEST"/);
    await assert.rejects(parseCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'));
  });

  it('pins the CA as kubeadm does: sha256 of the DER SubjectPublicKeyInfo', async () => {
    const ca = await createCa('test-ca');
    const der = execFileSync('sh', ['-c', 'openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum'], { input: ca.certPem }).toString();
    assert.equal(publicKeyPin(ca.certPem), `sha256:${der.split(' ')[0]}`);
  });
});
