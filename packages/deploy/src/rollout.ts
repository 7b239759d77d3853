/**
 * Rollout status exactly as `kubectl rollout status` decides it (kubectl
 * pkg/polymorphichelpers/rollout_status.go): the same conditions in the same order, the same
 * messages. `status()` judges one observation; `waitForRollout` polls until done, an error
 * (ProgressDeadlineExceeded) or the timeout.
 */
import type { KubeApi, KubeObject, WorkloadKind, WorkloadRef } from './external/kube.js';

export interface RolloutStatus {
  message: string;
  done: boolean;
  /** A terminal failure (e.g. the progress deadline was exceeded); `message` says why. */
  error?: boolean;
}

type Obj = Record<string, any>;
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export function rolloutStatus(kind: WorkloadKind, obj: KubeObject): RolloutStatus {
  const o = obj as Obj;
  const name = String(o.metadata?.name ?? '');
  const generation = num(o.metadata?.generation);
  const spec = o.spec ?? {};
  const st = o.status ?? {};
  switch (kind) {
    case 'Deployment': {
      if (generation <= num(st.observedGeneration)) {
        const cond = ((st.conditions ?? []) as Obj[]).find((c) => c.type === 'Progressing');
        if (cond && cond.reason === 'ProgressDeadlineExceeded') return { message: `deployment "${name}" exceeded its progress deadline`, done: false, error: true };
        const replicas = spec.replicas;
        if (typeof replicas === 'number' && num(st.updatedReplicas) < replicas) {
          return { message: `Waiting for deployment "${name}" rollout to finish: ${num(st.updatedReplicas)} out of ${replicas} new replicas have been updated...`, done: false };
        }
        if (num(st.replicas) > num(st.updatedReplicas)) {
          return { message: `Waiting for deployment "${name}" rollout to finish: ${num(st.replicas) - num(st.updatedReplicas)} old replicas are pending termination...`, done: false };
        }
        if (num(st.availableReplicas) < num(st.updatedReplicas)) {
          return { message: `Waiting for deployment "${name}" rollout to finish: ${num(st.availableReplicas)} of ${num(st.updatedReplicas)} updated replicas are available...`, done: false };
        }
        return { message: `deployment "${name}" successfully rolled out`, done: true };
      }
      return { message: 'Waiting for deployment spec update to be observed...', done: false };
    }
    case 'DaemonSet': {
      if (spec.updateStrategy?.type !== 'RollingUpdate') return { message: 'rollout status is only available for RollingUpdate strategy type', done: true, error: true };
      if (generation <= num(st.observedGeneration)) {
        if (num(st.updatedNumberScheduled) < num(st.desiredNumberScheduled)) {
          return { message: `Waiting for daemon set "${name}" rollout to finish: ${num(st.updatedNumberScheduled)} out of ${num(st.desiredNumberScheduled)} new pods have been updated...`, done: false };
        }
        if (num(st.numberAvailable) < num(st.desiredNumberScheduled)) {
          return { message: `Waiting for daemon set "${name}" rollout to finish: ${num(st.numberAvailable)} of ${num(st.desiredNumberScheduled)} updated pods are available...`, done: false };
        }
        return { message: `daemon set "${name}" successfully rolled out`, done: true };
      }
      return { message: 'Waiting for daemon set spec update to be observed...', done: false };
    }
    case 'StatefulSet': {
      if (spec.updateStrategy?.type !== 'RollingUpdate') return { message: 'rollout status is only available for RollingUpdate strategy type', done: true, error: true };
      if (num(st.observedGeneration) === 0 || generation > num(st.observedGeneration)) return { message: 'Waiting for statefulset spec update to be observed...', done: false };
      if (typeof spec.replicas === 'number' && num(st.readyReplicas) < spec.replicas) return { message: `Waiting for ${spec.replicas - num(st.readyReplicas)} pods to be ready...`, done: false };
      const ru = spec.updateStrategy?.rollingUpdate;
      if (ru) {
        if (typeof spec.replicas === 'number' && typeof ru.partition === 'number') {
          if (num(st.updatedReplicas) < spec.replicas - ru.partition) {
            return { message: `Waiting for partitioned roll out to finish: ${num(st.updatedReplicas)} out of ${spec.replicas - ru.partition} new pods have been updated...`, done: false };
          }
        }
        return { message: `partitioned roll out complete: ${num(st.updatedReplicas)} new pods have been updated...`, done: true };
      }
      if (st.updateRevision !== st.currentRevision) {
        return { message: `waiting for statefulset rolling update to complete ${num(st.updatedReplicas)} pods at revision ${String(st.updateRevision)}...`, done: false };
      }
      return { message: `statefulset rolling update complete ${num(st.currentReplicas)} pods at revision ${String(st.currentRevision)}...`, done: true };
    }
    case 'CronJob':
      // kubectl has no rollout status for CronJobs: the next Job created uses the new template.
      return { message: `cronjob "${name}" updated: the next scheduled job uses the new image`, done: true };
  }
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs: number;
  /** Called with each new status message (as kubectl prints them). */
  onProgress?: (message: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WaitResult {
  outcome: 'done' | 'failed' | 'timeout';
  message: string;
  object: KubeObject;
}

/** Poll the workload until kubectl's status says done, fails, or the timeout passes. */
export async function waitForRollout(api: KubeApi, ref: WorkloadRef, o: WaitOptions): Promise<WaitResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + o.timeoutMs;
  let last = '';
  for (;;) {
    const obj = await api.getWorkload(ref);
    const s = rolloutStatus(ref.kind, obj);
    if (s.message !== last) {
      last = s.message;
      o.onProgress?.(s.message);
    }
    if (s.error) return { outcome: 'failed', message: s.message, object: obj };
    if (s.done) return { outcome: 'done', message: s.message, object: obj };
    if (now() + o.pollMs > deadline) return { outcome: 'timeout', message: `timed out waiting for the rollout: ${s.message}`, object: obj };
    await sleep(o.pollMs);
  }
}

/** Container states that explain a stuck rollout. */
export const FAILING_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'InvalidImageName', 'ErrImageNeverPull', 'RunContainerError']);

