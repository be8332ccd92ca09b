// A pod's sandbox for the pod executor (kubelet's kuberuntime_sandbox.go): its CRI config from the pod, listing,
// adopting a ready one (its IP), making a new one, and stopping or removing them all.
import type { Pod } from '../api/index.js';
import { POD_CIDR_ANNOTATION, type DeepPartial, type PodSandboxConfig } from './cri/index.js';
import type { SandboxSummary } from './pod-actions.js';
import { LABELS } from './pod-config.js';
import { refusePod } from './pod-security.js';
import type { PodState, PodWorkerContext } from './pod-state.js';
import type { ResolvConf } from './dns/index.js';

export function sandboxLabels(pod: Pod, nodeName: string): Record<string, string> {
  return {
    [LABELS.podUid]: pod.metadata.uid ?? '',
    [LABELS.podName]: pod.metadata.name ?? '',
    [LABELS.podNamespace]: pod.metadata.namespace ?? '',
    [LABELS.node]: nodeName,
  };
}

/** The pod's own dnsConfig as the CRI takes it (what a node without cluster DNS gives its pods). */
function ownDnsConfig(pod: Pod): ResolvConf | undefined {
  const dns = pod.spec.dnsConfig;
  return dns ? { nameservers: dns.nameservers ?? [], searches: dns.searches ?? [], options: (dns.options ?? []).map((o) => (o.value ? `${o.name}:${o.value}` : (o.name ?? ''))) } : undefined;
}

/** The sandbox's CRI config; `dns` is the pod's resolv.conf (podDns()), else only its own dnsConfig. */
export function sandboxConfig(ctx: PodWorkerContext, pod: Pod, attempt: number, cidr: string | undefined, dns = ownDnsConfig(pod)): DeepPartial<PodSandboxConfig> {
  return {
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid ?? '', attempt },
    hostname: pod.spec.hostname || pod.metadata.name,
    logDirectory: ctx.logDir(pod),
    ...(dns ? { dnsConfig: { servers: dns.nameservers, searches: dns.searches, options: dns.options } } : {}),
    portMappings: pod.spec.containers.flatMap((c) =>
      (c.ports ?? []).filter((p) => p.hostPort).map((p) => ({ protocol: p.protocol ?? 'TCP', containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIP ?? '' })),
    ),
    labels: sandboxLabels(pod, ctx.nodeName),
    annotations: cidr ? { [POD_CIDR_ANNOTATION]: cidr } : {},
    linux: {
      sysctls: Object.fromEntries((pod.spec.securityContext?.sysctls ?? []).map((s) => [s.name, s.value])),
      securityContext: {
        namespaceOptions: {
          network: pod.spec.hostNetwork ? 'NODE' : 'POD',
          pid: pod.spec.hostPID ? 'NODE' : pod.spec.shareProcessNamespace ? 'POD' : 'CONTAINER',
          ipc: pod.spec.hostIPC ? 'NODE' : 'POD',
        },
      },
    },
  };
}

/** The pod's sandboxes in the runtime. */
export async function listSandboxes(ctx: PodWorkerContext, uid: string): Promise<SandboxSummary[]> {
  const { items } = await ctx.runtime.runtime.listPodSandbox({ filter: { labelSelector: { [LABELS.podUid]: uid } } });
  return items.map((s) => ({ id: s.id, ready: s.state === 'SANDBOX_READY', attempt: s.metadata?.attempt ?? 0 }));
}

async function learnPodIP(ctx: PodWorkerContext, state: PodState, podSandboxId: string): Promise<void> {
  const st = await ctx.runtime.runtime.podSandboxStatus({ podSandboxId });
  state.podIP = state.pod.spec.hostNetwork ? ctx.hostIP : st.status?.network?.ip || undefined;
}

/** Takes a ready sandbox as the pod's (after an agent restart, or once made): its config and the pod IP. */
export async function adoptSandbox(ctx: PodWorkerContext, state: PodState, s: SandboxSummary, cidr: string | undefined): Promise<void> {
  if (state.sandboxId === s.id && state.podIP) return;
  state.sandboxId = s.id;
  state.sandboxConfig = sandboxConfig(ctx, state.pod, s.attempt, cidr);
  await learnPodIP(ctx, state, s.id);
}

/** The pod's resolv.conf from the node's DNS settings (the kubelet's warnings become events), or its own dnsConfig. */
async function podResolvConf(ctx: PodWorkerContext, state: PodState): Promise<ResolvConf | undefined> {
  if (!ctx.network) return ownDnsConfig(state.pod);
  const { conf, warnings } = await ctx.network.podDns(state.pod);
  for (const w of warnings) void ctx.events.event(state.ref(), 'Warning', w.reason, w.message);
  return conf;
}

/** Removes the dead sandboxes and makes a new one; false (the pod waiting, an event) when the runtime refuses. */
export async function createSandbox(ctx: PodWorkerContext, state: PodState, remove: string[], attempt: number, cidr: string | undefined): Promise<boolean> {
  const rt = ctx.runtime.runtime;
  const refused = refusePod(state.pod);
  if (refused) {
    const message = `failed to create pod sandbox: ${refused}`;
    state.setWaitingAll('ContainerCreating', message);
    void ctx.events.event(state.ref(), 'Warning', 'FailedCreatePodSandBox', message);
    return false;
  }
  for (const id of remove) {
    state.log.info('removing a dead pod sandbox', { sandbox: id });
    await rt.removePodSandbox({ podSandboxId: id });
  }
  try {
    state.sandboxConfig = sandboxConfig(ctx, state.pod, attempt, cidr, await podResolvConf(ctx, state));
    const { podSandboxId } = await rt.runPodSandbox({ config: state.sandboxConfig });
    state.sandboxId = podSandboxId;
    await learnPodIP(ctx, state, podSandboxId);
    state.log.info('pod sandbox started', { sandbox: podSandboxId, ip: state.podIP });
    return true;
  } catch (err) {
    const message = `failed to create pod sandbox: ${err instanceof Error ? err.message : String(err)}`;
    state.setWaitingAll('ContainerCreating', message);
    void ctx.events.event(state.ref(), 'Warning', 'FailedCreatePodSandBox', message);
    return false;
  }
}

/** Stops (a finished pod: its network goes, its containers stay for their logs) or removes every sandbox of the pod. */
export async function stopSandboxes(ctx: PodWorkerContext, state: PodState, remove: boolean): Promise<void> {
  const rt = ctx.runtime.runtime;
  const { items } = await rt.listPodSandbox({ filter: { labelSelector: { [LABELS.podUid]: state.uid } } });
  for (const s of items) {
    if (remove) await rt.removePodSandbox({ podSandboxId: s.id });
    else if (s.state === 'SANDBOX_READY') await rt.stopPodSandbox({ podSandboxId: s.id });
  }
}
