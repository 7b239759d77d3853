/**
 * Manifest rewriting on a corpus of real-world shapes (Helm-rendered multi-document output with
 * comments, `List`, kustomize `images:`, every workload kind), checked byte-for-byte against
 * expected files; a second run changes nothing.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { corpusImages, hex } from './corpus.js';
import { ImageMatcher, rewriteManifests, rewriteYaml } from '../src/manifests.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'manifests');
const CASES = readdirSync(FIXTURES).filter((n) => statSync(path.join(FIXTURES, n)).isDirectory());

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(path.join(dir, f)).isFile()).sort();
}

describe('manifest rewriting (corpus, byte-for-byte)', () => {
  const matcher = new ImageMatcher(corpusImages());

  it('maps images as --rewrite does and names dotenv keys after the repository', () => {
    expect(corpusImages().map((i) => [i.pinned, i.key])).toEqual([
      [`registry.local/library/nginx:1.25.3@sha256:${hex('a')}`, 'AIRLOCK_IMAGE_NGINX'],
      [`registry.local/acme/api:2.1@sha256:${hex('b')}`, 'AIRLOCK_IMAGE_API'],
      [`registry.local/library/busybox:latest@sha256:${hex('c')}`, 'AIRLOCK_IMAGE_BUSYBOX'],
      [`registry.local/library/postgres:16@sha256:${hex('d')}`, 'AIRLOCK_IMAGE_POSTGRES'],
    ]);
  });

  for (const name of CASES) {
    it(`${name}: in place, equal to expected/ byte for byte; a second run is a no-op`, async () => {
      const work = mkdtempSync(path.join(tmpdir(), `airlock-manifests-${name}-`));
      cpSync(path.join(FIXTURES, name, 'input'), work, { recursive: true });
      const first = await rewriteManifests(work, matcher, { dryRun: false });
      if (process.env.AIRLOCK_UPDATE_FIXTURES) cpSync(work, path.join(FIXTURES, name, 'expected'), { recursive: true });
      const expectedDir = path.join(FIXTURES, name, 'expected');
      expect(files(work)).toEqual(files(expectedDir));
      for (const f of files(work)) expect(readFileSync(path.join(work, f), 'utf8'), f).toBe(readFileSync(path.join(expectedDir, f), 'utf8'));
      expect(first.replacements.length).toBeGreaterThan(0);
      const second = await rewriteManifests(work, matcher, { dryRun: false });
      expect(second.replacements).toEqual([]);
      expect(second.files.every((f) => !f.changed)).toBe(true);
      // The same images are still unmapped (lines may have moved where keys were added).
      const strip = (u: typeof first.unmapped) => u.map(({ line: _line, ...rest }) => rest);
      expect(strip(second.unmapped)).toEqual(strip(first.unmapped));
    });
  }

  it('reports what it cannot map, with file, line and object', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'airlock-manifests-unmapped-'));
    cpSync(path.join(FIXTURES, 'workloads', 'input'), work, { recursive: true });
    const r = await rewriteManifests(work, matcher, { dryRun: true });
    expect(r.unmapped).toEqual([
      { file: 'jobs.yaml', line: 43, where: 'DaemonSet/node-agent containers[agent]', image: 'quay.io/prometheus/node-exporter:v1.8.1' },
      { file: 'jobs.yaml', line: 58, where: 'ReplicaSet/legacy containers[nginx]', image: 'nginx:1.24' },
    ]);
    // A dry run writes nothing.
    expect(readFileSync(path.join(work, 'jobs.yaml'), 'utf8')).toBe(readFileSync(path.join(FIXTURES, 'workloads', 'input', 'jobs.yaml'), 'utf8'));
  });

  it('--out writes a full copy (other files too) and leaves the input alone', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'airlock-manifests-out-')), 'rendered');
    const input = path.join(FIXTURES, 'kustomize', 'input');
    const r = await rewriteManifests(input, matcher, { out, dryRun: false });
    expect(r.root).toBe(out);
    expect(files(out)).toEqual(files(input));
    expect(readFileSync(path.join(out, 'deployment.yaml'), 'utf8')).toBe(readFileSync(path.join(FIXTURES, 'kustomize', 'expected', 'deployment.yaml'), 'utf8'));
    expect(readFileSync(path.join(input, 'deployment.yaml'), 'utf8')).toContain('image: nginx:1.25.3\n');
  });

  it('keeps each scalar\'s quoting, and refuses YAML it cannot parse with the line', () => {
    const r = rewriteYaml("kind: Pod\nspec:\n  containers:\n  - name: a\n    image: 'nginx:1.25.3'\n  - name: b\n    image: \"nginx:1.25.3\"\n", 'pod.yaml', matcher);
    expect(r.text).toBe(`kind: Pod\nspec:\n  containers:\n  - name: a\n    image: 'registry.local/library/nginx:1.25.3@sha256:${hex('a')}'\n  - name: b\n    image: "registry.local/library/nginx:1.25.3@sha256:${hex('a')}"\n`);
    expect(() => rewriteYaml('kind: Pod\nspec: {containers: [\n', 'bad.yaml', matcher)).toThrow(/bad\.yaml: not valid YAML at line \d/);
  });

  it('a file without a trailing newline and a kustomization missing every key', () => {
    const r = rewriteYaml('images:\n- name: postgres\n  newTag: "16"', 'kustomization.yaml', matcher);
    expect(r.text).toBe(`images:\n- name: postgres\n  newTag: "16"\n  newName: registry.local/library/postgres\n  digest: sha256:${hex('d')}`);
  });
});
