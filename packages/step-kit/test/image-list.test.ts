import { describe, expect, it } from 'vitest';
import { destinationFor, parseRewrite } from '@airlock/oci';
import { parseImageList, planTransfers } from '../src/image-list.js';

describe('mirror lists', () => {
  it('reads text lines with comments and optional destinations', () => {
    const e = parseImageList('# images\n gcr.io/acme/api:1.4   # the API\n\ndocker.io/library/redis:7.2 reg.local/cache/redis:7.2\n', 'list.txt');
    expect(e).toEqual([
      { source: 'gcr.io/acme/api:1.4', where: 'list.txt line 2' },
      { source: 'docker.io/library/redis:7.2', destination: 'reg.local/cache/redis:7.2', where: 'list.txt line 4' },
    ]);
    expect(() => parseImageList('a b c\n', 'l.txt')).toThrowError(/line 1: expected "SOURCE \[DESTINATION\]"/);
    expect(() => parseImageList('# nothing\n', 'l.txt')).toThrowError(/names no images/);
  });

  it('reads YAML validated by schema', () => {
    const e = parseImageList('images:\n  - gcr.io/a/b:1\n  - source: quay.io/x/y:2\n    destination: reg.local/y:2\n    platforms: [linux/amd64]\n', 'l.yaml');
    expect(e[1]).toEqual({ source: 'quay.io/x/y:2', destination: 'reg.local/y:2', platforms: ['linux/amd64'], where: 'l.yaml entry 2' });
    expect(() => parseImageList('images:\n  - source: a\n    bogus: 1\n', 'l.yaml')).toThrowError(/invalid list at images.0/);
    expect(() => parseImageList('images: [\n', 'l.yaml')).toThrowError(/not valid YAML/);
  });

  it('--to drops the source host; --rewrite replaces a leading prefix at a path boundary', () => {
    expect(destinationFor('gcr.io/acme/api:1.4', { to: 'reg.local/mirror/', rewrites: [] }, 'x')).toBe('reg.local/mirror/acme/api:1.4');
    expect(destinationFor('nginx:1.27', { to: 'reg.local/m', rewrites: [] }, 'x')).toBe('reg.local/m/library/nginx:1.27');
    const rw = [parseRewrite('gcr.io/acme=registry.local/acme')];
    expect(destinationFor('gcr.io/acme/api:1.4', { rewrites: rw }, 'x')).toBe('registry.local/acme/api:1.4');
    expect(() => destinationFor('gcr.io/acmex/api:1', { rewrites: rw }, 'x')).toThrowError(/no destination/);
    expect(destinationFor('gcr.io/acme/api@sha256:' + 'c'.repeat(64), { rewrites: rw }, 'x')).toBe('registry.local/acme/api@sha256:' + 'c'.repeat(64));
    expect(destinationFor('nginx:1', { rewrites: [parseRewrite('docker.io/library=reg.local/hub')] }, 'x')).toBe('reg.local/hub/nginx:1');
    expect(() => parseRewrite('nothing')).toThrowError(/OLD=NEW/);
  });

  it('checks every entry before anything is copied, naming the line', () => {
    const entries = parseImageList('gcr.io/a/b:1\nBAD REF\n', 'l.txt');
    expect(() => planTransfers(entries, { to: 'r.local', rewrites: [] })).toThrowError(/l.txt line 2: invalid image reference/);
    const jobs = planTransfers(parseImageList('gcr.io/a/b:1\n', 'l.txt'), { to: 'r.local', rewrites: [] });
    expect(jobs[0]!.destination).toMatchObject({ kind: 'registry', ref: { registry: 'r.local', repository: 'a/b', tag: '1' } });
  });

  it('--rewrite first, then --to as the fallback for names no rewrite matches (documented precedence)', () => {
    const opts = { to: 'reg.local/mirror', rewrites: [parseRewrite('gcr.io/acme=registry.local/acme'), parseRewrite('gcr.io=registry.local/gcr')] };
    const list = ['gcr.io/acme/api:1.4', 'gcr.io/other/x:2', 'quay.io/org/tool:v2', 'registry.local/own/thing:3 oci:/tmp/x'].join('\n');
    const jobs = planTransfers(parseImageList(list, 'l.txt'), opts);
    const names = jobs.map((j) => (j.destination.kind === 'registry' ? `${j.destination.ref.registry}/${j.destination.ref.repository}:${j.destination.ref.tag}` : j.destination.input));
    // the first matching rewrite wins; the second catches the rest of gcr.io; --to takes what no
    // rewrite matches; an explicit destination beats both
    expect(names).toEqual(['registry.local/acme/api:1.4', 'registry.local/gcr/other/x:2', 'reg.local/mirror/org/tool:v2', 'oci:/tmp/x']);
  });

  it('"no destination" names its location once', () => {
    let msg = '';
    try {
      planTransfers(parseImageList('gcr.io/a/b:1', 'l.txt'), { rewrites: [] });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe('l.txt line 1: no destination for "gcr.io/a/b:1"');
  });

  it('two entries writing the same destination tag are refused, naming both lines', () => {
    const same = parseImageList(['gcr.io/a/app:1 reg.local/x/app:1', 'quay.io/b/app:1 reg.local/x/app:1'].join('\n'), 'l.txt');
    expect(() => planTransfers(same, { rewrites: [] })).toThrowError(/l\.txt line 1 and line 2 both write reg\.local\/x\/app:1/);
    // via --to: both land on r.local/a/app:1 (the default tag is the source's)
    const viaTo = parseImageList(['# c', 'gcr.io/a/app:1', 'quay.io/a/app:1'].join('\n'), 'l.txt');
    expect(() => planTransfers(viaTo, { to: 'r.local', rewrites: [] })).toThrowError(/line 2 and line 3 both write r\.local\/a\/app:1/);
    const yaml = parseImageList(['images:', '  - source: gcr.io/a/app:1', '    destination: oci:/tmp/l:t', '  - source: gcr.io/b/app:2', '    destination: oci:/tmp/l/:t'].join('\n'), 'l.yaml');
    expect(() => planTransfers(yaml, { rewrites: [] })).toThrowError(/l\.yaml entry 1 and entry 2 both write oci:\/tmp\/l:t/);
    // different tags: no conflict
    expect(planTransfers(parseImageList(['gcr.io/a/app:1 reg.local/x/app', 'gcr.io/a/app:2 reg.local/x/app'].join('\n'), 'l.txt'), { rewrites: [] })).toHaveLength(2);
  });

  it('a 10 MB line is quoted cut to ~200 characters', () => {
    const line = 'a'.repeat(10 * 1024 * 1024);
    let msg = '';
    try {
      planTransfers(parseImageList(`${line}:x y`, 'l.txt'), { to: 'r.local', rewrites: [] });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/l\.txt line 1: invalid image reference/);
    expect(msg.length).toBeLessThan(600);
  });
});
