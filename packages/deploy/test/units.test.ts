/** kubectl's rollout status, container planning, the patch, pinning, tar, dotenv and durations. */
import { mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { assertPinned, dotenvKeys, mapImages } from '../src/images.js';
import { imagePatch, parseKubeTarget, planChanges } from '../src/kube-deploy.js';
import { dotenvText, parseDuration } from '../src/outputs.js';
import { rolloutStatus } from '../src/rollout.js';
import { deterministicTarGz } from '../src/tar.js';
import { corpusImages } from './corpus.js';

const dep = (generation: number, status: Record<string, unknown>, replicas = 3) => ({ metadata: { name: 'web', generation }, spec: { replicas }, status });

describe('rollout status, as kubectl decides it', () => {
  it('deployments: each condition in kubectl\'s order and words', () => {
    expect(rolloutStatus('Deployment', dep(2, { observedGeneration: 1 }))).toEqual({ message: 'Waiting for deployment spec update to be observed...', done: false });
    expect(rolloutStatus('Deployment', dep(2, { observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }], updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))).toEqual({ message: 'deployment "web" exceeded its progress deadline', done: false, error: true });
    expect(rolloutStatus('Deployment', dep(2, { observedGeneration: 2, updatedReplicas: 1, replicas: 4 })).message).toBe('Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...');
    expect(rolloutStatus('Deployment', dep(2, { observedGeneration: 2, updatedReplicas: 3, replicas: 4 })).message).toBe('Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...');
    expect(rolloutStatus('Deployment', dep(2, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 })).message).toBe('Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...');
    expect(rolloutStatus('Deployment', dep(2, { observedGeneration: 3, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))).toEqual({ message: 'deployment "web" successfully rolled out', done: true });
    // Scaled to zero: done at once.
    expect(rolloutStatus('Deployment', dep(1, { observedGeneration: 1 }, 0)).done).toBe(true);
  });

  it('statefulsets and daemonsets: partitions, revisions, OnDelete', () => {
    const sts = (spec: Record<string, unknown>, status: Record<string, unknown>) => ({ metadata: { name: 'db', generation: 2 }, spec: { replicas: 3, ...spec }, status });
    expect(rolloutStatus('StatefulSet', sts({ updateStrategy: { type: 'OnDelete' } }, {}))).toMatchObject({ done: true, error: true });
    expect(rolloutStatus('StatefulSet', sts({ updateStrategy: { type: 'RollingUpdate' } }, { observedGeneration: 0 })).message).toBe('Waiting for statefulset spec update to be observed...');
    expect(rolloutStatus('StatefulSet', sts({ updateStrategy: { type: 'RollingUpdate' } }, { observedGeneration: 2, readyReplicas: 1 })).message).toBe('Waiting for 2 pods to be ready...');
    expect(rolloutStatus('StatefulSet', sts({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }, { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1 })).message).toBe('Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...');
    expect(rolloutStatus('StatefulSet', sts({ updateStrategy: { type: 'RollingUpdate' } }, { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1, updateRevision: 'db-2', currentRevision: 'db-1' })).message).toBe('waiting for statefulset rolling update to complete 1 pods at revision db-2...');
    expect(rolloutStatus('StatefulSet', sts({ updateStrategy: { type: 'RollingUpdate' } }, { observedGeneration: 2, readyReplicas: 3, currentReplicas: 3, updateRevision: 'db-2', currentRevision: 'db-2' }))).toEqual({ message: 'statefulset rolling update complete 3 pods at revision db-2...', done: true });
    const ds = (status: Record<string, unknown>) => ({ metadata: { name: 'agent', generation: 2 }, spec: { updateStrategy: { type: 'RollingUpdate' } }, status });
    expect(rolloutStatus('DaemonSet', ds({ observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 })).message).toBe('Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...');
    expect(rolloutStatus('DaemonSet', ds({ observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 })).done).toBe(true);
  });
});