export interface PodProblem {
  pod: string;
  container: string;
  image?: string;
  reason: string;
  message?: string;
  restarts?: number;
  /** Warning events (and back-offs) about the pod, oldest first: `Failed: Failed to pull image ...`. */
  events: string[];
}

/** The pods of a workload that explain why it does not roll out, with their events. */
export async function diagnose(api: KubeApi, ref: WorkloadRef, obj: KubeObject): Promise<PodProblem[]> {
  const o = obj as Obj;
  const labels: Record<string, string> = o.spec?.selector?.matchLabels ?? o.spec?.template?.metadata?.labels ?? {};
  const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
  if (!selector || ref.kind === 'CronJob') return [];
  const pods = await api.listPods(ref.namespace, selector);
  const out: PodProblem[] = [];
  for (const p of pods as Obj[]) {
    const statuses: Obj[] = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
    const bad = statuses.filter((c) => FAILING_REASONS.has(c.state?.waiting?.reason) || (c.state?.terminated && c.state.terminated.exitCode !== 0));
    if (!bad.length) continue;
    const podName = String(p.metadata?.name ?? '');
    let events: string[] = [];
    try {
      const evs = (await api.listEvents(ref.namespace, podName)) as Obj[];
      events = evs
        .filter((e) => e.type === 'Warning' || e.reason === 'BackOff')
        .sort((a, b) => String(a.lastTimestamp ?? a.eventTime ?? '').localeCompare(String(b.lastTimestamp ?? b.eventTime ?? '')))
        .map((e) => `${e.type ?? 'Normal'} ${e.reason ?? ''}: ${String(e.message ?? '').trim()}${num(e.count) > 1 ? ` (x${num(e.count)})` : ''}`);
    } catch {
      events = ['(events could not be listed)'];
    }
    for (const c of bad) {
      const w = c.state?.waiting;
      const t = c.state?.terminated;
      out.push({
        pod: podName,
        container: String(c.name),
        ...(c.image ? { image: String(c.image) } : {}),
        reason: String(w?.reason ?? t?.reason ?? 'Terminated'),
        ...(w?.message || t?.message ? { message: String(w?.message ?? t?.message) } : {}),
        ...(num(c.restartCount) ? { restarts: num(c.restartCount) } : {}),
        events,
      });
    }
  }
  return out;
}
