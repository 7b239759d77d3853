import { chmodSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'airlock-auth-'));

describe('authentication and TLS against real registries', () => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  let tls: TestRegistry;
  let mtls: TestRegistry;
  let images: ImageLayout;

  beforeAll(async () => {
    [plain, basic, token, tls] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'htpasswd' }),
      startRegistry({ auth: 'token' }),
      startRegistry({ tls: true }),
    ]);
    mtls = await startRegistry({ tls: true, clientAuth: true });
    images = await makeImages({ images: 3, layers: 1, layerMb: 0.05, sharedBaseMb: 0.1, seed: 5 });
    await Promise.all(images.tags.map((t) => pushLayoutToRegistry(images.layoutDir, t, plain, `src/${t}`, 'v1')));
  });
  afterAll(async () => {
    await Promise.all([plain, basic, token, tls, mtls].map((r) => r?.stop()));
    await images?.remove();
  });

  it('Basic auth: 401 without credentials is one clear line; AIRLOCK_REGISTRY_* credentials work and never show', async () => {
    const anon = await runCli(['copy', `${plain.host}/src/img-0:v1`, `${basic.host}/dst/a:v1`]);
    expect(anon.code).toBe(1);
    expect(anon.stderr).toMatch(new RegExp(`${basic.host.replace(/\./g, '\\.')} requires authentication`));
    expect(anon.stderr).toContain('AIRLOCK_REGISTRY_USER');
    expectNoStack(anon);

    const wrong = await runCli(['copy', `${plain.host}/src/img-0:v1`, `${basic.host}/dst/a:v1`], {
      env: { AIRLOCK_REGISTRY: basic.host, AIRLOCK_REGISTRY_USER: basic.username!, AIRLOCK_REGISTRY_PASSWORD: 'wrong-password' },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/rejected the credentials/);

    const ok = await runCli(['copy', `${plain.host}/src/img-0:v1`, `${basic.host}/dst/a:v1`, '--json'], {
      env: { AIRLOCK_REGISTRY: basic.host, AIRLOCK_REGISTRY_USER: basic.username!, AIRLOCK_REGISTRY_PASSWORD: basic.password! },
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(basic.password!);
    expect(await skopeoInspect(`docker://${basic.host}/dst/a:v1`, { raw: true, creds: `${basic.username}:${basic.password}` })).toBe(
      await skopeoInspect(`docker://${plain.host}/src/img-0:v1`, { raw: true }),
    );
  });

  it('secrets never appear in stdout, stderr, --report, --junit or --json of failing runs', async () => {
    const d = tmp();
    const regSecret = `wrong-${basic.password!}-Zq9`;
    const cosignSecret = 'cosign-secret-Hx71-never-shown';
    const keys = await runCli(['key', 'generate', '--output-key-prefix', path.join(d, 'cosign')], { env: { COSIGN_PASSWORD: cosignSecret } });
    expect(keys.code, keys.stderr).toBe(0);
    const env = { AIRLOCK_REGISTRY: basic.host, AIRLOCK_REGISTRY_USER: basic.username!, AIRLOCK_REGISTRY_PASSWORD: regSecret, COSIGN_PASSWORD: cosignSecret };
    const out = (name: string) => path.join(d, name);
    const list = out('list.txt');
    writeFileSync(list, `${plain.host}/src/img-0:v1 ${basic.host}/secret/a:v1\n${basic.host}/secret/none:v1 ${plain.host}/secret/b:v1\n`);
    const runs = await Promise.all([
      // wrong registry password: the copy fails (exit 1), its reports name the failure
      runCli(['copy', '--retries', '0', `${plain.host}/src/img-0:v1`, `${basic.host}/secret/a:v1`, '--json', '--report', out('copy.json'), '--junit', out('copy.xml')], { env }),
      runCli(['mirror', '--retries', '0', '-f', list, '--json', '--report', out('mirror.json'), '--junit', out('mirror.xml')], { env }),
      // signing into a registry that refuses the credentials
      runCli(['sign', '--retries', '0', '--key', out('cosign.key'), '--report', out('sign.json'), '--json', `${basic.host}/secret/a:v1`], { env }),
      runCli(['verify', '--retries', '0', '--key', out('cosign.pub'), '--report', out('verify.json'), '--junit', out('verify.xml'), `${basic.host}/secret/a:v1`], { env }),
      // a wrong key password, and the registry password inside a broken DOCKER_AUTH_CONFIG
      runCli(['sign', '--key', out('cosign.key'), `${basic.host}/secret/a:v1`], { env: { ...env, COSIGN_PASSWORD: `not-${cosignSecret}` } }),
      runCli(['copy', `${basic.host}/secret/a:v1`, `oci:${out('layout')}`], { env: { DOCKER_AUTH_CONFIG: `{"auths": {"${basic.host}": {"auth": "${regSecret}"` } }),
    ]);
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1, 2, 2]);
    const reports = ['copy.json', 'copy.xml', 'mirror.json', 'mirror.xml', 'sign.json', 'verify.json', 'verify.xml'].map((f) => readFileSync(out(f), 'utf8'));
    for (const text of [...runs.map((r) => r.stdout + r.stderr), ...reports]) {
      expect(text).not.toContain(regSecret);
      expect(text).not.toContain(basic.password!);
      expect(text).not.toContain(cosignSecret);
      expect(text).not.toContain(Buffer.from(`${basic.username}:${regSecret}`).toString('base64'));
    }
    expect(runs[0]!.stderr).toMatch(/rejected the credentials/);
  });

  it('GitLab CI_REGISTRY variables apply to $CI_REGISTRY', async () => {
    const r = await runCli(['copy', `${plain.host}/src/img-1:v1`, `${basic.host}/gitlab/a:v1`], {
      env: { CI_REGISTRY: basic.host, CI_REGISTRY_USER: basic.username!, CI_REGISTRY_PASSWORD: basic.password! },
    });
    expect(r.code, r.stderr).toBe(0);
  });

  it('Bearer tokens from docker config.json, cached per scope', async () => {
    const cfgDir = tmp();
    const auth = Buffer.from(`${token.username}:${token.password}`).toString('base64');
    writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify({ auths: { [`https://${token.host}`]: { auth } } }));
    const before = token.tokenServer!.issued;
    const list = path.join(tmp(), 'list.txt');
    writeFileSync(list, images.tags.map((t) => `${plain.host}/src/${t}:v1 ${token.host}/tok/${t}:v1`).join('\n'));
    const r = await runCli(['mirror', '--file', list, '--json'], { env: { DOCKER_CONFIG: cfgDir } });
    expect(r.code, r.stderr).toBe(0);
    const issued = token.tokenServer!.issued - before;
    // One token per destination repository scope (plus at most one per mount scope), not one per request.
    expect(issued).toBeGreaterThanOrEqual(3);
    expect(issued, token.tokenServer!.scopesRequested.join('\n')).toBeLessThanOrEqual(6);
    expect(token.tokenServer!.scopesRequested.some((s) => s.includes('tok/img-0:pull,push'))).toBe(true);
  });

  it('credential helpers from config.json (credHelpers, credsStore) run as docker-credential-NAME get', async () => {
    const binDir = tmp();
    const helper = path.join(binDir, 'docker-credential-airlocktest');
    writeFileSync(
      helper,
      `#!/bin/sh\nread server\nif [ "$1" = get ] && [ "$server" = "${token.host}" ]; then echo '{"ServerURL":"'$server'","Username":"${token.username}","Secret":"${token.password}"}'; else echo "credentials not found in native keychain"; exit 1; fi\n`,
    );
    chmodSync(helper, 0o755);
    const cfgDir = tmp();
    writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify({ credHelpers: { [token.host]: 'airlocktest' } }));
    const r = await runCli(['copy', `${plain.host}/src/img-2:v1`, `${token.host}/helper/a:v1`], {
      env: { DOCKER_CONFIG: cfgDir, PATH: `${binDir}:${process.env.PATH}` },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain(token.password!);

    // credsStore asks the helper for every registry: "not found" (the anonymous source) is no error.
    const storeDir = tmp();
    writeFileSync(path.join(storeDir, 'config.json'), JSON.stringify({ credsStore: 'airlocktest' }));
    const store = await runCli(['copy', `${plain.host}/src/img-2:v1`, `${token.host}/store/a:v1`], {
      env: { DOCKER_CONFIG: storeDir, PATH: `${binDir}:${process.env.PATH}` },
    });
    expect(store.code, store.stderr).toBe(0);
    expect(store.stderr).not.toContain(token.password!);
    // Without the helper's answer the token registry refuses: the credentials did come from it.
    const none = await runCli(['copy', '--retries', '0', `${plain.host}/src/img-2:v1`, `${token.host}/store/b:v1`], { env: { DOCKER_CONFIG: tmp() } });
    expect(none.code).toBe(1);
  });

  it('TLS: verified by default; --ca-file, a certs.d directory or --insecure-registry make it work', async () => {
    const refused = await runCli(['copy', '--retries', '0', `${plain.host}/src/img-0:v1`, `${tls.host}/t/a:v1`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/TLS verification failed/);
    expect(refused.stderr).toContain('--ca-file');
    expectNoStack(refused);

    const withCa = await runCli(['copy', '--ca-file', tls.caFile!, `${plain.host}/src/img-0:v1`, `${tls.host}/t/a:v1`]);
    expect(withCa.code, withCa.stderr).toBe(0);

    const certsRoot = tmp();
    mkdirSync(path.join(certsRoot, tls.host), { recursive: true });
    writeFileSync(path.join(certsRoot, tls.host, 'ca.crt'), tls.caPem!);
    const withDir = await runCli(['copy', '--certs-dir', certsRoot, `${plain.host}/src/img-1:v1`, `${tls.host}/t/b:v1`]);
    expect(withDir.code, withDir.stderr).toBe(0);

    const insecure = await runCli(['copy', '--insecure-registry', tls.host, `${plain.host}/src/img-2:v1`, `${tls.host}/t/c:v1`]);
    expect(insecure.code, insecure.stderr).toBe(0);
  });

  it('client certificates from a certs.d directory (client.cert, client.key) for registries that require them', async () => {
    const without = await runCli(['copy', '--retries', '0', '--ca-file', mtls.caFile!, `${plain.host}/src/img-0:v1`, `${mtls.host}/m/a:v1`]);
    expect(without.code).toBe(1);
    expectNoStack(without);
    const certsRoot = tmp();
    mkdirSync(path.join(certsRoot, mtls.host), { recursive: true });
    writeFileSync(path.join(certsRoot, mtls.host, 'ca.crt'), mtls.caPem!);
    writeFileSync(path.join(certsRoot, mtls.host, 'client.cert'), readFileSync(mtls.clientCertFile!));
    writeFileSync(path.join(certsRoot, mtls.host, 'client.key'), readFileSync(mtls.clientKeyFile!));
    const withCert = await runCli(['copy', '--certs-dir', certsRoot, `${plain.host}/src/img-0:v1`, `${mtls.host}/m/a:v1`]);
    expect(withCert.code, withCert.stderr).toBe(0);
  });

  it('an identitytoken in config.json is exchanged with the OAuth2 refresh-token grant', async () => {
    const cfgDir = tmp();
    const t = token.tokenServer!;
    writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify({ auths: { [token.host]: { auth: Buffer.from(`${token.username}:`).toString('base64'), identitytoken: t.refreshToken } } }));
    const before = t.refreshGrants;
    const r = await runCli(['copy', `${plain.host}/src/img-1:v1`, `${token.host}/idtoken/a:v1`], { env: { DOCKER_CONFIG: cfgDir } });
    expect(r.code, r.stderr).toBe(0);
    expect(t.refreshGrants).toBeGreaterThan(before);
    expect(r.stderr).not.toContain(t.refreshToken);
    writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify({ auths: { [token.host]: { identitytoken: 'revoked' } } }));
    const bad = await runCli(['copy', `${plain.host}/src/img-1:v1`, `${token.host}/idtoken/b:v1`], { env: { DOCKER_CONFIG: cfgDir } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/rejected the credentials/);
  });
});
