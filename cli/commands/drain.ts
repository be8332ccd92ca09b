// `ketch drain NODE`: cordon it, then evict its pods (honouring their grace periods and disruption budgets) and wait
// for them to go; DaemonSet pods, unmanaged pods and pods with local data need --ignore-daemonsets, --force and
// --delete-emptydir-data.
import type { Command } from 'commander';
import { setTimeout as delay } from 'node:timers/promises';
import { isNotFound, isTooManyRequests } from '../../api/errors.js';
import type { ObjectLike } from '../../client/rest.js';
import { cliOf, type Cli } from '../context.js';
import { CliError } from '../errors.js';
import { dryRunSuffix, parseDryRun, parseDuration } from '../flags.js';
import { pollUntil, progress } from '../wait-util.js';
import { setUnschedulable } from './cordon.js';

interface DrainFlags {
  ignoreDaemonsets?: boolean;
  deleteEmptydirData?: boolean;
  force?: boolean;
  gracePeriod: string;
  timeout: string;
  disableEviction?: boolean;
  podSelector?: string;
  selector?: string;
  dryRun?: string | boolean;
  skipWaitForDeleteTimeout: string;
}

type Pod = ObjectLike & {
  metadata?: ObjectLike['metadata'] & { ownerReferences?: { kind?: string; controller?: boolean; name?: string }[] };
  spec?: { volumes?: { emptyDir?: unknown }[] };
  status?: { phase?: string };
};

export function register(program: Command): void {
  program
    .command('drain')
    .description('cordon a node and evict its pods, ready for maintenance')
    .argument('[nodes...]', 'node names')
    .option('-l, --selector <selector>', 'nodes matching this label selector')
    .option('--ignore-daemonsets', 'leave DaemonSet-managed pods')
    .option('--delete-emptydir-data', 'evict pods with emptyDir volumes (their data is lost)')
    .option('--force', 'evict pods that no controller manages (they are not recreated)')
    .option('--grace-period <seconds>', "seconds each pod gets to stop (-1: the pod's own)", '-1')
    .option('--timeout <duration>', 'give up after this long (0: never)', '0s')
    .option('--disable-eviction', 'delete instead of evicting (bypasses disruption budgets)')
    .option('--pod-selector <selector>', 'only pods matching this label selector')
    .option('--skip-wait-for-delete-timeout <seconds>', 'skip waiting for pods whose deletion is older than this', '0')
    .option('--dry-run [mode]', 'none, client or server')
    .action(async (nodes: string[], flags: DrainFlags, cmd: Command) => {
      const cli = cliOf(cmd);
      const dryRun = parseDryRun(flags.dryRun);
      const names = await setUnschedulable(cli, nodes, { ...(flags.selector ? { selector: flags.selector } : {}), ...(flags.dryRun !== undefined ? { dryRun: flags.dryRun } : {}) }, true);
      for (const node of names) {
        try {
          await drainNode(cli, node, flags, dryRun);
          cli.out(`node/${node} drained${dryRunSuffix(dryRun)}`);
        } catch (e) {
          cli.fail(new CliError(`unable to drain node "${node}" due to error: ${(e as Error).message}, continuing command...`));
        }
      }
    });
}

