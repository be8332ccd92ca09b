// Services, cluster DNS and the node's network end to end (issue 15): `ketch server` and two `ketch agent`s running
// real runc containers, each node in a network namespace of its own, on one L2 segment with this host (the API server
// and the registry) and an "internet" namespace that runs the nodes' upstream DNS and an HTTP server echoing who called
// (test/support/node-lab.ts). One cluster serves every case; the real kubectl drives it. The host's own network is
// never touched (checked at the end). Needs root, runc, nftables, iproute2, util-linux, perl, busybox.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { get } from 'node:http';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod, Service } from '../../api/index.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { PODS, SERVICES } from '../../client/resources.js';
import { RestClient } from '../../client/rest.js';
import { startBusyboxMirror } from '../support/local-registry.js';
import { HOST_IP, INTERNET_IP, NODE1_IP, NODE2_IP, NodeLab } from '../support/node-lab.js';
import { buildBusyboxImage, pushImage } from '../support/runtime/oci-image.js';
import { freePort, waitFor } from '../support/util.js';
import { nodeCredentialFiles } from '../support/node-credentials.js';
import { bridgeOf, Clients, removeBridgeAndDir, startKetch, type KetchProcess } from './cluster.js';

const NS = 'svc-e2e';
const NODE1 = 'svc-node-1';
const NODE2 = 'svc-node-2';
const CLUSTER_CIDR = '10.81.0.0/16';
const SERVICE_CIDR = '10.98.0.0/16';
const KUBE_DNS = '10.98.0.10';
const HOST_PORT = 18080;

// Debian's busybox-static wget crashes on -T: `timeout` bounds each request instead.

/**
 * The host's files for a "tools" image beside busybox: perl and perl-base's modules (a UDP echo server, since busybox's
 * nc has no UDP) and openssl, which busybox wget runs for https when it is there: busybox's own TLS sends no
 * signature_algorithms, so a TLS 1.2 server must sign with SHA-1, which OpenSSL 3 (the API server's, through Node)
 * refuses. Go's TLS (kube-apiserver's) accepts it; a pod talking to ketch's API server needs a real TLS client.
 */
