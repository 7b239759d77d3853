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
});