/** kubectl's filters: what may be evicted, what is skipped with a warning, what stops the drain. */
export function classify(pods: Pod[], f: Pick<DrainFlags, 'ignoreDaemonsets' | 'deleteEmptydirData' | 'force'>): { evict: Pod[]; warnings: string[]; errors: string[] } {
  const evict: Pod[] = [];
  const warn: Record<string, string[]> = {};
  const errs: Record<string, string[]> = {};
  const add = (m: Record<string, string[]>, k: string, p: Pod): void => void (m[k] ??= []).push(`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`);
  for (const p of pods) {
    if (p.metadata?.annotations?.['kubernetes.io/config.mirror']) continue;
    const done = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
    const ctl = p.metadata?.ownerReferences?.find((r) => r.controller);
    if (ctl?.kind === 'DaemonSet' && !done) {
      if (f.ignoreDaemonsets) add(warn, 'ignoring DaemonSet-managed Pods', p);
      else add(errs, 'cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)', p);
      continue;
    }
    if (!ctl && !done) {
      if (f.force) add(warn, 'deleting Pods that declare no controller', p);
      else {
        add(errs, 'cannot delete Pods that declare no controller (use --force to override)', p);
        continue;
      }
    }
    if ((p.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined) && !done) {
      if (f.deleteEmptydirData) add(warn, 'deleting Pods with local storage', p);
      else {
        add(errs, 'cannot delete Pods with local storage (use --delete-emptydir-data to override)', p);
        continue;
      }
    }
    evict.push(p);
  }
  const fmt = (m: Record<string, string[]>): string[] => Object.entries(m).map(([k, v]) => `${k}: ${v.join(', ')}`);
  return { evict, warnings: fmt(warn), errors: fmt(errs) };
}

async function drainNode(cli: Cli, node: string, flags: DrainFlags, dryRun: ReturnType<typeof parseDryRun>): Promise<void> {
  const list = await cli.rest.request<{ items: Pod[] }>('GET', '/api/v1/pods', { query: { fieldSelector: `spec.nodeName=${node}`, labelSelector: flags.podSelector } });
  const { evict, warnings, errors } = classify(list.items, flags);
  if (errors.length) throw new Error(errors.join(', '));
  if (warnings.length) cli.err(`Warning: ${warnings.join('; ')}`);
  const grace = Number(flags.gracePeriod);
  const timeoutMs = parseDuration(flags.timeout) || 365 * 24 * 3_600_000;
  const deadline = Date.now() + timeoutMs;
  const p = progress(cli.io);
  try {
    await Promise.all(
      evict.map(async (pod) => {
        const ns = pod.metadata?.namespace ?? '';
        const name = pod.metadata?.name ?? '';
        cli.out(`evicting pod ${ns}/${name}${dryRunSuffix(dryRun)}`);
        if (dryRun === 'client') return;
        const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
        const deleteOptions = { ...(grace >= 0 ? { gracePeriodSeconds: grace } : {}), ...(dryRun === 'server' ? { dryRun: ['All'] } : {}) };
        for (;;) {
          try {
            if (flags.disableEviction) await cli.rest.request('DELETE', path, { body: { apiVersion: 'v1', kind: 'DeleteOptions', ...deleteOptions } });
            else await cli.rest.request('POST', `${path}/eviction`, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, deleteOptions } });
            break;
          } catch (e) {
            if (isNotFound(e)) return;
            if (!isTooManyRequests(e) || Date.now() > deadline) throw e;
            cli.err(`error when evicting pods/"${name}" -n "${ns}" (will retry after 5s): ${(e as Error).message}`);
            await delay(5000);
          }
        }
        if (dryRun === 'server') return;
        p.update(`waiting for pod ${ns}/${name} to go`);
        const skipAfter = Number(flags.skipWaitForDeleteTimeout);
        const gone = await pollUntil(
          async () => {
            try {
              const cur = await cli.rest.request<Pod>('GET', path);
              if (cur.metadata?.uid !== pod.metadata?.uid) return true;
              const since = cur.metadata?.deletionTimestamp ? Date.now() - Date.parse(cur.metadata.deletionTimestamp) : 0;
              return skipAfter > 0 && since > skipAfter * 1000 ? true : undefined;
            } catch (e) {
              if (isNotFound(e)) return true;
              throw e;
            }
          },
          Math.max(0, deadline - Date.now()),
          1000,
        );
        if (!gone) throw new Error(`global timeout reached: ${flags.timeout}`);
        cli.out(`pod/${name} evicted`);
      }),
    );
  } finally {
    p.done();
  }
}
