import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirlockError, DefaultCredentials, normaliseConfigKey, parseChallenges, backoffMs, retryAfterMs } from '../src/index.js';

describe('WWW-Authenticate parsing', () => {
  it('parses Bearer with quoted params and several challenges', () => {
    const c = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull", Basic realm="x"');
    expect(c).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges('Bearer realm="a\\"b",error=insufficient_scope')[0]!.params).toEqual({ realm: 'a"b', error: 'insufficient_scope' });
    expect(parseChallenges(undefined)).toEqual([]);
  });
});

describe('credentials chain', () => {
  const dir = () => mkdtempSync(path.join(tmpdir(), 'airlock-cred-'));

  it('normalises config.json keys', () => {
    expect(normaliseConfigKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseConfigKey('http://reg.local:5000')).toBe('reg.local:5000');
    expect(normaliseConfigKey('ghcr.io')).toBe('ghcr.io');
  });

  it('prefers AIRLOCK_REGISTRY_*, then CI_REGISTRY_*, then DOCKER_AUTH_CONFIG, then config.json', async () => {
    const d = dir();
    writeFileSync(
      path.join(d, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hub:hubpass').toString('base64') },
          'a.io': { auth: Buffer.from('cfg:cfgpass').toString('base64') },
          'tok.io': { auth: Buffer.from('u:').toString('base64'), identitytoken: 'refresh' },
        },
      }),
    );
    const env = {
      DOCKER_CONFIG: d,
      AIRLOCK_REGISTRY: 'a.io',
      AIRLOCK_REGISTRY_USER: 'air',
      AIRLOCK_REGISTRY_PASSWORD: 'airpass',
      CI_REGISTRY: 'gitlab.io',
      CI_REGISTRY_USER: 'gitlab-ci-token',
      CI_REGISTRY_PASSWORD: 'job-token',
      DOCKER_AUTH_CONFIG: JSON.stringify({ auths: { 'var.io': { username: 'v', password: 'vp' } } }),
    };
    const c = new DefaultCredentials(env);
    expect(await c.get('a.io')).toEqual({ kind: 'basic', username: 'air', password: 'airpass' });
    expect(await c.get('gitlab.io')).toEqual({ kind: 'basic', username: 'gitlab-ci-token', password: 'job-token' });
    expect(await c.get('var.io')).toEqual({ kind: 'basic', username: 'v', password: 'vp' });
    expect(await c.get('docker.io')).toEqual({ kind: 'basic', username: 'hub', password: 'hubpass' });
    expect(await c.get('tok.io')).toEqual({ kind: 'identitytoken', username: 'u', token: 'refresh' });
    expect(await c.get('other.io')).toBeUndefined();
  });

  it('a malformed config.json is a clear error', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'config.json'), '{not json');
    await expect(new DefaultCredentials({ DOCKER_CONFIG: d }).get('x.io')).rejects.toThrowError(/docker config.json .*config.json is not valid JSON/);
    expect(() => new DefaultCredentials({ DOCKER_CONFIG: d }).check()).toThrowError(/is not valid JSON/);
  });

  it('DOCKER_AUTH_CONFIG is named as the variable it is, its content never repeated', () => {
    const secret = 'hunter2-secret-value';
    for (const text of [`{"auths": {"x.io": {"auth": 5}}, "p": "${secret}"`, `{"auths": {"x.io": {"auth": "${Buffer.from(secret).toString('base64')}"}}}`, `not json ${secret}`]) {
      let err: AirlockError | undefined;
      try {
        new DefaultCredentials({ DOCKER_AUTH_CONFIG: text }).check();
      } catch (e) {
        err = e as AirlockError;
      }
      expect(err?.code, text).toBe('BAD_INPUT');
      expect(err?.message).toMatch(/DOCKER_AUTH_CONFIG variable|malformed "auth" entry in the DOCKER_AUTH_CONFIG variable/);
      expect(`${err?.message} ${err?.hint}`).not.toContain(secret);
      expect(`${err?.message} ${err?.hint}`).not.toMatch(/the file/);
    }
  });
});

describe('retry timing helpers', () => {
  it('Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
  it('backoff grows exponentially with jitter and a cap', () => {
    const p = { retries: 5, minDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(0, p, () => 0)).toBe(50);
    expect(backoffMs(0, p, () => 1)).toBe(100);
    expect(backoffMs(2, p, () => 1)).toBe(400);
    expect(backoffMs(10, p, () => 1)).toBe(1000);
  });
});

describe('token scopes', () => {
  it('merges actions per repository and knows when a grant covers a request', async () => {
    const { mergeScopes, scopesCover } = await import('../src/index.js');
    expect(mergeScopes(['repository:a:pull', 'repository:a:push', 'repository:b:pull'], ['repository:a:pull'])).toEqual(['repository:a:pull,push', 'repository:b:pull']);
    expect(scopesCover(['repository:a:pull,push'], ['repository:a:pull'])).toBe(true);
    expect(scopesCover(['repository:a:pull'], ['repository:a:pull,push'])).toBe(false);
    expect(scopesCover(['repository:a:pull,push'], ['repository:a:push', 'repository:b:pull'])).toBe(false);
    expect(scopesCover(['repository:a:*'], ['repository:a:push'])).toBe(true);
  });
});
