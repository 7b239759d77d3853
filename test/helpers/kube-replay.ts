/**
 * A Kubernetes API server that replays the real API's shapes, for deploy-image tests (no API server
 * can run on this machine). HTTPS with a test CA and client-certificate auth (bearer tokens too),
 * discovery (/api, /apis, /api/v1, /apis/apps/v1, /apis/batch/v1, /version), GET/LIST/WATCH/PATCH of
 * apps/v1 deployments, statefulsets, daemonsets and batch/v1 cronjobs, pods and events, and errors
 * as `Status` objects. Status progresses across polls after a PATCH changes a pod template, along a
 * scripted outcome per image (complete, ImagePullBackOff, CrashLoopBackOff, hang).
 *
 * Kept honest by Debian's real kubectl, which must work against it with the same kubeconfig
 * (test/e2e/deploy-kube.test.ts): `kubectl get deployment`, `kubectl set image`, `kubectl rollout status`.
 * What kubectl 1.32 asks for (seen with -v=8): /api and /apis with the aggregated-discovery Accept
 * header (a plain APIVersions/APIGroupList answer makes it fall back), then /api/v1, /apis/apps/v1 and
 * /apis/batch/v1; `get` wants a meta.k8s.io/v1 Table; `set image` GETs the object and PATCHes
 * `?fieldManager=kubectl-set` with a strategic merge patch; `rollout status` GETs, LISTs with
 * fieldSelector=metadata.name=NAME and then WATCHes (a stream of {type, object} lines). No OpenAPI
 * document is requested for these commands.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { makeClientCert, makeServerTls } from './certs.js';
import { makeTempDir } from './tmp.js';

export type Kind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob';
export type Outcome = 'complete' | 'image-pull-backoff' | 'crashloop' | 'hang';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  accept?: string;
  authorization?: string;
  /** The client certificate's subject CN, when one was presented. */
  clientCN?: string;
  userAgent?: string;
  body?: string;
}

export interface Fault {
  method?: string;
  /** Substring of the path (without the query). */
  path: string;
  status: 401 | 403 | 404 | 409 | 422 | 500;
  /** How many times to answer with it (default: always). */
  times?: number;
}

export interface WorkloadSpec {
  kind: Kind;
  name: string;
  namespace?: string;
  replicas?: number;
  containers: Array<{ name: string; image: string }>;
  initContainers?: Array<{ name: string; image: string }>;
  /** StatefulSet/DaemonSet update strategy (default RollingUpdate). */
  strategy?: 'RollingUpdate' | 'OnDelete';
}

export interface ReplayOptions {
  workloads: WorkloadSpec[];
  /** What rolling out a pod template with this image does (default: 'complete'). */
  outcome?: (image: string) => Outcome;
  /** Accepted bearer tokens (client certificates signed by the test CA are always accepted). */
  tokens?: string[];
  faults?: Fault[];
  /** Milliseconds between watch events (default 30). */
  watchTickMs?: number;
}

interface Frame {
  status: Record<string, unknown>;
  conditions?: unknown[];
}

interface Live {
  spec: WorkloadSpec;
  obj: Record<string, any>;
  /** Status frames still to come; the last one repeats. */
  frames: Frame[];
  failing?: { image: string; outcome: Outcome };
  revision: number;
}

export interface KubeReplay {
  url: string;
  host: string;
  dir: string;
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  requests: RecordedRequest[];
  /** PATCH requests so far. */
  patches(): RecordedRequest[];
  /** The live object (after patches). */
  object(kind: Kind, name: string, namespace?: string): Record<string, any>;
  faults: Fault[];
  /** Write a kubeconfig for this server: client certificate (default) or a token. */
  kubeconfig(opts?: { token?: string; namespace?: string; embed?: boolean; file?: string; context?: string }): string;
  stop(): Promise<void>;
}

