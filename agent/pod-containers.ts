// One container's runtime steps for the pod executor (kubelet's kuberuntime_container.go and image manager): pull
// its image as the pull policy says, create and start it, run its lifecycle hooks, stop it.
import { join } from 'node:path';
import { defaultPullPolicy, type Container, type LifecycleHandler, type Secret } from '../api/index.js';
import { ContainerConfigError, containerConfig, containerEnv, containerMounts, type ObjectCache } from './pod-config.js';
import type { ContainerToStart } from './pod-actions.js';
import { containerSecurity, type ImageUser, verifyRunAsNonRoot } from './pod-security.js';
import { Keyring } from './pull-secrets.js';
import { SUBPATHS_DIR, bindSubPath } from './subpath.js';
import { readOnlyVolumes } from './volume-files.js';
import type { PodState, PodWorkerContext } from './pod-state.js';
import { runProbe, type ProbeResult } from './probes.js';
import { reportPullProgress } from './pull-progress.js';

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs a command in a container for probes and hooks: exit code and combined output. */
export async function execSync(ctx: PodWorkerContext, containerId: string, cmd: string[], timeoutSec: number): Promise<{ exitCode: number; output: string }> {
  const r = await ctx.runtime.runtime.execSync({ containerId, cmd, timeout: timeoutSec }, { timeoutMs: (timeoutSec + 5) * 1000 });
  return { exitCode: r.exitCode, output: Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)]).toString('utf8') };
}

/** A postStart or preStop hook: exec, httpGet, tcpSocket (as a probe would run it) or sleep. */
export async function runHook(ctx: PodWorkerContext, state: PodState, h: LifecycleHandler, containerId: string, c: Container, timeoutSec: number): Promise<ProbeResult> {
  if (h.sleep) {
    await ctx.clock.sleep(Math.min(Number(h.sleep.seconds ?? 0), timeoutSec) * 1000);
    return { ok: true, message: '' };
  }
  const target = { containerId, container: c, host: state.podIP ?? ctx.hostIP, exec: (id: string, cmd: string[], t: number) => execSync(ctx, id, cmd, t) };
  return runProbe({ ...(h.exec ? { exec: h.exec } : {}), ...(h.httpGet ? { httpGet: h.httpGet } : {}), ...(h.tcpSocket ? { tcpSocket: h.tcpSocket } : {}), timeoutSeconds: Math.max(1, timeoutSec) }, target);
}

/** Stops a container: SIGTERM, then SIGKILL after the grace period (the runtime's StopContainer). */
export async function killContainer(ctx: PodWorkerContext, state: PodState, containerId: string, graceSec: number): Promise<void> {
  await ctx.runtime.runtime
    .stopContainer({ containerId, timeout: Math.max(0, Math.ceil(graceSec)) }, { timeoutMs: (graceSec + 60) * 1000 })
    .catch((err: unknown) => state.log.warn('stopping a container failed', { container: containerId, error: String(err) }));
}

const userOf = (image: { uid?: { value: string | number } | null; username: string }): ImageUser => ({
  ...(image.uid ? { uid: Number(image.uid.value) } : {}),
  username: image.username,
});

/**
 * Pulls the image as imagePullPolicy says; on failure the container waits in ErrImagePull / ImagePullBackOff. Returns
 * the image's user (for runAsNonRoot), or undefined when there is no image to run.
 */