describe('which containers, and the patch', () => {
  const images = corpusImages();
  const obj = { spec: { template: { spec: { initContainers: [{ name: 'wait', image: 'busybox' }], containers: [{ name: 'web', image: 'nginx:1.25.3' }, { name: 'api', image: 'ghcr.io/acme/api:2.1' }, { name: 'x', image: 'quay.io/x/y:1' }] } } } };

  it('matches containers by repository (source or private name); a named container must exist', () => {
    expect(planChanges(parseKubeTarget('deploy/web'), obj, images).map((c) => [c.list, c.name, c.to])).toEqual([
      ['containers', 'web', images[0]!.pinned],
      ['containers', 'api', images[1]!.pinned],
      ['initContainers', 'wait', images[2]!.pinned],
    ]);
    expect(planChanges(parseKubeTarget('deployment/web:api'), obj, images).map((c) => c.to)).toEqual([images[1]!.pinned]);
    expect(() => planChanges(parseKubeTarget('deployment/web:nope'), obj, images)).toThrow(/has no container "nope"/);
    expect(() => planChanges(parseKubeTarget('deployment/web:x'), obj, images)).toThrow(/none of the 4 images is quay.io\/x\/y/);
    // One image, one container: it is that container whatever it runs now.
    const single = { spec: { template: { spec: { containers: [{ name: 'only', image: 'other/thing:1' }] } } } };
    expect(planChanges(parseKubeTarget('sts/db'), single, images.slice(0, 1)).map((c) => c.name)).toEqual(['only']);
    expect(() => parseKubeTarget('deployment')).toThrow(/expected KIND\/NAME/);
    expect(() => parseKubeTarget('deployment/Bad_Name')).toThrow(/not a valid object name/);
    expect(parseKubeTarget('deployments.apps/web:api')).toEqual({ input: 'deployments.apps/web:api', kind: 'Deployment', name: 'web', container: 'api' });
  });

  it('the strategic merge patch has kubectl\'s shape; a reference without a digest is refused', () => {
    const changes = planChanges(parseKubeTarget('deploy/web:web'), obj, images);
    expect(imagePatch('Deployment', obj, changes, 'why')).toEqual({
      metadata: { annotations: { 'kubernetes.io/change-cause': 'why' } },
      spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'web' }, { name: 'api' }, { name: 'x' }], containers: [{ image: images[0]!.pinned, name: 'web' }] } } },
    });
    expect(() => assertPinned('registry.local/acme/app:1.4', '--image x')).toThrow(/--image x: registry.local\/acme\/app:1.4 would be deployed by tag only/);
    expect(assertPinned(images[0]!.pinned, 'x')).toBe(images[0]!.pinned);
  });
});

describe('deterministic tar.gz (Flux normalisation)', () => {
  it('same bytes for the same content whatever the times; symlinks skipped; headers zeroed', async () => {
    const mk = (t: number) => {
      const d = mkdtempSync(path.join(tmpdir(), 'airlock-tar-'));
      mkdirSync(path.join(d, 'sub'));
      writeFileSync(path.join(d, 'b.yaml'), 'b: 1\n');
      writeFileSync(path.join(d, 'a.yaml'), 'a: 1\n');
      writeFileSync(path.join(d, 'sub', 'c.yaml'), 'c: 1\n');
      symlinkSync('a.yaml', path.join(d, 'link.yaml'));
      for (const f of ['a.yaml', 'b.yaml', 'sub/c.yaml', 'sub']) utimesSync(path.join(d, f), t, t);
      return d;
    };
    const one = await deterministicTarGz(mk(1_000_000));
    const two = await deterministicTarGz(mk(2_000_000));
    expect(two.gz.equals(one.gz)).toBe(true);
    expect(one.entries).toEqual(['a.yaml', 'b.yaml', 'sub', 'sub/c.yaml']);
    const headers: Header[] = [];
    const ex = extract();
    ex.on('entry', (h, stream, next) => {
      headers.push(h);
      stream.on('end', next);
      stream.resume();
    });
    await new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
      Readable.from([gunzipSync(one.gz)]).pipe(ex);
    });
    expect(headers.map((h) => [h.name, h.type, h.uid, h.gid, h.uname, h.gname, h.mtime?.getTime()])).toEqual([
      ['a.yaml', 'file', 0, 0, '', '', 0],
      ['b.yaml', 'file', 0, 0, '', '', 0],
      ['sub', 'directory', 0, 0, '', '', 0],
      ['sub/c.yaml', 'file', 0, 0, '', '', 0],
    ]);
    // The gzip header carries no name and no time.
    expect(one.gz.readUInt32LE(4)).toBe(0);
    expect(one.gz[3]! & 0x08).toBe(0);
  });
});