const RESOURCES: Record<Kind, { group: string; version: string; plural: string; listKind: string }> = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', listKind: 'DeploymentList' },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets', listKind: 'StatefulSetList' },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets', listKind: 'DaemonSetList' },
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs', listKind: 'CronJobList' },
};

const CREATED = '2025-01-01T00:00:00Z';
let rv = 1000;
const nextRv = () => String(++rv);

function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function resourceList(groupVersion: string, resources: Array<[string, string, boolean, string[]]>) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: resources.map(([name, kind, namespaced, verbs]) => ({
      name,
      singularName: name.includes('/') ? '' : kind.toLowerCase(),
      namespaced,
      kind,
      verbs,
      ...(name.includes('/') ? {} : { storageVersionHash: randomBytes(8).toString('base64') }),
    })),
  };
}

const RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function podSpecOf(obj: Record<string, any>): Record<string, any> {
  return obj.kind === 'CronJob' ? obj.spec.jobTemplate.spec.template.spec : obj.spec.template.spec;
}

function imagesOf(obj: Record<string, any>): string[] {
  const ps = podSpecOf(obj);
  return [...(ps.initContainers ?? []), ...(ps.containers ?? [])].map((c: { image: string }) => c.image);
}

function build(spec: WorkloadSpec): Record<string, any> {
  const ns = spec.namespace ?? 'default';
  const labels = { app: spec.name };
  const podSpec = {
    ...(spec.initContainers ? { initContainers: spec.initContainers.map((c) => ({ ...c, resources: {}, imagePullPolicy: 'IfNotPresent' })) } : {}),
    containers: spec.containers.map((c) => ({ ...c, resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' })),
    restartPolicy: spec.kind === 'CronJob' ? 'OnFailure' : 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    securityContext: {},
    schedulerName: 'default-scheduler',
  };
  const template = { metadata: { creationTimestamp: null, labels }, spec: podSpec };
  const { group, version } = RESOURCES[spec.kind];
  const metadata = {
    name: spec.name,
    namespace: ns,
    uid: `${randomBytes(4).toString('hex')}-0000-4000-8000-${randomBytes(6).toString('hex')}`,
    resourceVersion: nextRv(),
    generation: 1,
    creationTimestamp: CREATED,
    labels,
    annotations: spec.kind === 'Deployment' ? { 'deployment.kubernetes.io/revision': '1' } : {},
  };
  const replicas = spec.replicas ?? 2;
  const base = { apiVersion: `${group}/${version}`, kind: spec.kind, metadata };
  switch (spec.kind) {
    case 'Deployment':
      return {
        ...base,
        spec: { replicas, selector: { matchLabels: labels }, template, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 },
        status: doneStatus(spec, 1),
      };
    case 'StatefulSet':
      return {
        ...base,
        spec: { replicas, selector: { matchLabels: labels }, template, serviceName: spec.name, podManagementPolicy: 'OrderedReady', updateStrategy: spec.strategy === 'OnDelete' ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }, revisionHistoryLimit: 10 },
        status: doneStatus(spec, 1),
      };
    case 'DaemonSet':
      return {
        ...base,
        spec: { selector: { matchLabels: labels }, template, updateStrategy: spec.strategy === 'OnDelete' ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10 },
        status: doneStatus(spec, 1),
      };
    case 'CronJob':
      return {
        ...base,
        spec: { schedule: '*/5 * * * *', concurrencyPolicy: 'Allow', suspend: false, jobTemplate: { metadata: { creationTimestamp: null }, spec: { template } }, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 },
        status: {},
      };
  }
}

function doneStatus(spec: WorkloadSpec, generation: number, revision = 1): Record<string, unknown> {
  const n = spec.replicas ?? 2;
  switch (spec.kind) {
    case 'Deployment':
      return {
        observedGeneration: generation,
        replicas: n,
        updatedReplicas: n,
        readyReplicas: n,
        availableReplicas: n,
        conditions: [
          { type: 'Available', status: 'True', lastUpdateTime: CREATED, lastTransitionTime: CREATED, reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
          { type: 'Progressing', status: 'True', lastUpdateTime: CREATED, lastTransitionTime: CREATED, reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${spec.name}-${revision}abc" has successfully progressed.` },
        ],
      };
    case 'StatefulSet':
      return { observedGeneration: generation, replicas: n, readyReplicas: n, currentReplicas: n, updatedReplicas: n, availableReplicas: n, currentRevision: `${spec.name}-rev${revision}`, updateRevision: `${spec.name}-rev${revision}`, collisionCount: 0 };
    case 'DaemonSet':
      return { observedGeneration: generation, currentNumberScheduled: n, desiredNumberScheduled: n, numberMisscheduled: 0, numberReady: n, numberAvailable: n, updatedNumberScheduled: n };
    case 'CronJob':
      return {};
  }
}

/** The status frames a rollout to `outcome` goes through (generation g, revision r). */
function framesFor(spec: WorkloadSpec, prev: Record<string, unknown>, g: number, r: number, outcome: Outcome): Frame[] {
  const n = spec.replicas ?? 2;
  const done = doneStatus(spec, g, r);
  const notObserved = { status: prev };
  if (spec.kind === 'CronJob') return [{ status: {} }];
  if (spec.kind === 'Deployment') {
    const progressing = (reason: string, status = 'True') => ({ type: 'Progressing', status, lastUpdateTime: CREATED, lastTransitionTime: CREATED, reason, message: reason === 'ProgressDeadlineExceeded' ? `ReplicaSet "${spec.name}-${r}abc" has timed out progressing.` : `ReplicaSet "${spec.name}-${r}abc" is progressing.` });
    const available = { type: 'Available', status: 'True', lastUpdateTime: CREATED, lastTransitionTime: CREATED, reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' };
    const mid = (updated: number, replicas: number, avail: number, cond = progressing('ReplicaSetUpdated')) => ({
      status: { observedGeneration: g, replicas, updatedReplicas: updated, readyReplicas: avail, availableReplicas: avail, unavailableReplicas: replicas - avail, conditions: [available, cond] },
    });
    if (outcome === 'complete') return [notObserved, mid(1, n + 1, n), mid(n, n + 1, n), mid(n, n, n - 1), { status: done }];
    if (outcome === 'hang') return [notObserved, mid(1, n + 1, n)];
    return [notObserved, mid(1, n + 1, n), mid(1, n + 1, n, progressing('ProgressDeadlineExceeded', 'False'))];
  }
  if (spec.kind === 'StatefulSet') {
    const cur = `${spec.name}-rev${r - 1}`;
    const upd = `${spec.name}-rev${r}`;
    const st = (ready: number, updated: number, currentRevision: string) => ({ status: { observedGeneration: g, replicas: n, readyReplicas: ready, currentReplicas: n - updated, updatedReplicas: updated, availableReplicas: ready, currentRevision, updateRevision: upd, collisionCount: 0 } });
    if (outcome === 'complete') return [notObserved, st(n - 1, 1, cur), st(n, 1, cur), { status: done }];
    return [notObserved, st(n - 1, 1, cur)];
  }
  const ds = (updated: number, avail: number) => ({ status: { observedGeneration: g, currentNumberScheduled: n, desiredNumberScheduled: n, numberMisscheduled: 0, numberReady: avail, numberAvailable: avail, numberUnavailable: n - avail, updatedNumberScheduled: updated } });
  if (outcome === 'complete') return [notObserved, ds(1, n - 1), ds(n, n - 1), { status: done }];
  return [notObserved, ds(1, n - 1)];
}

/** A simplified strategic merge patch: objects merge, `containers`-like lists merge by name, directives dropped. */
function strategicMerge(target: any, patch: any): any {
  if (patch === null) return undefined;
  if (typeof patch !== 'object' || Array.isArray(patch) || typeof target !== 'object' || target === null || Array.isArray(target)) return patch;
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') || k === '$retainKeys') continue;
    if (['containers', 'initContainers', 'ephemeralContainers'].includes(k) && Array.isArray(v) && Array.isArray(out[k])) {
      const list = [...(out[k] as Array<{ name: string }>)];
      for (const item of v as Array<{ name: string }>) {
        const i = list.findIndex((c) => c.name === item.name);
        if (i >= 0) list[i] = strategicMerge(list[i], item);
        else list.push(item);
      }
      out[k] = list;
      continue;
    }
    const merged = strategicMerge(out[k], v);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

/** RFC 7386 merge patch. */
function mergePatch(target: any, patch: any): any {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function age(): string {
  return '5m';
}

function tableFor(kind: Kind, objs: Array<Record<string, any>>, includeObject: string | undefined) {
  const cols: Array<[string, string, (o: Record<string, any>) => unknown]> = [['Name', 'name', (o) => o.metadata.name]];
  if (kind === 'Deployment') {
    cols.push(
      ['Ready', '', (o) => `${o.status.readyReplicas ?? 0}/${o.spec.replicas}`],
      ['Up-to-date', '', (o) => o.status.updatedReplicas ?? 0],
      ['Available', '', (o) => o.status.availableReplicas ?? 0],
    );
  }
  cols.push(['Age', '', () => age()]);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: String(rv) },
    columnDefinitions: cols.map(([name, format]) => ({ name, type: name === 'Up-to-date' || name === 'Available' ? 'integer' : 'string', format, description: name, priority: 0 })),
    rows: objs.map((o) => ({
      cells: cols.map(([, , f]) => f(o)),
      object: includeObject === 'None' ? undefined : includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

export async function startKubeReplay(opts: ReplayOptions): Promise<KubeReplay> {
  const dir = makeTempDir('kube');
  const tls = await makeServerTls(dir);
  const client = await makeClientCert(dir);
  const outcome = opts.outcome ?? (() => 'complete');
  const tick = opts.watchTickMs ?? 30;
  const live = new Map<string, Live>();
  const key = (kind: Kind, ns: string, name: string) => `${kind}/${ns}/${name}`;
  for (const w of opts.workloads) {
    const obj = build(w);
    live.set(key(w.kind, obj.metadata.namespace, w.name), { spec: w, obj, frames: [], revision: 1 });
  }
  const requests: RecordedRequest[] = [];
  const faults = [...(opts.faults ?? [])];
  const sockets = new Set<{ destroy(): void; on(e: 'close', f: () => void): unknown }>();

  /** The object as seen now; a read advances its rollout by one frame. */
  function current(l: Live, advance: boolean): Record<string, any> {
    if (l.frames.length) {
      const f = advance && l.frames.length > 1 ? l.frames.shift()! : l.frames[0]!;
      if (JSON.stringify(l.obj.status) !== JSON.stringify(f.status)) {
        l.obj.status = f.status;
        l.obj.metadata.resourceVersion = nextRv();
      }
    }
    return structuredClone(l.obj);
  }

  function pods(ns: string, selector: string | undefined): Array<Record<string, any>> {
    const out: Array<Record<string, any>> = [];
    for (const l of live.values()) {
      if (l.obj.metadata.namespace !== ns || l.obj.kind === 'CronJob') continue;
      const labels: Record<string, string> = l.obj.spec.template.metadata.labels;
      if (selector && !selector.split(',').every((s) => { const [k, v] = s.split('='); return labels[k!] === v; })) continue;
      const ps = podSpecOf(l.obj);
      const healthy = (name: string, i: number) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: ns, labels, uid: `pod-${name}`, creationTimestamp: CREATED, resourceVersion: String(rv) },
        spec: structuredClone(ps),
        status: { phase: 'Running', containerStatuses: ps.containers.map((c: { name: string; image: string }) => ({ name: c.name, image: c.image, imageID: '', ready: true, restartCount: 0, started: true, state: { running: { startedAt: CREATED } } })), podIP: `10.0.0.${i + 10}` },
      });
      out.push(healthy(`${l.spec.name}-${l.revision - (l.failing ? 1 : 0)}abc-x${l.revision}q`, 0));
      if (l.failing) {
        const { image, outcome: o } = l.failing;
        const waiting = o === 'crashloop'
          ? { reason: 'CrashLoopBackOff', message: `back-off 40s restarting failed container=${ps.containers[0].name} pod=${l.spec.name}-bad_${ns}` }
          : { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` };
        out.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${l.spec.name}-${l.revision}bad-zz9`, namespace: ns, labels, uid: `pod-${l.spec.name}-bad`, creationTimestamp: CREATED, resourceVersion: String(rv) },
          spec: structuredClone(ps),
          status: {
            phase: o === 'crashloop' ? 'Running' : 'Pending',
            containerStatuses: ps.containers.map((c: { name: string; image: string }) => ({
              name: c.name,
              image: c.image,
              imageID: '',
              ready: false,
              restartCount: o === 'crashloop' ? 4 : 0,
              started: false,
              state: c.image === image ? { waiting } : { running: { startedAt: CREATED } },
              ...(o === 'crashloop' ? { lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: CREATED, finishedAt: CREATED } } } : {}),
            })),
          },
        });
      }
    }
    return out;
  }

  function events(ns: string, fieldSelector: string | undefined): Array<Record<string, any>> {
    const all: Array<Record<string, any>> = [];
    for (const p of pods(ns, undefined)) {
      for (const cs of p.status.containerStatuses as Array<{ image: string; state: { waiting?: { reason: string } } }>) {
        const reason = cs.state.waiting?.reason;
        if (!reason) continue;
        const ev = (n: number, type: string, why: string, message: string) => ({
          kind: 'Event',
          apiVersion: 'v1',
          metadata: { name: `${p.metadata.name}.${n}`, namespace: ns, creationTimestamp: CREATED },
          involvedObject: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid, apiVersion: 'v1' },
          reason: why,
          message,
          source: { component: 'kubelet', host: 'node-1' },
          firstTimestamp: CREATED,
          lastTimestamp: CREATED,
          count: 3,
          type,
        });
        if (reason === 'ImagePullBackOff') {
          all.push(
            ev(1, 'Normal', 'Pulling', `Pulling image "${cs.image}"`),
            ev(2, 'Warning', 'Failed', `Failed to pull image "${cs.image}": rpc error: code = NotFound desc = failed to pull and unpack image "${cs.image}": not found`),
            ev(3, 'Warning', 'Failed', 'Error: ErrImagePull'),
            ev(4, 'Normal', 'BackOff', `Back-off pulling image "${cs.image}"`),
            ev(5, 'Warning', 'Failed', 'Error: ImagePullBackOff'),
          );
        } else {
          all.push(ev(1, 'Warning', 'BackOff', 'Back-off restarting failed container app in pod'));
        }
      }
    }
    const sel = Object.fromEntries((fieldSelector ?? '').split(',').filter(Boolean).map((s) => s.split('=') as [string, string]));
    return all.filter((e) => (!sel['involvedObject.name'] || e.involvedObject.name === sel['involvedObject.name']) && (!sel['involvedObject.kind'] || e.involvedObject.kind === sel['involvedObject.kind']));
  }

  function applyPatch(l: Live, contentType: string, body: string): { status: number; json: unknown } {
    let patch: unknown;
    try {
      patch = JSON.parse(body);
    } catch {
      return { status: 400, json: statusObject(400, 'BadRequest', 'error decoding patch: invalid JSON') };
    }
    const before = l.obj;
    let after: Record<string, any>;
    if (contentType.startsWith('application/strategic-merge-patch+json')) after = strategicMerge(before, patch);
    else if (contentType.startsWith('application/merge-patch+json')) after = mergePatch(before, patch);
    else return { status: 415, json: statusObject(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`) };
    const bad = [...(podSpecOf(after).containers ?? []), ...(podSpecOf(after).initContainers ?? [])].findIndex((c: { image?: string }) => !c.image);
    if (bad >= 0) {
      return {
        status: 422,
        json: statusObject(422, 'Invalid', `${l.obj.kind}.${RESOURCES[l.spec.kind].group} "${l.spec.name}" is invalid: spec.template.spec.containers[${bad}].image: Required value`, {
          name: l.spec.name,
          group: RESOURCES[l.spec.kind].group,
          kind: l.obj.kind,
          causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: `spec.template.spec.containers[${bad}].image` }],
        }),
      };
    }
    const templateChanged = JSON.stringify(l.obj.kind === 'CronJob' ? before.spec.jobTemplate : before.spec.template) !== JSON.stringify(l.obj.kind === 'CronJob' ? after.spec.jobTemplate : after.spec.template);
    const specChanged = JSON.stringify(before.spec) !== JSON.stringify(after.spec);
    const changed = JSON.stringify(before) !== JSON.stringify(after);
    if (changed) after.metadata.resourceVersion = nextRv();
    if (specChanged) after.metadata.generation = (before.metadata.generation as number) + 1;
    if (templateChanged && l.obj.kind !== 'CronJob') {
      l.revision += 1;
      if (l.obj.kind === 'Deployment') after.metadata.annotations = { ...after.metadata.annotations, 'deployment.kubernetes.io/revision': String(l.revision) };
      const images = imagesOf(after);
      const results = images.map((i) => ({ image: i, o: outcome(i) }));
      const worst = results.find((r) => r.o !== 'complete');
      l.failing = worst && worst.o !== 'hang' ? { image: worst.image, outcome: worst.o } : undefined;
      l.frames = framesFor(l.spec, before.status, after.metadata.generation, l.revision, worst?.o ?? 'complete');
    }
    l.obj = after;
    return { status: 200, json: structuredClone(after) };
  }

  const server = https.createServer({ key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile), ca: readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const u = new URL(req.url ?? '/', 'https://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const sock = req.socket as import('node:tls').TLSSocket;
      const peer = sock.getPeerCertificate?.();
      const authorizedCert = sock.authorized && peer && Object.keys(peer).length > 0;
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        ...(req.headers.accept ? { accept: req.headers.accept } : {}),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(authorizedCert ? { clientCN: String(peer.subject?.CN ?? '') } : {}),
        ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
        ...(body ? { body } : {}),
      };
      requests.push(rec);
      const send = (status: number, json: unknown, type = 'application/json') => {
        const text = JSON.stringify(json);
        res.writeHead(status, { 'content-type': type, 'audit-id': randomBytes(8).toString('hex'), 'cache-control': 'no-cache, private' });
        res.end(text);
      };
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!authorizedCert && !(bearer && (opts.tokens ?? []).includes(bearer))) {
        send(401, statusObject(401, 'Unauthorized', 'Unauthorized'));
        return;
      }
      const fault = faults.find((f) => (!f.method || f.method === req.method) && u.pathname.includes(f.path) && (f.times === undefined || f.times > 0));
      if (fault) {
        if (fault.times !== undefined) fault.times--;
        const name = u.pathname.split('/').pop() ?? '';
        const resource = u.pathname.split('/').slice(-2, -1)[0] ?? '';
        const group = u.pathname.startsWith('/apis/') ? `.${u.pathname.split('/')[2]}` : '';
        const verb = req.method === 'PATCH' ? 'patch' : req.method === 'GET' ? 'get' : String(req.method).toLowerCase();
        const byStatus: Record<number, unknown> = {
          401: statusObject(401, 'Unauthorized', 'Unauthorized'),
          403: statusObject(403, 'Forbidden', `${resource}${group} "${name}" is forbidden: User "system:serviceaccount:ci:deployer" cannot ${verb} resource "${resource}" in API group "${group.slice(1)}" in the namespace "${/\/namespaces\/([^/]+)/.exec(u.pathname)?.[1] ?? ''}"`, { name, group: group.slice(1), kind: resource }),
          404: statusObject(404, 'NotFound', `${resource}${group} "${name}" not found`, { name, group: group.slice(1), kind: resource }),
          409: statusObject(409, 'Conflict', `Operation cannot be fulfilled on ${resource}${group} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: group.slice(1), kind: resource }),
          422: statusObject(422, 'Invalid', `${resource}${group} "${name}" is invalid: spec.template.spec.containers[0].image: Invalid value: "": must not be empty`, { name, group: group.slice(1), kind: resource, causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "": must not be empty', field: 'spec.template.spec.containers[0].image' }] }),
          500: statusObject(500, 'InternalError', 'Internal error occurred: etcdserver: request timed out'),
        };
        send(fault.status, byStatus[fault.status]);
        return;
      }
      route(req.method ?? 'GET', u, rec, body, send, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function route(method: string, u: URL, rec: RecordedRequest, body: string, send: (status: number, json: unknown, type?: string) => void, res: import('node:http').ServerResponse): void {
    const p = u.pathname.replace(/\/+$/, '') || '/';
    if (method === 'GET' && p === '/version') {
      send(200, { major: '1', minor: '30', gitVersion: 'v1.30.4', gitCommit: 'a51b3b711150f57ffc1f526a640ec058514ed596', gitTreeState: 'clean', buildDate: '2024-08-14T19:04:42Z', goVersion: 'go1.22.5', compiler: 'gc', platform: 'linux/amd64' });
      return;
    }
    if (method === 'GET' && p === '/api') {
      send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] });
      return;
    }
    if (method === 'GET' && p === '/apis') {
      const g = (name: string) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' } });
      send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [g('apps'), g('batch')] });
      return;
    }
    if (method === 'GET' && p === '/api/v1') {
      send(200, resourceList('v1', [
        ['events', 'Event', true, RW],
        ['namespaces', 'Namespace', false, ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']],
        ['pods', 'Pod', true, RW],
        ['pods/log', 'Pod', true, ['get']],
        ['pods/status', 'Pod', true, ['get', 'patch', 'update']],
      ]));
      return;
    }
    if (method === 'GET' && p === '/apis/apps/v1') {
      send(200, resourceList('apps/v1', [
        ['controllerrevisions', 'ControllerRevision', true, RW],
        ['daemonsets', 'DaemonSet', true, RW],
        ['daemonsets/status', 'DaemonSet', true, ['get', 'patch', 'update']],
        ['deployments', 'Deployment', true, RW],
        ['deployments/scale', 'Scale', true, ['get', 'patch', 'update']],
        ['deployments/status', 'Deployment', true, ['get', 'patch', 'update']],
        ['replicasets', 'ReplicaSet', true, RW],
        ['statefulsets', 'StatefulSet', true, RW],
        ['statefulsets/status', 'StatefulSet', true, ['get', 'patch', 'update']],
      ]));
      return;
    }
    if (method === 'GET' && p === '/apis/batch/v1') {
      send(200, resourceList('batch/v1', [
        ['cronjobs', 'CronJob', true, RW],
        ['cronjobs/status', 'CronJob', true, ['get', 'patch', 'update']],
        ['jobs', 'Job', true, RW],
      ]));
      return;
    }
    let m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|events)$/.exec(p);
    if (m && method === 'GET') {
      const [, ns, what] = m as unknown as [string, string, string];
      const items = what === 'pods' ? pods(ns, u.searchParams.get('labelSelector') ?? undefined) : events(ns, u.searchParams.get('fieldSelector') ?? undefined);
      send(200, { kind: what === 'pods' ? 'PodList' : 'EventList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
      return;
    }
    m = /^\/apis\/(apps|batch)\/v1\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?$/.exec(p);
    if (m) {
      const [, , ns, plural, name] = m as unknown as [string, string, string, string, string | undefined];
      const kind = (Object.keys(RESOURCES) as Kind[]).find((k) => RESOURCES[k].plural === plural);
      if (!kind) {
        send(404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
        return;
      }
      const gr = `${plural}.${RESOURCES[kind].group}`;
      if (!name) {
        if (method !== 'GET') {
          send(405, statusObject(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
          return;
        }
        const fieldName = /^metadata\.name=(.+)$/.exec(u.searchParams.get('fieldSelector') ?? '')?.[1];
        const matching = [...live.values()].filter((l) => l.spec.kind === kind && l.obj.metadata.namespace === ns && (!fieldName || l.spec.name === fieldName));
        if (u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1') {
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
          let last = matching.map((l) => l.obj.metadata.resourceVersion as string);
          const timer = setInterval(() => {
            matching.forEach((l, i) => {
              const obj = current(l, true);
              if (obj.metadata.resourceVersion !== last[i]) {
                last[i] = obj.metadata.resourceVersion;
                res.write(`${JSON.stringify({ type: 'MODIFIED', object: obj })}\n`);
              }
            });
          }, tick);
          res.on('close', () => clearInterval(timer));
          return;
        }
        const items = matching.map((l) => current(l, false));
        const asTable = /as=Table/.test(rec.accept ?? '');
        if (asTable) {
          send(200, tableFor(kind, items, u.searchParams.get('includeObject') ?? undefined), 'application/json;as=Table;v=v1;g=meta.k8s.io');
          return;
        }
        send(200, { kind: RESOURCES[kind].listKind, apiVersion: `${RESOURCES[kind].group}/v1`, metadata: { resourceVersion: String(rv) }, items: items.map((o) => ({ ...o, apiVersion: undefined, kind: undefined })) });
        return;
      }
      const l = live.get(key(kind, ns, name));
      if (!l) {
        send(404, statusObject(404, 'NotFound', `${gr} "${name}" not found`, { name, group: RESOURCES[kind].group, kind: plural }));
        return;
      }
      if (method === 'GET') {
        const obj = current(l, true);
        if (/as=Table/.test(rec.accept ?? '')) send(200, tableFor(kind, [obj], u.searchParams.get('includeObject') ?? undefined), 'application/json;as=Table;v=v1;g=meta.k8s.io');
        else send(200, obj);
        return;
      }
      if (method === 'PATCH') {
        const r = applyPatch(l, rec.contentType ?? '', body);
        send(r.status, r.json);
        return;
      }
      send(405, statusObject(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
      return;
    }
    if (p.startsWith('/openapi')) {
      send(404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    send(404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  const url = `https://${host}`;
  const caPem = readFileSync(tls.caFile, 'utf8');
  let n = 0;

  return {
    url,
    host,
    dir,
    caFile: tls.caFile,
    clientCertFile: client.certFile,
    clientKeyFile: client.keyFile,
    requests,
    faults,
    patches: () => requests.filter((r) => r.method === 'PATCH'),
    object: (kind, name, namespace = 'default') => structuredClone(live.get(key(kind, namespace, name))!.obj),
    kubeconfig(o = {}) {
      const file = o.file ?? path.join(dir, `kubeconfig-${++n}`);
      const b64 = (f: string) => Buffer.from(readFileSync(f)).toString('base64');
      const user = o.token
        ? `    token: ${o.token}`
        : o.embed === false
          ? `    client-certificate: ${client.certFile}\n    client-key: ${client.keyFile}`
          : `    client-certificate-data: ${b64(client.certFile)}\n    client-key-data: ${b64(client.keyFile)}`;
      const ctx = o.context ?? 'replay';
      writeFileSync(
        file,
        `apiVersion: v1
kind: Config
clusters:
- name: replay
  cluster:
    server: ${url}
    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}
users:
- name: replay-user
  user:
${user}
contexts:
- name: ${ctx}
  context:
    cluster: replay
    user: replay-user
${o.namespace ? `    namespace: ${o.namespace}\n` : ''}current-context: ${ctx}
`,
        { mode: 0o600 },
      );
      return file;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
