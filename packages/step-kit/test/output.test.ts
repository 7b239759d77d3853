import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ImageResult } from '@airlock/oci';
import { junitXml, Logger, ttyProgress, imageLine } from '../src/index.js';

const capture = () => {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { s, text: () => text };
};

const result = (over: Partial<ImageResult> = {}): ImageResult => ({
  source: 'a.io/x:1',
  destination: 'b.io/x:1',
  sourceDigest: `sha256:${'a'.repeat(64)}`,
  destinationDigest: `sha256:${'a'.repeat(64)}`,
  status: 'copied',
  blobs: { copied: 2, skipped: 1, mounted: 0 },
  bytes: 2048,
  manifests: 1,
  referrers: 0,
  durationMs: 1500,
  ...over,
});

describe('output', () => {
  it('GitLab sections, GitHub groups and plain lines', () => {
    const g = capture();
    const gl = new Logger(g.s, { GITLAB_CI: 'true', CI: 'true' });
    gl.start('Mirror');
    gl.info('line');
    gl.end();
    expect(g.text()).toMatch(/^\x1b\[0Ksection_start:\d+:airlock_1\[collapsed=true\]\r\x1b\[0KMirror\nline\n\x1b\[0Ksection_end:\d+:airlock_1\r\x1b\[0K\n$/);
    const h = capture();
    const gh = new Logger(h.s, { GITHUB_ACTIONS: 'true' });
    gh.start('Mirror');
    gh.warn('careful');
    gh.end();
    expect(h.text()).toBe('::group::Mirror\n::warning::careful\n::endgroup::\n');
  });

  it('a TTY progress line shows images, blobs and bytes, and finished images above it', () => {
    const c = capture();
    const out = Object.assign(c.s, { columns: 200, isTTY: true }) as unknown as NodeJS.WriteStream;
    const p = ttyProgress(out, 2);
    p.onEvent({ type: 'blob-start', id: 1, digest: `sha256:${'b'.repeat(64)}`, size: 4096 });
    p.onEvent({ type: 'blob-progress', id: 1, digest: `sha256:${'b'.repeat(64)}`, bytes: 2048 });
    expect(c.text()).toMatch(/\[#{10}-{10}\] 0\/2 images, 0 blobs \(1 active\), 2\.0 KiB\/4\.0 KiB/);
    p.onEvent({ type: 'image-done', id: 1, result: result() });
    p.finish();
    expect(c.text()).toContain('✔ a.io/x:1 → b.io/x:1 (copied, digest aaaaaaaaaaaa, blobs 2 copied/0 mounted/1 skipped, 2.0 KiB, 1.5s)\n');
  });

  it('failed images say why; JUnit escapes and counts', () => {
    const failed = result({ status: 'failed', error: { code: 'NOT_FOUND', message: 'x:1: manifest <not> found', hint: 'check the tag' } });
    expect(imageLine(failed)).toBe('✘ a.io/x:1 → b.io/x:1: x:1: manifest <not> found (check the tag)');
    const xml = junitXml('airlock mirror', [
      { name: 'ok', classname: 'c', timeSeconds: 1 },
      { name: 'bad & "worse"', classname: 'c', timeSeconds: 2, failure: { message: 'manifest <not> found' } },
    ]);
    expect(xml).toContain('<testsuite name="airlock mirror" tests="2" failures="1" errors="0" skipped="0" time="3.000">');
    expect(xml).toContain('<testcase name="bad &amp; &quot;worse&quot;"');
    expect(xml).toContain('<failure message="manifest &lt;not&gt; found">');
  });
});
