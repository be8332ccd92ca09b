// Compose translation on files like the awesome-compose samples: what each service becomes, and what is refused.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolate, parseEnvFile } from './interpolate.js';
import { ComposeError, loadProject } from './load.js';
import { LABEL_PROJECT, LABEL_SERVICE, translate, type Plan } from './translate.js';
import type { Obj } from './volumes.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ketch-compose-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function plan(yaml: string, opts: { env?: NodeJS.ProcessEnv; profiles?: string[]; files?: Record<string, string>; namespace?: string; project?: string } = {}): Plan {
  writeFileSync(join(dir, 'compose.yaml'), yaml);
  for (const [name, text] of Object.entries(opts.files ?? {})) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const project = loadProject({ files: [], cwd: dir, env: opts.env ?? {}, ...(opts.project ? { projectName: opts.project } : {}) });
  return translate(project, { profiles: opts.profiles ?? [], registry: '127.0.0.1:5443', ...(opts.namespace ? { namespace: opts.namespace } : {}) });
}

const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && (x.metadata as Obj).name === name);
  assert.ok(o, `${kind}/${name} in ${objs.map((x) => `${String(x.kind)}/${String((x.metadata as Obj).name)}`).join(', ')}`);
  return o;
};
const spec = (o: Obj): Obj => o.spec as Obj;
const container = (workload: Obj): Obj => ((spec(spec(workload).template as Obj).containers as Obj[])[0]!);

describe('compose: interpolation and env files', () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  it('expands the forms of the specification', () => {
    const e = env({ A: 'a', EMPTY: '' });
    assert.equal(interpolate('$A ${A} ${B:-def} ${EMPTY:-def} ${EMPTY-def} ${A:+alt} ${B+alt} $$A', e, 'x'), 'a a def def  alt  $A');
    assert.equal(interpolate('${B:-${A}-nested}', e, 'x'), 'a-nested');
    assert.throws(() => interpolate('${B:?B is required}', e, 'svc.image'), /svc.image: required variable B is missing a value: B is required/);
    assert.throws(() => interpolate('${EMPTY:?}', e, 'x'), /required variable EMPTY/);
    assert.equal(interpolate('${EMPTY?}', e, 'x'), '');
    assert.throws(() => interpolate('${A', e, 'x'), /invalid interpolation format/);
    assert.throws(() => interpolate('${A:-x', e, 'x'), /missing "}"/);
  });
  it('parses .env files with quotes, comments and export', () => {
    const vars = parseEnvFile('# c\nexport A=1\nB="two\\nlines" \nC=\'lit $A\'\nD=x # comment\nE=${A}-e\n', '.env', () => undefined);
    assert.deepEqual(vars, { A: '1', B: 'two\nlines', C: 'lit $A', D: 'x', E: '1-e' });
  });
});