function toolPaths(): string[] {
  const programs = ['/usr/bin/perl', '/usr/bin/openssl'];
  const libs = programs.flatMap((p) => [...execFileSync('ldd', [p], { encoding: 'utf8' }).matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map((m) => m[1]!));
  const modules = execFileSync('perl', ['-e', 'print join("\\n", @INC)'], { encoding: 'utf8' }).split('\n').filter((p) => p.endsWith('/perl-base'));
  return [...programs, ...new Set(libs), ...modules, '/usr/lib/ssl/openssl.cnf'];
}

const UDP_ECHO = `open my $f, '<', '/etc/hostname'; my $h = <$f>; chomp $h;
my $s = IO::Socket::INET->new(LocalPort => 5353, Proto => 'udp') or die "udp: $!";
while (1) { $s->recv(my $m, 512); $s->send("$h:$m"); }`;

const udpAsk = (ip: string): string =>
  `my $s = IO::Socket::INET->new(PeerAddr => '${ip}:5353', Proto => 'udp') or die; $s->send('ping'); my $r = ''; eval { local $SIG{ALRM} = sub { die }; alarm 2; $s->recv($r, 512); alarm 0 }; print $r`;

const pod = (name: string, node: string, body: string, labels: Record<string, string> = {}): string =>
  `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}, labels: ${JSON.stringify(labels)}}
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
${body}`;

const httpd = (extra = ''): string => `  containers:
  - name: web
    image: busybox:1.36
    command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /www']
    ports: [{name: http, containerPort: 8080${extra}}]
    readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, failureThreshold: 1}
`;
const sleeper = (extra = '', image = 'busybox:1.36'): string => `${extra}  containers:
  - {name: c, image: "${image}", command: [sleep, "3600"]}
`;
const udpEcho = `  containers:
  - name: echo
    image: tools:1
    command: [perl, -MIO::Socket::INET, -e]
    args:
    - |
${UDP_ECHO.split('\n').map((l) => `      ${l}`).join('\n')}
`;

const MANIFEST = [
  `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`,
  pod('web-1', NODE1, httpd(), { app: 'web' }),
  pod('web-2', NODE2, httpd(), { app: 'web' }),
  pod('db-0', NODE1, sleeper('  hostname: pod-0\n  subdomain: sub\n'), { app: 'db' }),
  pod('db-1', NODE2, sleeper('  hostname: pod-1\n  subdomain: sub\n'), { app: 'db' }),
  pod('udp-1', NODE1, udpEcho, { app: 'udp' }),
  pod('udp-2', NODE2, udpEcho, { app: 'udp' }),
  pod('client-1', NODE1, sleeper()),
  pod('client-2', NODE2, sleeper('', 'tools:1')),
  pod('nolinks', NODE1, sleeper('  enableServiceLinks: false\n')),
  pod('hp-1', NODE1, httpd(`, hostPort: ${HOST_PORT}`)),
  pod('hp-2', NODE2, httpd(`, hostPort: ${HOST_PORT}`)),
  `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ${NS}}\nspec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}\n`,
  `apiVersion: v1\nkind: Service\nmetadata: {name: web-np, namespace: ${NS}}\nspec: {type: NodePort, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}\n`,
  `apiVersion: v1\nkind: Service\nmetadata: {name: web-lb, namespace: ${NS}}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{name: http, port: 8081, targetPort: http}]}\n`,
  `apiVersion: v1\nkind: Service\nmetadata: {name: sub, namespace: ${NS}}\nspec: {clusterIP: None, selector: {app: db}, ports: [{name: http, port: 80}]}\n`,
  `apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: ${NS}}\nspec: {type: ExternalName, externalName: outside.test}\n`,
  `apiVersion: v1\nkind: Service\nmetadata: {name: udp, namespace: ${NS}}\nspec: {selector: {app: udp}, ports: [{name: echo, port: 5353, protocol: UDP, targetPort: 5353}]}\n`,
].join('---\n');

/** One GET on a connection of its own (each a new conntrack entry, so a new pick of endpoint); the body, or the error. */
function fetchOnce(url: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error:${(e as NodeJS.ErrnoException).code ?? e.message}`));
  });
}

/** One UDP datagram from a fresh socket; the answer or "timeout". */
function udpOnce(ip: string, port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve('timeout');
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m.toString());
    });
    s.send('ping', port, ip);
  });
}

/** The IPv4 addresses busybox nslookup printed for the name (not the server's). */
const nslookupAddresses = (out: string): string[] => [...out.matchAll(/^Address:\s+(\d+\.\d+\.\d+\.\d+)$/gm)].map((m) => m[1]!).sort();

describe('Services, cluster DNS and the node network (e2e: two nodes, runc, kubectl)', function () {
  this.timeout(120_000);
  const lab = new NodeLab();
  let dir: string;
  let mirror: Awaited<ReturnType<typeof startBusyboxMirror>> | undefined;
  let server: KetchProcess | undefined;
  let agent1: KetchProcess | undefined;
  let agent2: KetchProcess | undefined;
  let c: Clients;
  let rest: RestClient;
  let labUp = false;

  // Each agent runs as its node, with a serving certificate of the cluster CA for its address (the API server checks it).
  const agentArgs = async (node: string, ip: string): Promise<string[]> => [
    'agent',
    ...(await nodeCredentialFiles(join(dir, 'server'), node, [ip])).agentArgs,
    '--node-name', node,
    '--root-dir', join(dir, node),
    '--port', '0',
    '--node-ip', ip,
    '--registry-mirror', `docker.io=${mirror!.url}`,
    '--cluster-cidr', CLUSTER_CIDR,
    '--service-cluster-ip-range', SERVICE_CIDR,
    '--resolv-conf', join(dir, 'resolv.conf'),
  ];
  const startAgent1 = async (): Promise<KetchProcess> => startKetch(await agentArgs(NODE1, NODE1_IP), 'agent API on port', 120_000, false, lab.nsenter(lab.node1));
  const startAgent2 = async (): Promise<KetchProcess> => startKetch(await agentArgs(NODE2, NODE2_IP), 'agent API on port', 120_000, false, lab.nsenter(lab.node2));

  const exec = (podName: string, script: string): Promise<string> => c.kubectl('exec', '-n', NS, podName, '--', 'sh', '-c', script);
  const podIP = async (name: string): Promise<string> => (await rest.resource<Pod>(PODS).get(NS, name)).status?.podIP ?? '';
  const clusterIP = async (name: string): Promise<string> => (await rest.resource<Service>(SERVICES).get(NS, name)).spec.clusterIP ?? '';
  const tables = async (ns?: string): Promise<string> => (ns ? lab.exec(ns, ['nft', 'list', 'tables']) : execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }));
  /** What of the host's network a leak would show: its nftables tables, network namespaces and links. */
  const hostNetwork = (): { tables: string[]; netns: string[]; links: string[] } => {
    const lines = (cmd: string, args: string[]): string[] => execFileSync(cmd, args, { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    return {
      tables: lines('nft', ['list', 'tables']),
      netns: lines('ip', ['netns', 'list']).map((l) => l.split(' ')[0]!),
      links: lines('ip', ['-o', 'link']).map((l) => l.split(':')[1]!.trim().replace(/@.*/, '')),
    };
  };
  let hostBefore: ReturnType<typeof hostNetwork> | undefined;

  before(async function () {
    this.timeout(600_000);
    if (process.getuid?.() !== 0) throw new Error('these tests run containers and network namespaces and must run as root (CI does)');
    dir = mkdtempSync(join(tmpdir(), 'ketch-e2e-svc-'));
    hostBefore = hostNetwork();
    await lab.create(SERVICE_CIDR);
    labUp = true;
    await lab.startOutsideWorld();
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${INTERNET_IP}\n`);
    mirror = await startBusyboxMirror(HOST_IP);
    const tools = await buildBusyboxImage({ hostPaths: toolPaths(), cmd: ['perl', '-v'] });
    try {
      await pushImage(mirror.url, 'library/tools', '1', tools);
    } finally {
      await tools.dispose();
    }
    const port = await freePort();
    server = await startKetch(
      ['server', '--data-dir', join(dir, 'server'), '--secure-port', String(port), '--bind-address', HOST_IP, '--cluster-cidr', CLUSTER_CIDR, '--service-cluster-ip-range', SERVICE_CIDR],
      'ketch server is up',
    );
    c = new Clients(join(dir, 'server', 'admin.kubeconfig'), dir);
    rest = new RestClient(loadClientConfig({ kubeconfig: c.kubeconfig }));
    [agent1, agent2] = await Promise.all([startAgent1(), startAgent2()]);
    await c.kubectl('wait', `node/${NODE1}`, `node/${NODE2}`, '--for=condition=Ready', '--timeout=60s');
    const manifest = join(dir, 'all.yaml');
    writeFileSync(manifest, MANIFEST);
    await c.kubectl('apply', '-f', manifest);
    const ready = await c.kubectlResult(['wait', '-n', NS, 'pod', '--all', '--for=condition=Ready', '--timeout=180s'], 200_000);
    if (ready.code !== 0) {
      const pods = await c.kubectlResult(['get', 'pods', '-n', NS, '-o', 'wide']);
      const events = await c.kubectlResult(['get', 'events', '-n', NS]);
      throw new Error(`pods not Ready: ${ready.stdout}${ready.stderr}\n${pods.stdout}\n${events.stdout}\nagent 1:\n${agent1.output().slice(-3000)}\nagent 2:\n${agent2.output().slice(-3000)}`);
    }
  });

  after(async function () {
    this.timeout(180_000);
    if (server && agent1 && agent2) {
      // A case that failed half way may have left pods: the agents remove what they ran before they stop.
      await c.kubectl('delete', 'namespace', NS, '--wait=true', '--timeout=90s').catch(() => undefined);
    }
    await agent2?.stop('SIGTERM');
    await agent1?.stop('SIGTERM');
    await server?.stop('SIGTERM');
    await mirror?.stop();
    if (labUp) await lab.destroy();
    // The nodes' pod bridges went with their namespaces; this removes the dir unless something is still mounted there.
    if (dir) await removeBridgeAndDir(bridgeOf(join(dir, NODE1, 'runtime')), dir);
    if (hostBefore) {
      const now = hostNetwork();
      const added = (k: keyof typeof now): string[] => now[k].filter((x) => !hostBefore![k].includes(x));
      const left = { tables: added('tables'), netns: added('netns'), links: added('links') };
      assert.deepEqual(left, { tables: [], netns: [], links: [] }, 'the test left these on the host');
    }
  });

  it('a busybox pod fetches http://web and its full name through the ClusterIP, answered by backends on both nodes', async () => {
    for (const name of ['web', `web.${NS}.svc.cluster.local`]) {
      const out = await exec('client-1', `for i in $(seq 20); do timeout 5 wget -qO- http://${name} || echo failed; done`);
      const answers = out.trim().split('\n');
      assert.equal(answers.length, 20);
      assert.ok(!answers.includes('failed'), out);
      assert.deepEqual([...new Set(answers)].sort(), ['web-1', 'web-2'], `20 requests to http://${name} reach both nodes' backends:\n${out}`);
    }
  });

  it("pods get the cluster DNS in resolv.conf (ClusterFirst) and the services' variables unless enableServiceLinks is false", async () => {
    assert.equal(await exec('client-2', 'cat /etc/resolv.conf'), `search ${NS}.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${KUBE_DNS}\noptions ndots:5\n`);
    const webIP = await clusterIP('web');
    assert.equal(await exec('client-1', 'echo "$WEB_SERVICE_HOST $WEB_SERVICE_PORT_HTTP $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT"'), `${webIP} 80 10.98.0.1 443\n`);
    assert.equal(await exec('nolinks', 'echo "[$WEB_SERVICE_HOST] $KUBERNETES_SERVICE_HOST"'), '[] 10.98.0.1\n', "only the kubernetes service's variables");
  });

  it('names outside the cluster are forwarded to the upstream of the node; a missing one is NXDOMAIN', async () => {
    for (const client of ['client-1', 'client-2']) {
      const out = await exec(client, 'nslookup outside.test');
      assert.deepEqual(nslookupAddresses(out), [INTERNET_IP], out);
    }
    const missing = await c.kubectlResult(['exec', '-n', NS, 'client-1', '--', 'nslookup', 'nowhere.test']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stdout + missing.stderr, /NXDOMAIN|can't find/);
  });

  it('a headless Service resolves to its pod IPs, and pod-0.sub to one pod; an ExternalName to its target', async () => {
    const dbIPs = [await podIP('db-0'), await podIP('db-1')].sort();
    assert.deepEqual(nslookupAddresses(await exec('client-1', `nslookup sub.${NS}.svc.cluster.local`)), dbIPs);
    assert.deepEqual(nslookupAddresses(await exec('client-2', `nslookup pod-0.sub.${NS}.svc.cluster.local`)), [await podIP('db-0')]);
    const ext = await exec('client-1', `nslookup ext.${NS}.svc.cluster.local`);
    assert.match(ext, /canonical name = outside\.test/);
    assert.deepEqual(nslookupAddresses(ext), [INTERNET_IP]);
  });

  it('a UDP Service answers, from the host and from a pod, with backends on both nodes', async () => {
    const ip = await clusterIP('udp');
    const seen = new Set<string>();
    await waitFor(async () => {
      const a = await udpOnce(ip, 5353);
      if (a !== 'timeout') seen.add(a);
      return seen.size === 2;
    }, { timeoutMs: 30_000, intervalMs: 20, what: `answers from both UDP backends (so far: ${[...seen].join(', ')})` });
    assert.deepEqual([...seen].sort(), ['udp-1:ping', 'udp-2:ping']);
    const fromPod = await c.kubectl('exec', '-n', NS, 'udp-1', '--', 'perl', '-MIO::Socket::INET', '-e', udpAsk(ip));
    assert.match(fromPod, /^udp-[12]:ping$/);
  });

  it("NodePort and LoadBalancer answer from the host on each node's address", async () => {
    const np = (await rest.resource<Service>(SERVICES).get(NS, 'web-np')).spec.ports?.[0]?.nodePort;
    assert.ok(np);
    const lb = await waitFor(async () => {
      const ingress = (await rest.resource<Service>(SERVICES).get(NS, 'web-lb')).status?.loadBalancer?.ingress ?? [];
      const ips = ingress.map((i) => i.ip ?? '').sort();
      return ips.length === 2 ? ips : undefined;
    }, { timeoutMs: 30_000, what: 'both nodes in the LoadBalancer ingress' });
    assert.deepEqual(lb, [NODE1_IP, NODE2_IP]);
    for (const ip of [NODE1_IP, NODE2_IP]) {
      assert.match(await fetchOnce(`http://${ip}:${np}/`), /^web-[12]$/, `NodePort ${np} on ${ip}`);
      assert.match(await fetchOnce(`http://${ip}:8081/`), /^web-[12]$/, `LoadBalancer on ${ip}:8081`);
    }
  });

  it("hostPort answers on the node's address (and on node 1's loopback)", async () => {
    assert.equal(await fetchOnce(`http://${NODE1_IP}:${HOST_PORT}/`), 'hp-1');
    assert.equal(await fetchOnce(`http://${NODE2_IP}:${HOST_PORT}/`), 'hp-2');
    assert.equal((await lab.exec(lab.node1, ['timeout', '5', 'busybox', 'wget', '-qO-', `http://127.0.0.1:${HOST_PORT}/`])).trim(), 'hp-1');
    assert.equal((await exec('client-2', `timeout 5 wget -qO- http://${NODE2_IP}:${HOST_PORT}/`)).trim(), 'hp-2', 'from a pod of the same node');
  });

  it("pods' traffic to the outside leaves with their node's address (egress masquerade)", async () => {
    assert.deepEqual(JSON.parse(await exec('client-1', 'timeout 5 wget -qO- http://outside.test/')), { from: NODE1_IP });
    assert.deepEqual(JSON.parse(await exec('client-2', 'timeout 5 wget -qO- http://outside.test/')), { from: NODE2_IP });
  });

  it('the kubernetes Service reaches the API server from a pod, with the pod\'s service-account token', async () => {
    assert.equal(await c.kubectl('get', 'endpointslice', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.endpoints[*].addresses[*]}'), HOST_IP);
    // busybox wget runs `openssl s_client -verify_return_error -verify_hostname HOST`: the serving certificate must be
    // signed by the service account's CA and name kubernetes.default.svc.
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    const review = await exec(
      'client-2',
      `SSL_CERT_FILE=${sa}/ca.crt timeout 8 wget -qO- --header "Authorization: Bearer $(cat ${sa}/token)" --header "Content-Type: application/json" ` +
        `--post-data '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' https://kubernetes.default.svc/apis/authentication.k8s.io/v1/selfsubjectreviews`,
    );
    const user = (JSON.parse(review) as { status?: { userInfo?: { username?: string } } }).status?.userInfo?.username;
    assert.equal(user, `system:serviceaccount:${NS}:default`);
  });

  it('kubectl: get endpointslices, describe svc (and ketch describe), expose, port-forward svc/NAME', async () => {
    const [ip1, ip2] = [await podIP('web-1'), await podIP('web-2')];
    const slices = await c.kubectl('get', 'endpointslices', '-n', NS, '-l', 'kubernetes.io/service-name=web');
    assert.match(slices, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE\n/);
    assert.match(slices, /\nweb-\S+\s+IPv4\s+8080\s+\S+/);
    for (const ip of [ip1, ip2]) assert.ok(slices.includes(ip), slices);
    const endpoints = [`${ip1}:8080`, `${ip2}:8080`].sort();
    const endpointsLine = (text: string): string[] => (/^Endpoints:\s+(\S+)$/m.exec(text)?.[1] ?? '').split(',').sort();
    const described = await c.kubectl('describe', 'svc', 'web', '-n', NS);
    assert.deepEqual(endpointsLine(described), endpoints, described);
    const ours = await c.ketch('describe', 'svc', 'web', '-n', NS);
    assert.deepEqual(endpointsLine(ours), endpoints, ours);
    for (const line of ['Type:', 'IP Family Policy:', 'IP Families:', 'IP:', 'IPs:', 'Port:', 'TargetPort:', 'Session Affinity:', 'Internal Traffic Policy:']) {
      const theirs = described.split('\n').find((l) => l.startsWith(line));
      assert.equal(ours.split('\n').find((l) => l.startsWith(line))?.replace(/\s+/g, ' '), theirs?.replace(/\s+/g, ' '), `${line} as kubectl prints it`);
    }

    await c.kubectl('expose', 'pod', 'web-1', '-n', NS, '--name', 'web-exposed', '--port', '80', '--target-port', '8080');
    assert.match((await exec('client-2', 'timeout 5 wget -qO- http://web-exposed')).trim(), /^web-[12]$/);

    const pf = c.spawnKubectl(['port-forward', '-n', NS, 'svc/web', ':80']);
    try {
      const m = await waitFor(() => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(pf.output()) ?? undefined, { timeoutMs: 30_000, what: `kubectl port-forward svc/web (got: ${JSON.stringify(pf.output())})` });
      assert.match(await fetchOnce(`http://127.0.0.1:${m[1]}/`, 10_000), /^web-[12]$/);
    } finally {
      pf.proc.kill('SIGTERM');
    }
  });

  it('a pod taken out of readiness stops receiving traffic within 2 s', async () => {
    const pods = rest.resource<Pod>(PODS);
    const url = `http://${await clusterIP('web')}/`;
    const answers: Array<{ at: number; name: string }> = [];
    let stop = false;
    const load = (async () => {
      while (!stop) answers.push({ at: Date.now(), name: await fetchOnce(url, 1000) });
    })();
    try {
      await waitFor(() => answers.some((a) => a.name === 'web-2'), { timeoutMs: 10_000, what: 'web-2 answering before the test' });
      const removed = Date.now();
      await exec('web-2', 'rm /tmp/ready');
      const notReady = await waitFor(async () => {
        const p = await pods.get(NS, 'web-2');
        return p.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'False' ? Date.now() : undefined;
      }, { timeoutMs: 15_000, intervalMs: 25, what: 'web-2 Ready=False' });
      // Traffic has stopped once 3 s passed (and 20 answers came) without web-2 among them.
      await waitFor(() => {
        const last = answers.filter((a) => a.name === 'web-2').at(-1)?.at ?? 0;
        return Date.now() - last > 3000 && answers.filter((a) => a.at > last).length >= 20;
      }, { timeoutMs: 30_000, what: 'web-2 to stop answering' });
      const lastWeb2 = answers.filter((a) => a.name === 'web-2').at(-1)!.at;
      const errors = answers.filter((a) => a.at >= removed && a.name.startsWith('error'));
      assert.ok(lastWeb2 - notReady < 2000, `the last answer from web-2 came ${lastWeb2 - notReady} ms after it turned Ready=False (${lastWeb2 - removed} ms after its probe file went)`);
      assert.deepEqual(errors, [], 'web-1 answered every other request');
    } finally {
      stop = true;
      await load;
      await exec('web-2', 'touch /tmp/ready');
    }
    await c.kubectl('wait', '-n', NS, 'pod/web-2', '--for=condition=Ready', '--timeout=30s');
  });

  it('an agent killed with SIGKILL and started again replaces the rules the dead one left', async () => {
    assert.equal(await agent1!.stop('SIGKILL'), null);
    // Left behind, and now stale: the LoadBalancer Service goes and a new Service comes while node 1 has no agent.
    assert.match(await tables(lab.node1), /table ip ketch-proxy/);
    await c.kubectl('delete', 'svc', 'web-lb', '-n', NS);
    await c.kubectl('label', 'pod', 'web-1', '-n', NS, 'late=yes');
    writeFileSync(join(dir, 'late.yaml'), `apiVersion: v1\nkind: Service\nmetadata: {name: late, namespace: ${NS}}\nspec: {selector: {late: "yes"}, ports: [{port: 80, targetPort: 8080}]}\n`);
    await c.kubectl('apply', '-f', join(dir, 'late.yaml'));
    agent1 = await startAgent1();
    const lateIP = await clusterIP('late');
    await waitFor(async () => (await fetchOnce(`http://${lateIP}/`)) === 'web-1', { timeoutMs: 30_000, what: 'the new Service programmed by the new agent' });
    const map = await lab.exec(lab.node1, ['nft', 'list', 'map', 'ip', 'ketch-proxy', 'service-ips']);
    assert.doesNotMatch(map, /\. 8081 :/, 'the deleted LoadBalancer rules are gone');
    assert.equal((await tables(lab.node1)).match(/table ip ketch-proxy/g)?.length, 1);
    assert.match(await fetchOnce(`http://${await clusterIP('web')}/`), /^web-[12]$/);
  });

  it('stopping the agents removes their nftables tables and kube-dns endpoints; nothing of the pods stays', async () => {
    const sandboxes = (): string[] => [NODE1, NODE2].flatMap((node) => readdirSync(join(dir, node, 'runtime', 'sandboxes')));
    const seen = sandboxes();
    assert.ok(seen.length >= 11, `one sandbox per pod (${seen.length})`);
    await c.kubectl('delete', 'namespace', NS, '--wait=true', '--timeout=90s');
    await waitFor(() => sandboxes().length === 0, { timeoutMs: 60_000, what: 'every sandbox removed' });
    for (const ns of [lab.node1, lab.node2]) assert.doesNotMatch(await tables(ns), /-hostports/, 'the hostPort table went with the last hostPort pod');
    assert.equal(await agent2!.stop('SIGTERM'), 0, agent2!.output());
    assert.equal(await agent1!.stop('SIGTERM'), 0, agent1!.output());
    agent1 = agent2 = undefined;
    for (const ns of [lab.node1, lab.node2]) assert.doesNotMatch(await tables(ns), /ketch-proxy|-hostports/, `tables left in ${ns}`);
    assert.equal(await c.kubectl('get', 'endpointslices', '-n', 'kube-system', '-l', 'kubernetes.io/service-name=kube-dns', '-o', 'name'), '');
    const netns = new Set(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]));
    assert.deepEqual(seen.filter((id) => netns.has(`ketch-${id.slice(0, 12)}`)), [], 'no pod network namespace left');
  });
});
