// The built-in registry in a process of its own for bench:registry (as docker-registry runs in its own): plain HTTP,
// or HTTPS with the PEM files given, no auth; prints "listening PORT" once it serves.
import { readFileSync } from 'node:fs';
import { startRegistry } from '../../registry/server.js';

const [root, certFile, keyFile] = process.argv.slice(2);
if (!root) throw new Error('usage: registry-bench-server.ts ROOT [CERT KEY]');
const reg = await startRegistry({
  root,
  port: 0,
  host: '127.0.0.1',
  ...(certFile && keyFile ? { tls: { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') } } : {}),
});
console.log(`listening ${reg.port}`);
process.once('SIGTERM', () => void reg.close().then(() => process.exit(0)));
