import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'airlock-mirror-'));

describe('airlock mirror', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let images: ImageLayout;

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    images = await makeImages({ images: 4, layers: 1, layerMb: 0.05, sharedBaseMb: 0.2, multiarch: true, seed: 11 });
    await Promise.all(images.tags.map((t) => pushLayoutToRegistry(images.layoutDir, t, src, `upstream/${t}`, 'v1')));
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop(), images?.remove()]);
  });

  it('a text list with --to: parallel, a failure does not stop the others, summary and reports name it', async () => {
    const d = tmp();
    const list = path.join(d, 'images.txt');
    writeFileSync(
      list,
      [
        '# upstream images',
        `${src.host}/upstream/img-0:v1`,
        `${src.host}/upstream/img-1:v1`,
        `${src.host}/upstream/missing:v9   # not there`,
        `${src.host}/upstream/img-2:v1  ${dst.host}/custom/place:two`,
      ].join('\n'),
    );
    const r = await runCli(['mirror', '--file', list, '--to', `${dst.host}/mirror`, '--json', '--junit', path.join(d, 'junit.xml'), '--report', path.join(d, 'report.json')]);
    expect(r.code).toBe(1);
    // Many requests share the run's cancellation signal: no listener-leak warning.
    expect(r.stderr).not.toMatch(/Warning|MaxListeners/);
    expectNoStack(r);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    expect(rep.images.map((i) => i.status)).toEqual(['copied', 'copied', 'failed', 'copied']);
    expect(rep.images[0]!.destination).toBe(`${dst.host}/mirror/upstream/img-0:v1`);
    expect(rep.images[3]!.destination).toBe(`${dst.host}/custom/place:two`);
    expect(rep.totals.failed).toBe(1);
    // The shared base layer crossed once; the other images mounted it.
    expect(rep.totals.blobs.mounted).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/1 image failed:\n.*upstream\/missing:v9.*manifest not found/);
    expect(JSON.parse(readFileSync(path.join(d, 'report.json'), 'utf8'))).toEqual(rep);
    const junit = readFileSync(path.join(d, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testsuite name="airlock mirror" tests="4" failures="1"/);
    expect(junit).toMatch(/<failure message="[^"]*missing:v9: manifest not found"/);
    expect(await skopeoInspect(`docker://${dst.host}/mirror/upstream/img-1:v1`, { raw: true })).toBe(await skopeoInspect(`docker://${src.host}/upstream/img-1:v1`, { raw: true }));
  });

  it('a YAML list with --rewrite and per-entry platforms', async () => {
    const d = tmp();
    const list = path.join(d, 'images.yaml');
    writeFileSync(
      list,
      `images:\n  - ${src.host}/upstream/img-3:v1\n  - source: ${src.host}/upstream/img-0:v1\n    platforms: [linux/arm64]\n`,
    );
    const r = await runCli(['mirror', '-f', list, '--rewrite', `${src.host}/upstream=${dst.host}/rewritten`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    expect(rep.images[0]!.destination).toBe(`${dst.host}/rewritten/img-3:v1`);
    expect(rep.images[0]!.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(rep.images[1]!.platforms).toEqual(['linux/arm64']);
    const m = JSON.parse((await skopeoInspect(`docker://${dst.host}/rewritten/img-0:v1`, { raw: true })) as string) as { mediaType: string };
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  it('an invalid list is an input error (exit 2) naming the line, and copies nothing', async () => {
    const d = tmp();
    const list = path.join(d, 'bad.txt');
    writeFileSync(list, `${src.host}/upstream/img-0:v1\nNOT/Valid Ref extra fields\n`);
    const r = await runCli(['mirror', '--file', list, '--to', `${dst.host}/never`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.txt:? line 2/);
    expectNoStack(r);
    const missing = await runCli(['mirror', '--file', path.join(d, 'absent.txt'), '--to', `${dst.host}/never`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read image list/);
    const noDest = await runCli(['mirror', '--file', list.replace('bad', 'nodest')].concat([]), { input: '' });
    expect(noDest.code).toBe(2);
  });

  it('--rewrite and --to together: rewrites first, --to for the names no rewrite matches (documented precedence)', async () => {
    const d = tmp();
    const list = path.join(d, 'images.txt');
    writeFileSync(list, [`${src.host}/upstream/img-0:v1`, `${src.host}/upstream/img-1:v1`].join('\n'));
    const r = await runCli(['mirror', '--file', list, '--rewrite', `${src.host}/upstream/img-0=${dst.host}/rewritten/zero`, '--to', `${dst.host}/fallback`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    expect(rep.images.map((i) => i.destination)).toEqual([`${dst.host}/rewritten/zero:v1`, `${dst.host}/fallback/upstream/img-1:v1`]);
  });

  it('two lines writing one destination tag are refused before anything is copied (exit 2, both lines named)', async () => {
    const d = tmp();
    const list = path.join(d, 'images.txt');
    writeFileSync(list, [`${src.host}/upstream/img-0:v1 ${dst.host}/race/app:v1`, '# another', `${src.host}/upstream/img-1:v1 ${dst.host}/race/app:v1`].join('\n'));
    const r = await runCli(['mirror', '--file', list]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/images\.txt line 1 and line 3 both write 127\.0\.0\.1:\d+\/race\/app:v1$/);
    expectNoStack(r);
    const tags = await runCli(['copy', '--dry-run', `${dst.host}/race/app:v1`, `oci:${path.join(d, 'never')}`]);
    expect(tags.code).toBe(1);
  });
});
