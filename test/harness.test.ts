import { createHash, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImages, pushLayoutToRegistry, skopeoInspect, inspectOptionsFor, type ImageLayout } from './helpers/images.js';
import { rawRequest } from './helpers/net.js';
import { startRegistry, type RegistryOptions, type TestRegistry } from './helpers/registry.js';
import { makeSigningCert } from './helpers/certs.js';
import { signJwt } from './helpers/token-server.js';
import { requireTool } from './helpers/tools.js';

const modes: [string, RegistryOptions][] = [
  ['plain', {}],
  ['htpasswd', { auth: 'htpasswd' }],
  ['token', { auth: 'token' }],
  ['tls', { tls: true }],
  ['tls + token', { tls: true, auth: 'token', deleteEnabled: true }],
];

describe('test harness tools', () => {
  it('requireTool finds installed tools and names the fix for missing ones', () => {
    expect(requireTool('skopeo')).toMatch(/skopeo$/);
    expect(() => requireTool('airlock-no-such-tool')).toThrow(/tool airlock-no-such-tool is missing: run npm run test:all/);
  });
});

describe('real-registry harness', () => {
  let layout: ImageLayout;
  const registries = new Map<string, TestRegistry>();
  const pushed = new Map<string, string>();

  beforeAll(async () => {
    // All registries run at once: they must not collide.
    const [made, ...started] = await Promise.all([
      makeImages({ images: 2, layers: 1, layerMb: 0.01, sharedBaseMb: 0.01, multiarch: true, seed: 7 }),
      ...modes.map(([, opts]) => startRegistry(opts)),
    ]);
    layout = made as ImageLayout;
    modes.forEach(([name], i) => registries.set(name, started[i] as TestRegistry));
  });

  afterAll(async () => {
    await Promise.all([...registries.values()].map((r) => r.stop()));
    await layout?.remove();
    for (const r of registries.values()) expect(existsSync(r.dir)).toBe(false);
  });

  it('makes an OCI layout with the asked-for tags', () => {
    expect(layout.tags).toEqual(['img-0', 'img-1']);
    expect(existsSync(path.join(layout.layoutDir, 'oci-layout'))).toBe(true);
  });

  it('runs every registry on its own port', () => {
    const hosts = [...registries.values()].map((r) => r.host);
    expect(new Set(hosts).size).toBe(hosts.length);
    for (const r of registries.values()) expect(r.host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it.each(modes.map(([name]) => name))('%s: push with skopeo, inspect --raw back', async (name) => {
    const reg = registries.get(name)!;
    expect(reg.url).toBe(`${reg.tls ? 'https' : 'http'}://${reg.host}`);
    const { ref, digest } = await pushLayoutToRegistry(layout.layoutDir, 'img-0', reg, 'airlock/harness');
    const raw = await skopeoInspect(ref, { ...inspectOptionsFor(reg), raw: true });
    const index = JSON.parse(raw) as { mediaType: string; manifests: unknown[] };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests).toHaveLength(2);
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digest);
    pushed.set(name, digest);
  });

  it.each(['htpasswd', 'token', 'tls + token'])('%s: anonymous access is refused', async (name) => {
    const reg = registries.get(name)!;
    const url = `${reg.url}/v2/airlock/harness/tags/list`;
    let status: number;
    let challenge: string | null | undefined;
    if (reg.tls) {
      // fetch cannot be given a CA; rawRequest can.
      const res = await rawRequest(url, { ca: reg.caPem });
      status = res.status;
      challenge = res.headers['www-authenticate'];
    } else {
      const res = await fetch(url);
      status = res.status;
      challenge = res.headers.get('www-authenticate');
    }
    expect(status).toBe(401);
    expect(challenge).toMatch(reg.auth === 'token' ? /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token"/ : /^Basic realm=/);
  });

  it('deleteEnabled: manifests can be deleted only where enabled', async () => {
    const plain = registries.get('plain')!;
    const del = await fetch(`${plain.url}/v2/airlock/harness/manifests/${pushed.get('plain')}`, { method: 'DELETE' });
    expect(del.status).toBe(405);

    const reg = registries.get('tls + token')!;
    const ts = reg.tokenServer!;
    const scope = encodeURIComponent('repository:airlock/harness:pull,delete');
    const creds = Buffer.from(`${reg.username}:${reg.password}`).toString('base64');
    const tokenRes = await fetch(`${ts.realm}?service=${ts.service}&scope=${scope}`, {
      headers: { authorization: `Basic ${creds}` },
    });
    const { token } = (await tokenRes.json()) as { token: string };
    const res = await rawRequest(`${reg.url}/v2/airlock/harness/manifests/${pushed.get('tls + token')}`, {
      method: 'DELETE',
      ca: reg.caPem,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(202);
  });

  it('skopeo failures carry stderr and hide credentials', async () => {
    const reg = registries.get('htpasswd')!;
    const err = await skopeoInspect(`docker://${reg.host}/airlock/nope:1`, inspectOptionsFor(reg)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toMatch(/skopeo .*inspect .*failed \(exit 1\)/);
    expect(message).toMatch(/manifest unknown|not found/i);
    expect(message).not.toContain(reg.password!);
  });

  it('plain: anonymous access works', async () => {
    const res = await fetch(`${registries.get('plain')!.url}/v2/`);
    expect(res.status).toBe(200);
  });

  it('tls: the server cert verifies against caPem for 127.0.0.1 and the certs dir holds only ca.crt', async () => {
    const reg = registries.get('tls')!;
    expect(reg.caPem).toContain('BEGIN CERTIFICATE');
    expect(path.basename(reg.certsDir!)).toBe(reg.host);
    expect(existsSync(path.join(reg.certsDir!, 'ca.crt'))).toBe(true);
    expect((await rawRequest(`${reg.url}/v2/`, { ca: reg.caPem })).status).toBe(200);
    await expect(rawRequest(`${reg.url}/v2/`)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('token: issues tokens, records scopes, and grants only authenticated users', async () => {
    const reg = registries.get('token')!;
    const ts = reg.tokenServer!;
    expect(ts.issued).toBeGreaterThan(0);
    expect(ts.scopesRequested).toContain('repository:airlock/harness:pull,push');

    const scope = 'repository:airlock/harness:pull';
    const get = async (auth?: string) => {
      const res = await fetch(`${ts.realm}?service=${ts.service}&scope=${encodeURIComponent(scope)}`, {
        headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {},
      });
      return res;
    };
    const before = ts.issued;
    expect((await get(`${reg.username}:wrong`)).status).toBe(401);
    const anon = (await (await get()).json()) as { token: string };
    const user = (await (await get(`${reg.username}:${reg.password}`)).json()) as {
      token: string;
      access_token: string;
      expires_in: number;
      issued_at: string;
    };
    expect(ts.issued).toBe(before + 2);
    expect(user.access_token).toBe(user.token);
    expect(user.expires_in).toBeGreaterThan(60);

    const manifestUrl = `${reg.url}/v2/airlock/harness/manifests/img-0`;
    const accept = 'application/vnd.oci.image.index.v1+json';
    const withToken = (t: string) => fetch(manifestUrl, { headers: { authorization: `Bearer ${t}`, accept } });
    expect((await withToken(anon.token)).status).toBe(401);
    expect((await withToken(user.token)).status).toBe(200);
  });

  it('token: the registry really checks signatures (bad key, tampering, no x5c are refused)', async () => {
    const reg = registries.get('token')!;
    const keyDir = path.join(reg.dir, 'token');
    const key = createPrivateKey(readFileSync(path.join(keyDir, 'token.key')));
    const certDer = new X509Certificate(readFileSync(path.join(keyDir, 'token.crt'))).raw;
    const otherDir = path.join(reg.dir, 'other');
    mkdirSync(otherDir);
    const other = await makeSigningCert(otherDir);
    const otherKey = createPrivateKey(readFileSync(other.keyFile));
    const otherDer = new X509Certificate(readFileSync(other.certFile)).raw;
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: reg.tokenServer!.issuer,
      sub: 'airlock',
      aud: reg.tokenServer!.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: 'harness',
      access: [{ type: 'repository', name: 'airlock/harness', actions: ['pull'] }],
    };
    const status = async (token: string) =>
      (await fetch(`${reg.url}/v2/airlock/harness/tags/list`, { headers: { authorization: `Bearer ${token}` } })).status;

    const good = signJwt(claims, key, certDer);
    expect(await status(good)).toBe(200);
    expect(await status(signJwt(claims, otherKey, otherDer))).toBe(401);
    const [h, c, sig] = good.split('.') as [string, string, string];
    const tampered = Buffer.from(sig, 'base64url');
    tampered.writeUInt8(tampered.readUInt8(3) ^ 1, 3);
    expect(await status(`${h}.${c}.${tampered.toString('base64url')}`)).toBe(401);
    const bareHeader = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })).toString('base64url');
    const bareInput = `${bareHeader}.${c}`;
    const bareSig = sign('sha256', Buffer.from(bareInput), { key, dsaEncoding: 'ieee-p1363' });
    expect(await status(`${bareInput}.${bareSig.toString('base64url')}`)).toBe(401);
    // distribution 2.8 wants `aud` as a string, not an array.
    expect(await status(signJwt({ ...claims, aud: [claims.aud] }, key, certDer))).toBe(401);
  });
});