describe('compose: translation', () => {
  it('web + redis: Deployments, headless Services by name, published ports on a LoadBalancer, .env interpolation', () => {
    const p = plan(
      `
services:
  web:
    build: ./app
    ports: ["\${WEB_PORT:-8000}:5000"]
    environment:
      REDIS_HOST: redis
      FROM_SHELL:
    depends_on: [redis]
  redis:
    image: redis:\${REDIS_TAG}
    expose: ["6379"]
    labels:
      com.example.description: "Cache for the web tier"
`,
      { files: { '.env': 'REDIS_TAG=7-alpine\n', 'app/Dockerfile': 'FROM busybox\n' }, env: { FROM_SHELL: 'shell' }, project: 'Demo' },
    );
    assert.equal(p.namespace, 'demo');
    assert.deepEqual(p.services.map((s) => [s.name, s.kind]), [['redis', 'Deployment'], ['web', 'Deployment']]);
    const web = p.services.find((s) => s.name === 'web')!;
    assert.equal(web.image, '127.0.0.1:5443/demo/web:latest');
    assert.equal(web.build?.context, join(dir, 'app'));
    assert.deepEqual(web.dependsOn, [{ service: 'redis', condition: 'service_started', required: true }]);
    assert.deepEqual(container(web.workload).env, [{ name: 'REDIS_HOST', value: 'redis' }, { name: 'FROM_SHELL', value: 'shell' }]);
    const redis = p.services.find((s) => s.name === 'redis')!;
    assert.equal(container(redis.workload).image, 'redis:7-alpine');
    assert.equal(((spec(redis.workload).template as Obj).metadata as Obj & { annotations: Obj }).annotations['com.example.description'], 'Cache for the web tier');
    const svc = find(p.shared, 'Service', 'redis');
    assert.equal(spec(svc).clusterIP, 'None');
    assert.deepEqual(spec(svc).ports, [{ name: 'p6379-tcp', port: 6379, targetPort: 6379, protocol: 'TCP' }]);
    assert.deepEqual(spec(svc).selector, { [LABEL_PROJECT]: 'demo', [LABEL_SERVICE]: 'redis' });
    const lb = find(p.shared, 'Service', 'web-published');
    assert.equal(spec(lb).type, 'LoadBalancer');
    assert.deepEqual(spec(lb).ports, [{ name: 'tcp-8000', port: 8000, targetPort: 5000, protocol: 'TCP' }]);
    for (const o of [...p.shared, ...p.services.map((s) => s.workload)]) assert.equal(((o.metadata as Obj).labels as Obj)[LABEL_PROJECT], 'demo');
  });

  it('wordpress + mysql: a StatefulSet with its claim, secrets as files, healthcheck as probes, service_healthy', () => {
    const p = plan(
      `
name: blog
services:
  db:
    image: mysql:8
    volumes: [db_data:/var/lib/mysql]
    secrets: [db_password]
    environment:
      MYSQL_PASSWORD_FILE: /run/secrets/db_password
    healthcheck:
      test: ["CMD-SHELL", "mysqladmin ping -h 127.0.0.1"]
      interval: 10s
      timeout: 5s
      retries: 5
      start_period: 30s
    restart: always
    deploy:
      resources:
        limits: { cpus: "0.5", memory: 512M }
        reservations: { memory: 256m }
  wordpress:
    image: wordpress:latest
    ports: ["80:80"]
    volumes:
      - wp_data:/var/www/html
      - ./php.ini:/usr/local/etc/php/conf.d/custom.ini:ro
    depends_on:
      db: { condition: service_healthy }
    deploy: { replicas: 2 }
volumes:
  db_data: {}
  wp_data: {}
secrets:
  db_password: { file: ./db_password.txt }
`,
      { files: { 'db_password.txt': 's3cret', 'php.ini': 'memory_limit=256M\n' } },
    );
    assert.equal(p.namespace, 'blog');
    const db = p.services.find((s) => s.name === 'db')!;
    assert.equal(db.kind, 'StatefulSet');
    assert.equal(spec(db.workload).serviceName, 'db');
    const c = container(db.workload);
    assert.deepEqual(c.readinessProbe, { exec: { command: ['/bin/sh', '-c', 'mysqladmin ping -h 127.0.0.1'] }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 5, successThreshold: 1 });
    assert.equal((c.startupProbe as Obj).failureThreshold, 11);
    assert.deepEqual(c.resources, { limits: { cpu: '500m', memory: '512Mi' }, requests: { memory: '256Mi' } });
    assert.deepEqual(c.volumeMounts, [
      { name: 'vol-db-data', mountPath: '/var/lib/mysql' },
      { name: 'secret-0', mountPath: '/run/secrets/db_password', subPath: 'content', readOnly: true },
    ]);
    assert.ok(find(p.shared, 'PersistentVolumeClaim', 'db-data'));
  });

  it('wordpress + mysql with DNS-safe names', () => {
    const p = plan(
      `
services:
  db:
    image: mysql:8
    volumes: [db-data:/var/lib/mysql]
    secrets: [db-password]
    healthcheck: { test: ["CMD", "mysqladmin", "ping"], interval: 10s }
  wordpress:
    image: wordpress:latest
    ports: ["80:80"]
    volumes: [wp-data:/var/www/html, ./php.ini:/usr/local/etc/php/conf.d/custom.ini:ro]
    depends_on: { db: { condition: service_healthy } }
    deploy: { replicas: 2 }
volumes: { db-data: {}, wp-data: {} }
secrets: { db-password: { file: ./db_password.txt } }
`,
      { files: { 'db_password.txt': 's3cret', 'php.ini': 'x=1\n' }, project: 'blog' },
    );
    assert.deepEqual(p.services.map((s) => [s.name, s.kind]), [['db', 'StatefulSet'], ['wordpress', 'Deployment']]);
    assert.deepEqual(find(p.shared, 'PersistentVolumeClaim', 'db-data').spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
    assert.deepEqual((find(p.shared, 'Secret', 'db-password') as Obj & { stringData: Obj }).stringData, { 'db_password.txt': 's3cret' });
    const wp = p.services.find((s) => s.name === 'wordpress')!;
    assert.equal(spec(wp.workload).replicas, 2);
    assert.deepEqual(spec(wp.workload).strategy, { type: 'Recreate' });
    assert.deepEqual(wp.dependsOn, [{ service: 'db', condition: 'service_healthy', required: true }]);
    const vols = spec(spec(wp.workload).template as Obj).volumes as Obj[];
    assert.deepEqual(vols[1], { name: 'bind-1', hostPath: { path: join(dir, 'php.ini'), type: 'File' } });
    assert.deepEqual((container(wp.workload).volumeMounts as Obj[])[1], { name: 'bind-1', mountPath: '/usr/local/etc/php/conf.d/custom.ini', readOnly: true });
    assert.deepEqual(container(p.services[0]!.workload).readinessProbe, { exec: { command: ['mysqladmin', 'ping'] }, periodSeconds: 10, timeoutSeconds: 30, failureThreshold: 3, successThreshold: 1 });
    assert.equal(p.shared[0]!.kind, 'Namespace');
  });

  it('a one-shot migration: a Job, waited for with service_completed_successfully; command, entrypoint, user, caps, read_only', () => {
    const p = plan(`
services:
  migrate:
    image: app:1
    entrypoint: /app/manage
    command: 'migrate --noinput "--database=main db"'
    user: "1000:1000"
    working_dir: /app
    cap_drop: [ALL]
    cap_add: [CAP_NET_BIND_SERVICE]
    read_only: true
    tmpfs: ["/tmp:size=64m"]
  app:
    image: app:1
    depends_on:
      migrate: { condition: service_completed_successfully }
    restart: unless-stopped
    stop_grace_period: 1m30s
    extra_hosts: ["host.docker.internal:10.0.0.1", "other:10.0.0.1"]
    configs: [{ source: settings, target: /etc/app/settings.toml, mode: 0440 }]
configs:
  settings: { content: "debug = false" }
`);
    assert.deepEqual(p.services.map((s) => [s.name, s.kind]), [['migrate', 'Job'], ['app', 'Deployment']]);
    const job = p.services[0]!.workload;
    assert.equal(spec(job).backoffLimit, 0);
    assert.equal(spec(spec(job).template as Obj).restartPolicy, 'Never');
    const c = container(job);
    assert.deepEqual(c.command, ['/app/manage']);
    assert.deepEqual(c.args, ['migrate', '--noinput', '--database=main db']);
    assert.deepEqual(c.securityContext, { runAsUser: 1000, runAsGroup: 1000, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] }, readOnlyRootFilesystem: true });
    assert.equal(c.workingDir, '/app');
    assert.deepEqual((spec(spec(job).template as Obj).volumes as Obj[])[0], { name: 'tmpfs-1000', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } });
    const app = p.services[1]!.workload;
    const podSpec = spec(spec(app).template as Obj);
    assert.equal(podSpec.terminationGracePeriodSeconds, 90);
    assert.deepEqual(podSpec.hostAliases, [{ ip: '10.0.0.1', hostnames: ['host.docker.internal', 'other'] }]);
    assert.deepEqual((podSpec.volumes as Obj[])[0], { name: 'config-0', configMap: { name: 'settings', items: [{ key: 'settings', path: 'content', mode: 0o440 }] } });
    assert.deepEqual(find(p.shared, 'ConfigMap', 'settings').data, { settings: 'debug = false' });
  });

  it('profiles, aliases and -n', () => {
    const yaml = `
services:
  app: { image: a, networks: { default: { aliases: [api] } }, container_name: app-main }
  debug: { image: d, profiles: [tools] }
`;
    const p = plan(yaml, { namespace: 'given' });
    assert.equal(p.namespace, 'given');
    assert.equal(p.ownNamespace, false);
    assert.ok(!p.shared.some((o) => o.kind === 'Namespace'));
    assert.deepEqual(p.services.map((s) => s.name), ['app']);
    for (const n of ['app', 'api', 'app-main']) assert.equal(spec(find(p.shared, 'Service', n)).clusterIP, 'None');
    assert.deepEqual(plan(yaml, { profiles: ['tools'] }).services.map((s) => s.name).sort(), ['app', 'debug']);
  });

  it('names every key it cannot honour, and schema errors by path', () => {
    assert.throws(
      () => plan('services:\n  a:\n    image: x\n    network_mode: host\n    ulimits: { nofile: 1024 }\n    deploy: { update_config: { parallelism: 1 } }\n'),
      (e: Error) => e instanceof ComposeError && /services\.a\.network_mode: not supported/.test(e.message) && /services\.a\.ulimits/.test(e.message) && /services\.a\.deploy\.update_config/.test(e.message),
    );
    assert.throws(() => plan('services:\n  a:\n    image: x\n    imagee: y\n'), /services\.a: additional property "imagee" is not allowed/);
    assert.throws(() => plan('services:\n  a:\n    image: x\n    ports: ["127.0.0.1:80:80"]\n'), /binding to 127.0.0.1 only is not supported/);
    assert.throws(() => plan('services:\n  a:\n    image: x\n    user: www-data\n'), /user names are not resolved/);
    assert.throws(() => plan('services:\n  my_app:\n    image: x\n'), /service name "my_app" cannot be a cluster object name/);
    assert.throws(() => plan('services:\n  a: { image: x, depends_on: [b] }\n  b: { image: y, depends_on: [a] }\n'), /cycle/);
    assert.throws(() => plan('services:\n  a: { image: x, networks: [front] }\n  b: { image: y, networks: [back] }\nnetworks: { front: {}, back: {} }\n'), /share no network/);
    assert.throws(() => plan('services:\n  a: { image: "\${TAG:?set TAG}" }\n'), /required variable TAG is missing a value: set TAG/);
  });

  it('merges override files and retypes interpolated numbers', () => {
    writeFileSync(join(dir, 'compose.override.yaml'), 'services:\n  a:\n    environment: [B=2]\n    ports: ["9000:9000"]\n');
    const p = plan('services:\n  a:\n    image: x\n    environment: { A: "1" }\n    ports: ["8000:8000"]\n    deploy: { replicas: "${N}" }\n', { env: { N: '3' } });
    const a = p.services[0]!;
    assert.equal(spec(a.workload).replicas, 3);
    assert.deepEqual(container(a.workload).env, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
    assert.deepEqual((spec(find(p.shared, 'Service', 'a-published')).ports as Obj[]).map((x) => x.port), [8000, 9000]);
  });
});