describe('outputs', () => {
  it('dotenv follows GitLab\'s rules: KEY=value, [A-Za-z0-9_], no quotes, under 5 KB', () => {
    expect(dotenvText([['AIRLOCK_IMAGE_APP', 'r/a:1@sha256:x'], ['AIRLOCK_OK', 'true']])).toEqual({ text: 'AIRLOCK_IMAGE_APP=r/a:1@sha256:x\nAIRLOCK_OK=true\n', omitted: [] });
    expect(() => dotenvText([['BAD-KEY', 'x']])).toThrow(/not \[A-Za-z0-9_\]/);
    expect(() => dotenvText([['K', 'a\nb']])).toThrow(/newline, quote/);
    expect(() => dotenvText([['K', '"q"']])).toThrow(/newline, quote/);
    const many = Array.from({ length: 100 }, (_, i): [string, string] => [`AIRLOCK_IMAGE_${i}`, `registry.local/acme/app-${i}:1.0@sha256:${'a'.repeat(64)}`]);
    const r = dotenvText(many);
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(5 * 1024);
    expect(r.omitted.length).toBeGreaterThan(0);
    expect(r.text).not.toMatch(/\n\n/);
  });

  it('dotenv keys name each image after its repository, made unique with more of the path', () => {
    const specs = mapImages(
      ['ghcr.io/acme/app:1', 'quay.io/other/app:2', 'nginx:1.27', 'registry.local/x/web-ui:3'].map((source) => ({ source, where: source })),
      { to: 'registry.local/mirror', rewrites: [] },
    );
    expect(specs.map((s) => `${s.destination.registry}/${s.destination.repository}:${s.destination.tag}`)).toEqual([
      'registry.local/mirror/acme/app:1',
      'registry.local/mirror/other/app:2',
      'registry.local/mirror/library/nginx:1.27',
      'registry.local/mirror/x/web-ui:3',
    ]);
    expect(dotenvKeys(specs)).toEqual(['AIRLOCK_IMAGE_ACME_APP', 'AIRLOCK_IMAGE_OTHER_APP', 'AIRLOCK_IMAGE_NGINX', 'AIRLOCK_IMAGE_WEB_UI']);
    const same = mapImages(['a.io/app:1', 'a.io/app:2'].map((source) => ({ source, where: source })), { rewrites: [] });
    expect(dotenvKeys(same)).toEqual(['AIRLOCK_IMAGE_APP', 'AIRLOCK_IMAGE_APP_2']);
  });

  it('durations as kubectl writes them', () => {
    expect([parseDuration('90s', 't'), parseDuration('5m', 't'), parseDuration('1h30m', 't'), parseDuration('250ms', 't'), parseDuration('2', 't'), parseDuration('0', 't')]).toEqual([90_000, 300_000, 5_400_000, 250, 2000, 0]);
    expect(() => parseDuration('5 minutes', 'timeout')).toThrow(/--timeout "5 minutes" is not a duration/);
    expect(() => parseDuration('', 'timeout')).toThrow(/not a duration/);
  });
});
