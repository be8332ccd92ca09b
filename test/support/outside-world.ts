// "The internet" for network e2e tests, run in a network namespace of its own (nsenter --net=... node --import tsx
// this file ADDRESS): a DNS server on port 53 that knows `outside.test` (at ADDRESS) and nothing else, as the upstream
// the nodes forward to, and an HTTP server on port 80 that answers with the address it saw the request come from.
import { createServer } from 'node:http';
import { startTestUpstream } from '../../agent/dns/testing/upstream.js';

export const OUTSIDE_NAME = 'outside.test';

const address = process.argv[2];
if (!address) throw new Error('usage: outside-world.ts ADDRESS');
const dns = await startTestUpstream(
  (q) => {
    const question = q.questions?.[0];
    if (question?.name.toLowerCase() !== OUTSIDE_NAME) return { flags: 3 }; // NXDOMAIN: this internet has one name
    // An IPv4 address only: other types get an empty answer (NODATA).
    return { answers: question.type === 'A' ? [{ name: OUTSIDE_NAME, type: 'A', class: 'IN', ttl: 30, data: address }] : [] };
  },
  { address, port: 53 },
);
const http = createServer((req, res) => res.end(JSON.stringify({ from: req.socket.remoteAddress?.replace(/^::ffff:/, '') })));
await new Promise<void>((resolve) => http.listen(80, address, resolve));
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  http.close();
  void dns.close().then(() => process.exit(0));
});
