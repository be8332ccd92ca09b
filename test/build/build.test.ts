// `ketch build` end to end: a two-stage Dockerfile with RUN steps (buildah, runc), every instruction the issue names,
// .dockerignore, the image pushed to the built-in registry and loaded into a node image store, the second build from
// the layer cache, and the image run by our runtime (runc). Needs root, buildah and runc: run under the e2e lock.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { run as exec } from '../../agent/runtime/exec.js';
import { connectRuntime, type RuntimeClient } from '../../agent/cri/index.js';
import { startRuntimeService, type RuntimeServiceHandle } from '../../agent/runtime/index.js';
import { ImageStore } from '../../agent/runtime/image-store.js';
import { pollUntil } from '../support/runtime/registry.js';
import { removeTestBridge } from '../support/runtime/bridge.js';
import { run } from '../../cli/main.js';
import { startRegistry, type RunningRegistry } from '../../registry/server.js';
import { pushBusyboxBase } from '../support/registry/base-image.js';
import { Sink } from '../cli/harness.js';

const DOCKERFILE = (base: string): string => `
ARG BASE=${base}
FROM \${BASE} AS build
ARG MESSAGE=hello
RUN mkdir -p /out && echo "$MESSAGE from stage one" > /out/greeting.txt
RUN echo second-run-step >> /out/greeting.txt
ENTRYPOINT echo entry
CMD echo stage-one

FROM \${BASE}
LABEL org.example.role=test
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY --from=build /out/greeting.txt ./greeting.txt
ADD data.txt /app/data.txt
COPY . /ctx/
EXPOSE 8080/tcp
HEALTHCHECK --interval=5s CMD test -f /app/greeting.txt
USER 65534:65534
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/greeting.txt /app/data.txt; id -u; pwd; ls /ctx"]
`;

interface DockerConfig {
  config: { Env?: string[]; WorkingDir?: string; User?: string; ExposedPorts?: Record<string, unknown>; Labels?: Record<string, string>; Entrypoint?: string[]; Cmd?: string[]; Healthcheck?: { Test?: string[]; Interval?: number } };
}

