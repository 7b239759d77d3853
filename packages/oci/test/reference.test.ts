import { describe, expect, it } from 'vitest';
import { AirlockError, apiHost, formatReference, parseLocation, parseReference } from '../src/index.js';

describe('parseReference (docker normalisation)', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/a/b/c:v1', 'localhost:5000/a/b/c:v1'],
    ['127.0.0.1:5000/app:v1', '127.0.0.1:5000/app:v1'],
    ['gcr.io/proj/img@sha256:' + 'a'.repeat(64), 'gcr.io/proj/img@sha256:' + 'a'.repeat(64)],
    ['gcr.io/proj/img:1.0@sha256:' + 'b'.repeat(64), 'gcr.io/proj/img:1.0@sha256:' + 'b'.repeat(64)],
    ['[::1]:5000/x:y', '[::1]:5000/x:y'],
    ['docker://quay.io/org/tool:v2'.slice(9), 'quay.io/org/tool:v2'],
  ])('%s → %s', (input, want) => {
    expect(formatReference(parseReference(input))).toBe(want);
  });

  it.each([['ubuntu:22', 'docker.io/library/ubuntu:22'], ['python:3.12', 'docker.io/library/python:3.12'], ['busybox', 'docker.io/library/busybox:latest']])(
    'a Docker Hub short name with a numeric tag stays one: %s',
    (input, want) => expect(formatReference(parseReference(input))).toBe(want),
  );

  it('a huge input is quoted cut to ~200 characters', () => {
    const huge = 'x'.repeat(5_000_000) + ' y';
    let msg = '';
    try {
      parseReference(huge);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/invalid image reference/);
    expect(msg.length).toBeLessThan(600);
  });

  it.each([
    ['', /empty/],
    ['UPPER/case', /lowercase/],
    ['host.io/Repo', /not a valid repository/],
    ['app:bad tag', /not a valid tag|not a valid repository/],
    ['app@sha256:short', /not a sha256/],
    ['host.io/', /repository is missing/],
    ['a'.repeat(300), /255/],
    // a registry host alone is not a Docker Hub image named after it
    ['127.0.0.1:15001', /the repository is missing/],
    ['127.0.0.1', /the repository is missing/],
    ['localhost:5000', /the repository is missing/],
    ['localhost', /the repository is missing/],
    ['registry.local:5000', /the repository is missing/],
    ['registry.example.com', /the repository is missing/],
    ['[::1]:5000', /the repository is missing/],
  ])('rejects %j', (input, re) => {
    expect(() => parseReference(input)).toThrowError(re);
    try {
      parseReference(input);
    } catch (e) {
      expect(e).toBeInstanceOf(AirlockError);
      expect((e as AirlockError).code).toBe('BAD_REFERENCE');
      expect((e as AirlockError).hint).toMatch(/HOST/);
    }
  });

  it('talks to registry-1.docker.io for Docker Hub', () => {
    expect(apiHost(parseReference('nginx').registry)).toBe('registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
  });

  it('can leave the tag unset for destinations', () => {
    expect(parseReference('reg.local/a', { defaultTag: false }).tag).toBeUndefined();
  });
});

describe('parseLocation', () => {
  it('reads oci:DIR[:TAG], docker:// and plain references', () => {
    expect(parseLocation('oci:/tmp/x:v1')).toMatchObject({ kind: 'layout', dir: '/tmp/x', tag: 'v1' });
    expect(parseLocation('oci:rel/dir')).toMatchObject({ kind: 'layout', dir: 'rel/dir' });
    expect(parseLocation('docker://reg.io/a:b')).toMatchObject({ kind: 'registry', ref: { registry: 'reg.io', repository: 'a', tag: 'b' } });
    expect(() => parseLocation('oci:')).toThrowError(/directory is missing/);
    expect(() => parseLocation('oci:/x:bad tag')).toThrowError(/not a valid tag/);
    expect(() => parseLocation('oci-archive:/x.tar')).toThrowError(/unsupported transport/);
    expect(parseLocation('docker-archive:/x.tar')).toEqual({ kind: 'docker-archive', file: '/x.tar', input: 'docker-archive:/x.tar' });
    expect(parseLocation('docker-archive:/x.tar:nginx')).toMatchObject({ kind: 'docker-archive', file: '/x.tar', ref: 'docker.io/library/nginx:latest' });
    expect(parseLocation('docker-archive:x.tar:reg.io:5000/a/b:1.2')).toMatchObject({ file: 'x.tar', ref: 'reg.io:5000/a/b:1.2' });
    expect(parseLocation('docker-archive:x.tar:@2')).toMatchObject({ file: 'x.tar', ref: '@2' });
    expect(() => parseLocation('docker-archive:')).toThrowError(/the file is missing/);
    expect(() => parseLocation('docker-archive:x.tar:@two')).toThrowError(/not an image index/);
    expect(() => parseLocation(`docker-archive:x.tar:a@sha256:${'a'.repeat(64)}`)).toThrowError(/by tag, not digest/);
  });
});
