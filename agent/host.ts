// What the agent reads from its host: capacity, addresses, system info and the pressure signals.
import { readFile, statfs } from 'node:fs/promises';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import { primaryIPv4 } from '../lib/ipv4.js';
import type { NodeAddress, NodeSystemInfo } from '../api/index.js';

export interface HostCapacity {
  cpu: string;
  memory: string;
  pods: string;
  'ephemeral-storage': string;
}

/** Capacity as Kubernetes quantities: cpu cores, memory in Ki, ephemeral-storage of the filesystem holding rootDir. */
export async function hostCapacity(rootDir: string, maxPods = 110): Promise<HostCapacity> {
  const fs = await statfs(rootDir);
  return {
    cpu: String(cpus().length),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: String(maxPods),
    'ephemeral-storage': `${Math.floor((fs.blocks * fs.bsize) / 1024)}Ki`,
  };
}

export { primaryIPv4 };

export function hostAddresses(address?: string): NodeAddress[] {
  return [
    { type: 'InternalIP', address: address ?? primaryIPv4() },
    { type: 'Hostname', address: hostname() },
  ];
}

const readTrim = (p: string): Promise<string> => readFile(p, 'utf8').then((s) => s.trim(), () => '');

export async function systemInfo(runtimeVersion: string, kubeletVersion: string): Promise<NodeSystemInfo> {
  const osRelease = await readTrim('/etc/os-release');
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? 'Linux';
  const machineID = await readTrim('/etc/machine-id');
  return {
    machineID,
    systemUUID: (await readTrim('/sys/class/dmi/id/product_uuid')) || machineID,
    bootID: await readTrim('/proc/sys/kernel/random/boot_id'),
    kernelVersion: release(),
    osImage: pretty,
    containerRuntimeVersion: runtimeVersion,
    kubeletVersion,
    kubeProxyVersion: '',
    operatingSystem: 'linux',
    architecture: goArch(),
  };
}

/** Node's arch names as Go (and the kubernetes.io/arch label) spell them. */
export function goArch(): string {
  const a = arch();
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

export interface Pressure {
  memory: { pressure: boolean; message: string };
  disk: { pressure: boolean; message: string };
  pid: { pressure: boolean; message: string };
}

/** Eviction-style thresholds as the kubelet's defaults: memory.available<100Mi, nodefs.available<10%, pids>90%. */
export async function hostPressure(rootDir: string): Promise<Pressure> {
  const meminfo = await readTrim('/proc/meminfo');
  const availKi = Number(/^MemAvailable:\s+(\d+)/m.exec(meminfo)?.[1] ?? Number.NaN);
  const fs = await statfs(rootDir);
  const diskFree = fs.bavail / Math.max(1, fs.blocks);
  const pidMax = Number(await readTrim('/proc/sys/kernel/pid_max')) || 32768;
  const loadavg = await readTrim('/proc/loadavg');
  const pids = Number(loadavg.split(' ')[3]?.split('/')[1] ?? 0);
  const memPressure = Number.isFinite(availKi) && availKi < 100 * 1024;
  return {
    memory: { pressure: memPressure, message: Number.isFinite(availKi) ? `${Math.floor(availKi / 1024)}Mi available` : 'unknown' },
    disk: { pressure: diskFree < 0.1, message: `${Math.round(diskFree * 100)}% of the node filesystem free` },
    pid: { pressure: pids > 0.9 * pidMax, message: `${pids} of ${pidMax} process ids in use` },
  };
}