async function ensureImage(ctx: PodWorkerContext, state: PodState, c: Container, objects: ObjectCache): Promise<ImageUser | undefined> {
  const img = ctx.runtime.image;
  const policy = c.imagePullPolicy ?? defaultPullPolicy(c.image);
  const present = (await img.imageStatus({ image: { image: c.image } })).image;
  if (policy === 'Never') {
    if (present) return userOf(present);
    state.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: `Container image "${c.image}" is not present with pull policy of Never` });
    return undefined;
  }
  if (policy === 'IfNotPresent' && present) return userOf(present);
  const key = `${state.uid}/pull/${c.name}`;
  if (ctx.backoff.check(key)) {
    state.waiting.set(c.name, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` });
    return undefined;
  }
  void ctx.events.event(state.ref(), 'Normal', 'Pulling', `Pulling image "${c.image}"`);
  const progress = reportPullProgress({ ...ctx, log: state.log }, state.ref(), c.image);
  try {
    const started = ctx.clock.now();
    await pullWithSecrets(ctx, state, c, objects).finally(() => progress.cancel());
    ctx.backoff.reset(key);
    void ctx.events.event(state.ref(), 'Normal', 'Pulled', `Successfully pulled image "${c.image}" in ${ctx.clock.now() - started}ms`);
    const pulled = (await img.imageStatus({ image: { image: c.image } })).image;
    return pulled ? userOf(pulled) : { username: '' };
  } catch (err) {
    ctx.backoff.next(key);
    const message = `Failed to pull image "${c.image}": ${errorText(err)}`;
    state.waiting.set(c.name, { reason: 'ErrImagePull', message });
    void ctx.events.event(state.ref(), 'Warning', 'Failed', message);
    return undefined;
  }
}

/** The pod's pull secrets that exist; a missing one is noted and skipped, as kubelet does. */
async function pullSecrets(state: PodState, objects: ObjectCache): Promise<Secret[]> {
  const out: Secret[] = [];
  for (const ref of state.pod.spec.imagePullSecrets ?? []) {
    const s = await objects.secret(ref.name ?? '');
    if (s) out.push(s);
    else state.log.warn('image pull secret not found, pulling without it', { secret: ref.name });
  }
  return out;
}

/** Pulls with each matching credential of the pod's pull secrets in turn (anonymously when none matches). */
async function pullWithSecrets(ctx: PodWorkerContext, state: PodState, c: Container, objects: ObjectCache): Promise<void> {
  const creds = new Keyring(await pullSecrets(state, objects)).lookup(c.image);
  let last: unknown;
  for (const auth of creds.length ? creds : [undefined]) {
    try {
      await ctx.runtime.image.pullImage({ image: { image: c.image }, ...(auth ? { auth } : {}), sandboxConfig: state.sandboxConfig ?? null });
      return;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Created but never started (an earlier pass failed half way): start it now. */
async function startCreated(ctx: PodWorkerContext, state: PodState, c: Container, containerId: string): Promise<void> {
  try {
    await ctx.runtime.runtime.startContainer({ containerId });
    state.waiting.delete(c.name);
  } catch (err) {
    state.waiting.set(c.name, { reason: 'RunContainerError', message: errorText(err) });
    // A container that will not start is removed, so that the next pass creates a new one instead of retrying it forever.
    await ctx.runtime.runtime.removeContainer({ containerId }).catch((e: unknown) => state.log.warn('container not removed', { container: c.name, error: String(e) }));
  }
}

/** Creates and starts a container (image first, postStart hook after); a failure leaves it waiting with the reason. */
export async function startContainer(ctx: PodWorkerContext, state: PodState, a: ContainerToStart, objects: ObjectCache, volumes: Map<string, string>): Promise<void> {
  const c = a.container;
  if (a.createdId) return startCreated(ctx, state, c, a.createdId);
  if (!state.sandboxId) return;
  if (a.backOffKey) ctx.backoff.next(a.backOffKey);
  const imageUser = await ensureImage(ctx, state, c, objects);
  if (!imageUser) return;
  const rt = ctx.runtime.runtime;
  let containerId: string;
  try {
    verifyRunAsNonRoot(state.pod, c, imageUser);
    const security = containerSecurity(state.pod, c, ctx.security);
    const serviceEnv = await ctx.network?.serviceEnv(state.pod);
    const env = await containerEnv(c, { pod: state.pod, hostIP: ctx.hostIP, podIP: state.podIP ?? '', objects, hostCapacity: ctx.hostCapacity, ...(serviceEnv ? { serviceEnv } : {}) });
    const subpaths = join(ctx.volumes.podDir(state.uid), 'volumes', SUBPATHS_DIR);
    const mounts = await containerMounts(c, volumes, env, {
      readOnly: readOnlyVolumes(state.pod),
      bindSubPath: (volume, base, sub, i) => bindSubPath(base, sub, join(subpaths, volume, c.name, String(i))),
    });
    const config = containerConfig({ pod: state.pod, container: c, kind: a.kind, attempt: a.attempt, env, mounts, security });
    ({ containerId } = await rt.createContainer({ podSandboxId: state.sandboxId, config, sandboxConfig: state.sandboxConfig ?? null }));
  } catch (err) {
    const reason = err instanceof ContainerConfigError ? 'CreateContainerConfigError' : 'CreateContainerError';
    state.waiting.set(c.name, { reason, message: errorText(err) });
    void ctx.events.event(state.ref(), 'Warning', 'Failed', `Error: ${errorText(err)}`);
    return;
  }
  void ctx.events.event(state.ref(), 'Normal', 'Created', `Created container ${c.name}`);
  try {
    await rt.startContainer({ containerId });
  } catch (err) {
    state.waiting.set(c.name, { reason: 'RunContainerError', message: errorText(err) });
    void ctx.events.event(state.ref(), 'Warning', 'Failed', `Error: ${errorText(err)}`);
    return;
  }
  state.waiting.delete(c.name);
  state.log.info('container started', { container: c.name, attempt: a.attempt, id: containerId.slice(0, 12) });
  void ctx.events.event(state.ref(), 'Normal', 'Started', `Started container ${c.name}`);
  if (c.lifecycle?.postStart) {
    const r = await runHook(ctx, state, c.lifecycle.postStart, containerId, c, 30);
    if (!r.ok) {
      void ctx.events.event(state.ref(), 'Warning', 'FailedPostStartHook', r.message);
      await killContainer(ctx, state, containerId, 0);
    }
  }
}