describe('ketch build (buildah) and the image it makes', function () {
  this.timeout(180_000);
  let work: string;
  let reg: RunningRegistry;
  let tag: string;
  let runtime: RuntimeServiceHandle | undefined;
  let client: RuntimeClient | undefined;

  const ketch = async (...args: string[]): Promise<{ code: number; out: string; err: string; ms: number }> => {
    const out = new Sink();
    const err = new Sink();
    const stdin = new PassThrough();
    stdin.end();
    const t0 = Date.now();
    const code = await run(args, { stdout: out, stderr: err, stdin, env: process.env });
    return { code, out: out.text, err: err.text, ms: Date.now() - t0 };
  };
  const build = (...extra: string[]): ReturnType<typeof ketch> =>
    ketch('build', '-t', tag, '--build-arg', 'MESSAGE=hey', '--insecure-registry', reg.host, '--runtime-root', join(work, 'runtime'), '--build-root', join(work, 'build'), ...extra, join(work, 'ctx'));

  before(async () => {
    if (process.getuid?.() !== 0) throw new Error('ketch build runs buildah and runc: run the test as root');
    work = await mkdtemp(join(tmpdir(), 'ketch-build-test-'));
    reg = await startRegistry({ root: join(work, 'registry'), port: 0, host: '127.0.0.1' });
    await pushBusyboxBase(reg.url, 'base/busybox', '1.36');
    tag = `${reg.host}/team/app:v1`;
    const ctx = join(work, 'ctx');
    await exec('mkdir', ['-p', ctx]);
    await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE(`${reg.host}/base/busybox:1.36`));
    await writeFile(join(ctx, 'data.txt'), 'data from the context\n');
    await writeFile(join(ctx, 'secret.txt'), 'must not reach the image\n');
    await writeFile(join(ctx, 'debug.log'), 'nor this\n');
    await writeFile(join(ctx, '.dockerignore'), 'secret.txt\n*.log\n');
  });
  after(async () => {
    if (client && runtime) {
      const { items } = await client.runtime.listPodSandbox({});
      for (const s of items) await client.runtime.removePodSandbox({ podSandboxId: s.id });
    }
    client?.close();
    await runtime?.close();
    await removeTestBridge('ketchbld0');
    await reg?.close();
    // buildah's overlay storage may hold mounts of its own: let it remove them first.
    await exec('buildah', ['--root', join(work, 'build', 'storage'), '--runroot', join(work, 'build', 'run'), 'rm', '--all'], { allowFailure: true });
    await exec('sh', ['-c', `grep -o ' ${work}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l`], { allowFailure: true });
    await rm(work, { recursive: true, force: true });
  });

  it('builds a two-stage Dockerfile, pushes it and loads it into the node image store', async () => {
    const r = await build('--push');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`pushed ${tag.replace(/[.:/]/g, '\\$&')}@sha256:[a-f0-9]{64}`));
    assert.match(r.out, /loaded /);
    const manifest = await fetch(`${reg.url}/v2/team/app/manifests/v1`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(manifest.status, 200);
    const m = (await manifest.json()) as { config: { digest: string } };
    const config = (await (await fetch(`${reg.url}/v2/team/app/blobs/${m.config.digest}`)).json()) as DockerConfig;
    const c = config.config;
    assert.ok(c.Env?.includes('APP_HOME=/app'));
    assert.equal(c.WorkingDir, '/app');
    assert.equal(c.User, '65534:65534');
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['8080/tcp']);
    assert.equal(c.Labels?.['org.example.role'], 'test');
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(c.Cmd, ['cat /app/greeting.txt /app/data.txt; id -u; pwd; ls /ctx']);
    assert.deepEqual(c.Healthcheck?.Test, ['CMD-SHELL', 'test -f /app/greeting.txt']);
    assert.equal(c.Healthcheck?.Interval, 5e9);
    const store = new ImageStore(join(work, 'runtime'), { insecureRegistries: [], mirrors: {} });
    await store.init();
    const record = await store.find(tag);
    assert.ok(record, 'the image is in the node image store');
    assert.equal(record.id, m.config.digest);
  });

  it('serves an unchanged second build from the cache', async () => {
    const first = await build();
    assert.equal(first.code, 0, first.err);
    const second = await build();
    assert.equal(second.code, 0, second.err);
    assert.equal((second.err.match(/Using cache/g) ?? []).length >= 5, true, second.err);
    // Every RUN step is followed by buildah's cache hit rather than by running it.
    const steps = second.err.split('\n');
    const runs = steps.flatMap((l, i) => (/STEP \d+\/\d+: RUN /.test(l) ? [steps[i + 1] ?? ''] : []));
    assert.equal(runs.length, 2, second.err);
    for (const next of runs) assert.match(next, /Using cache/);
    assert.equal(/built (\w+)/.exec(second.out)?.[1], /built (\w+)/.exec(first.out)?.[1]);
  });

  it('builds a --target stage with shell-form ENTRYPOINT and CMD', async () => {
    const r = await ketch('build', '-t', `${reg.host}/team/app:stage`, '--target', 'build', '--insecure-registry', reg.host, '--build-root', join(work, 'build'), '--push', '--no-load', join(work, 'ctx'));
    assert.equal(r.code, 0, r.err);
    const m = (await (await fetch(`${reg.url}/v2/team/app/manifests/stage`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).json()) as { config: { digest: string } };
    const c = ((await (await fetch(`${reg.url}/v2/team/app/blobs/${m.config.digest}`)).json()) as DockerConfig).config;
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', 'echo entry']);
    assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo stage-one']);
  });

  it('runs: our runtime starts the image from the node store in runc', async () => {
    const root = join(work, 'runtime');
    const listen = `unix://${join(work, 'cri.sock')}`;
    runtime = await startRuntimeService({ root, listen, bridge: 'ketchbld0' });
    client = connectRuntime(listen, { timeoutMs: 60_000 });
    const sandboxConfig = { metadata: { name: 'built', namespace: 'default', uid: 'uid-built', attempt: 0 }, hostname: 'built', logDirectory: join(work, 'logs'), linux: {} };
    const { podSandboxId } = await client.runtime.runPodSandbox({ config: sandboxConfig });
    const { containerId } = await client.runtime.createContainer({ podSandboxId, config: { metadata: { name: 'app' }, image: { image: tag }, logPath: 'app.log' }, sandboxConfig });
    await client.runtime.startContainer({ containerId });
    const status = await pollUntil('the container to exit', async () => {
      const { status: s } = await client!.runtime.containerStatus({ containerId });
      return s?.state === 'CONTAINER_EXITED' ? s : undefined;
    }, 30_000);
    const log = await readFile(status.logPath, 'utf8');
    assert.equal(status.exitCode, 0, log);
    const lines = log.split('\n').map((l) => l.split(' ').slice(3).join(' ')).filter(Boolean);
    assert.deepEqual(lines.slice(0, 6), ['hey from stage one', 'second-run-step', 'data from the context', '65534', '/app', 'Dockerfile']);
    assert.ok(lines.includes('data.txt'));
    assert.ok(!lines.includes('secret.txt') && !lines.includes('debug.log'), `.dockerignore: ${lines.join(', ')}`);
  });
});
