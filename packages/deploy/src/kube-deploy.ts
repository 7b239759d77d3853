/**
 * Target 1: set the image of named containers of workloads through the Kubernetes API, by digest,
 * with a strategic merge patch shaped as `kubectl set image` sends it (plus the change-cause), then
 * wait as `kubectl rollout status` does; on failure, say which pods fail and why, and optionally
 * restore the previous images.
 */
import { AirlockError, parseReference, repositoryName } from '@airlock/oci';
import type { KubeApi, KubeObject, WorkloadKind, WorkloadRef } from './external/kube.js';
import { RESOURCES } from './external/kube.js';
import { assertPinned, namesOf, type PinnedImage } from './images.js';
import { diagnose, waitForRollout, type PodProblem } from './rollout.js';

export interface KubeTargetSpec {
  /** As given: `deployment/app:web`. */
  input: string;
  kind: WorkloadKind;
  name: string;
  container?: string;
}

const KINDS: Record<string, WorkloadKind> = {
  deployment: 'Deployment', deployments: 'Deployment', deploy: 'Deployment',
  statefulset: 'StatefulSet', statefulsets: 'StatefulSet', sts: 'StatefulSet',
  daemonset: 'DaemonSet', daemonsets: 'DaemonSet', ds: 'DaemonSet',
  cronjob: 'CronJob', cronjobs: 'CronJob', cj: 'CronJob',
};

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Parse `KIND/NAME[:CONTAINER]` (kinds: deployment, statefulset, daemonset, cronjob, and kubectl's short names). */
export function parseKubeTarget(s: string): KubeTargetSpec {
  const m = /^([A-Za-z.]+)\/([^:/]+)(?::([^:/]+))?$/.exec(s.trim());
  const bad = (why: string) => new AirlockError('USAGE', `invalid --kube "${s}": ${why}`, { hint: 'write KIND/NAME[:CONTAINER], e.g. deployment/app or statefulset/db:postgres (kinds: deployment, statefulset, daemonset, cronjob)' });
  if (!m) throw bad('expected KIND/NAME[:CONTAINER]');
  const kind = KINDS[m[1]!.toLowerCase().replace(/\.(apps|batch)$/, '')];
  if (!kind) throw bad(`unknown kind "${m[1]}"`);
  if (!NAME_RE.test(m[2]!)) throw bad(`"${m[2]}" is not a valid object name`);
  if (m[3] !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(m[3])) throw bad(`"${m[3]}" is not a valid container name`);
  return { input: s, kind, name: m[2]!, ...(m[3] ? { container: m[3] } : {}) };
}

type Container = { name: string; image?: string };
type ListName = 'containers' | 'initContainers';

export interface ContainerChange {
  name: string;
  list: ListName;
  from: string;
  to: string;
}

function podSpecOf(kind: WorkloadKind, obj: KubeObject): Record<string, unknown> {
  const o = obj as Record<string, any>;
  const ps = kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
  if (!ps || !Array.isArray(ps.containers)) throw new AirlockError('REGISTRY', `${kind.toLowerCase()}/${String(o.metadata?.name)} has no pod template`, { hint: 'the API server answered an object without spec.template.spec.containers' });
  return ps;
}

function repoOf(image: string | undefined): string | undefined {
  if (!image) return undefined;
  try {
    return repositoryName(parseReference(image));
  } catch {
    return undefined;
  }
}

/** Which containers get which image. */
export function planChanges(t: KubeTargetSpec, obj: KubeObject, images: PinnedImage[]): ContainerChange[] {
  const ps = podSpecOf(t.kind, obj);
  const lists: Array<[ListName, Container[]]> = [
    ['containers', (ps.containers as Container[]) ?? []],
    ['initContainers', (ps.initContainers as Container[] | undefined) ?? []],
  ];
  const all = lists.flatMap(([list, cs]) => cs.map((c) => ({ list, c })));
  const names = all.map((x) => x.c.name).join(', ');
  const what = `${t.kind.toLowerCase()}/${t.name}`;
  const imageFor = (c: Container): PinnedImage | undefined => {
    const repo = repoOf(c.image);
    return repo ? images.find((i) => namesOf(i).includes(repo)) : undefined;
  };
  if (t.container) {
    const hit = all.find((x) => x.c.name === t.container);
    if (!hit) throw new AirlockError('BAD_INPUT', `${what} has no container "${t.container}"`, { hint: `its containers: ${names}` });
    const img = images.length === 1 ? images[0] : imageFor(hit.c);
    if (!img) {
      throw new AirlockError('BAD_INPUT', `${what}:${t.container}: none of the ${images.length} images is ${repoOf(hit.c.image) ?? hit.c.image}`, { hint: 'give one --image per --kube run, or images whose repository is the one the container runs' });
    }
    return [{ name: hit.c.name, list: hit.list, from: hit.c.image ?? '', to: img.pinned }];
  }
  const matched = all.flatMap(({ list, c }) => {
    const img = imageFor(c);
    return img ? [{ name: c.name, list, from: c.image ?? '', to: img.pinned }] : [];
  });
  if (matched.length) return matched;
  const only = all.length === 1 ? all[0] : undefined;
  if (images.length === 1 && only) return [{ name: only.c.name, list: only.list, from: only.c.image ?? '', to: images[0]!.pinned }];
  throw new AirlockError('BAD_INPUT', `no container of ${what} runs ${images.length === 1 ? 'the image' : 'any of the images'} (containers: ${all.map((x) => `${x.c.name}=${x.c.image}`).join(', ')})`, {
    hint: `name the container: --kube ${what}:CONTAINER`,
  });
}

export const CHANGE_CAUSE = 'kubernetes.io/change-cause';

/**
 * The strategic merge patch `kubectl set image` sends ($setElementOrder keeps the container order),
 * with the change-cause annotation `kubectl --record` wrote.
 */
export function imagePatch(kind: WorkloadKind, obj: KubeObject, changes: Array<Pick<ContainerChange, 'name' | 'list' | 'to'>>, changeCause: string): Record<string, unknown> {
  const ps = podSpecOf(kind, obj);
  const spec: Record<string, unknown> = {};
  for (const list of ['containers', 'initContainers'] as const) {
    const mine = changes.filter((c) => c.list === list);
    if (!mine.length) continue;
    spec[`$setElementOrder/${list}`] = ((ps[list] as Container[]) ?? []).map((c) => ({ name: c.name }));
    spec[list] = mine.map((c) => ({ image: c.to, name: c.name }));
  }
  const template = { spec };
  return {
    metadata: { annotations: { [CHANGE_CAUSE]: changeCause } },
    spec: kind === 'CronJob' ? { jobTemplate: { spec: { template } } } : { template },
  };
}

export type KubeStatus = 'rolled-out' | 'updated' | 'dry-run' | 'failed' | 'rolled-back' | 'rollback-failed' | 'skipped';

export interface KubeResult {
  target: string;
  kind: WorkloadKind;
  name: string;
  namespace: string;
  containers: ContainerChange[];
  patch?: Record<string, unknown>;
  status: KubeStatus;
  message: string;
  problems?: PodProblem[];
  rollback?: { status: 'rolled-out' | 'failed'; message: string; patch: Record<string, unknown> };
}

export interface KubeDeployOptions {
  namespace: string;
  dryRun: boolean;
  timeoutMs: number;
  pollMs: number;
  rollbackOnFailure: boolean;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /** Where dry-run patches are printed (stdout, unless --json). */
  printPatch?: (text: string) => void;
}

function apiPath(ref: WorkloadRef): string {
  const r = RESOURCES[ref.kind];
  return `/apis/${r.group}/${r.version}/namespaces/${ref.namespace}/${r.plural}/${ref.name}`;
}

/** Deploy to each workload in turn; the first failure stops the rest (they are reported as skipped). */
export async function deployToKube(api: KubeApi, targets: KubeTargetSpec[], images: PinnedImage[], o: KubeDeployOptions): Promise<KubeResult[]> {
  const results: KubeResult[] = [];
  let failed = false;
  for (const t of targets) {
    const ref: WorkloadRef = { kind: t.kind, name: t.name, namespace: o.namespace };
    const label = `${t.kind.toLowerCase()}/${t.name}`;
    const base = { target: t.input, kind: t.kind, name: t.name, namespace: o.namespace };
    if (failed) {
      results.push({ ...base, containers: [], status: 'skipped', message: 'not deployed: an earlier workload failed' });
      continue;
    }
    const obj = await api.getWorkload(ref);
    const changes = planChanges(t, obj, images);
    for (const c of changes) assertPinned(c.to, label);
    const cause = `airlock deploy-image ${label}: ${changes.map((c) => `${c.name}=${c.to}`).join(' ')}`;
    const patch = imagePatch(t.kind, obj, changes, cause);
    o.log.info(`${label} (namespace ${o.namespace}, ${api.server}):`);
    for (const c of changes) o.log.info(`  ${c.name}: ${c.from} → ${c.to}${c.from === c.to ? ' (unchanged)' : ''}`);
    if (o.dryRun) {
      o.printPatch?.(`PATCH ${apiPath(ref)}?fieldManager=airlock-deploy-image (application/strategic-merge-patch+json)\n${JSON.stringify(patch)}\n`);
      results.push({ ...base, containers: changes, patch, status: 'dry-run', message: 'dry run: nothing patched' });
      continue;
    }
    await api.patchWorkload(ref, patch);
    if (t.kind === 'CronJob') {
      const message = `cronjob "${t.name}" updated: the next scheduled job uses the new image`;
      o.log.info(`  ✔ ${message}`);
      results.push({ ...base, containers: changes, patch, status: 'updated', message });
      continue;
    }
    const wait = await waitForRollout(api, ref, { timeoutMs: o.timeoutMs, pollMs: o.pollMs, onProgress: (m) => o.log.info(`  ${m}`) });
    if (wait.outcome === 'done') {
      results.push({ ...base, containers: changes, patch, status: 'rolled-out', message: wait.message });
      continue;
    }
    failed = true;
    o.log.error(`  ✘ ${label}: ${wait.message}`);
    const problems = await diagnose(api, ref, wait.object).catch((e: unknown) => {
      o.log.warn(`  cannot list the pods of ${label}: ${(e as Error).message}`);
      return [] as PodProblem[];
    });
    for (const p of problems) {
      o.log.error(`  pod ${p.pod} container ${p.container}: ${p.reason}${p.message ? `: ${p.message}` : ''}${p.restarts ? ` (${p.restarts} restarts)` : ''}`);
      for (const e of p.events) o.log.error(`    ${e}`);
    }
    if (!problems.length) o.log.error('  no failing pod found (check quotas, node capacity and readiness probes: kubectl describe)');
    const result: KubeResult = { ...base, containers: changes, patch, status: 'failed', message: wait.message, problems };
    if (o.rollbackOnFailure) {
      const back = changes.filter((c) => c.from !== c.to).map((c) => ({ name: c.name, list: c.list, to: c.from }));
      if (back.length) {
        const rbPatch = imagePatch(t.kind, obj, back, `airlock deploy-image ${label}: rolled back to ${back.map((c) => `${c.name}=${c.to}`).join(' ')} after a failed rollout`);
        o.log.info(`  rolling back ${label}: ${back.map((c) => `${c.name}=${c.to}`).join(', ')}`);
        await api.patchWorkload(ref, rbPatch);
        const rb = await waitForRollout(api, ref, { timeoutMs: o.timeoutMs, pollMs: o.pollMs, onProgress: (m) => o.log.info(`  ${m}`) });
        result.rollback = { status: rb.outcome === 'done' ? 'rolled-out' : 'failed', message: rb.message, patch: rbPatch };
        result.status = rb.outcome === 'done' ? 'rolled-back' : 'rollback-failed';
        if (rb.outcome === 'done') o.log.info(`  ✔ rolled back: ${rb.message}`);
        else o.log.error(`  ✘ rollback failed: ${rb.message}`);
      }
    }
    results.push(result);
  }
  return results;
}
