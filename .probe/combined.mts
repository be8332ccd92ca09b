import { createSecureContext } from 'node:tls';
import { createCa, generateKeyPair, signCertificate } from '/work/wt/identity/lib/x509.js';
const ca = await createCa('x');
const k = await generateKeyPair();
const cert = await signCertificate(ca, { subject: { commonName: 'a' }, publicKey: k.publicKey, usages: ['client auth'], notBefore: new Date(), notAfter: new Date(Date.now() + 1e6) });
const combined = cert.trimEnd() + '\n' + k.keyPem;
createSecureContext({ cert: combined, key: combined });
console.log('ok');
