import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli, type CliResult } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeCa, makeServerCert, startConnectProxy, startTlsFront, type ConnectProxy, type TestCa, type TlsFront } from '../helpers/tls-front.js';

// `airlock doctor` against real docker-registry instances, one fault each: the healthy registry is
// docker-registry (htpasswd) behind HTTPS with a 90-day certificate; the faults are the same
// registry behind an expired certificate or one for another name, a TLS registry whose CA is not
// given (or the wrong one is), wrong or missing credentials, a missing tag, an unsigned image, and
// a plain-HTTP registry on a non-loopback address.

type Check = { id: string; ok: true | false | 'warn' | 'skip'; title: string; detail: string; fix?: string };
type Report = { tool: string; command: string; ok: boolean; target: Record<string, string>; checks: Check[]; summary: Record<string, number> };

const MARKS = { '✅': true, '❌': false, '⚠️': 'warn', '➖': 'skip' } as const;

/** The text report's lines: mark, title, detail, and the fix printed under it. */
function lines(r: CliResult): Array<{ ok: Check['ok']; title: string; detail: string; fix?: string }> {
  const out: Array<{ ok: Check['ok']; title: string; detail: string; fix?: string }> = [];
  for (const l of r.stdout.split('\n')) {
    const m = /^(✅|❌|⚠️|➖) (\S+(?: \S+)*?) {2,}(.*)$/.exec(l);
    if (m) out.push({ ok: MARKS[m[1] as keyof typeof MARKS], title: m[2]!, detail: m[3]! });
    const fix = /^ +fix: (.*)$/.exec(l);
    if (fix && out.length) out[out.length - 1]!.fix = fix[1]!;
  }
  return out;
}

function line(r: CliResult, title: string) {
  const found = lines(r).find((l) => l.title === title);
  if (!found) throw new Error(`no "${title}" line in:\n${r.stdout}${r.stderr}`);
  return found;
}

const json = (r: CliResult): Report => JSON.parse(r.stdout) as Report;
const check = (rep: Report, id: string): Check => {
  const c = rep.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${JSON.stringify(rep.checks, null, 2)}`);
  return c;
};

function nonLoopbackIPv4(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('airlock doctor', () => {
  let backend: TestRegistry;
  let tlsReg: TestRegistry;
  let healthy: TlsFront;
  let expired: TlsFront;
  let misnamed: TlsFront;
  let proxy: ConnectProxy;
  let images: ImageLayout;
  let ca: TestCa;
  let otherCa: TestCa;
  let dir: string;
  let signedDigest: string;
  const creds = (host: string, password?: string) => ({ AIRLOCK_REGISTRY: host, AIRLOCK_REGISTRY_USER: backend.username!, AIRLOCK_REGISTRY_PASSWORD: password ?? backend.password! });
  const doctor = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(['doctor', ...args], { env });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-doctor-'));
    [backend, tlsReg, images] = await Promise.all([
      startRegistry({ auth: 'htpasswd' }),
      startRegistry({ tls: true }),
      makeImages({ images: 2, layers: 1, layerMb: 0.01, multiarch: true, seed: 41 }),
    ]);
    [ca, otherCa] = await Promise.all([makeCa(dir, 'Airlock Doctor CA'), makeCa(dir, 'Unrelated CA')]);
    const [good, old, wrongName] = await Promise.all([
      makeServerCert(dir, ca, 'good', { san: 'IP:127.0.0.1,DNS:localhost', days: 90 }),
      makeServerCert(dir, ca, 'expired', { san: 'IP:127.0.0.1,DNS:localhost', days: -1 }),
      makeServerCert(dir, ca, 'misnamed', { san: 'DNS:registry.other.example', days: 90 }),
    ]);
    [healthy, expired, misnamed, proxy] = await Promise.all([
      startTlsFront(backend.host, good),
      startTlsFront(backend.host, old),
      startTlsFront(backend.host, wrongName),
      startConnectProxy(),
    ]);
    signedDigest = (await pushLayoutToRegistry(images.layoutDir, 'img-0', backend, 'acme/app', 'v1')).digest;
    await pushLayoutToRegistry(images.layoutDir, 'img-1', backend, 'acme/unsigned', 'v1');

    // Signed and attested with Airlock itself, through the HTTPS front.
    const env = { ...creds(healthy.host), COSIGN_PASSWORD: 'doctor test' };
    const key = path.join(dir, 'cosign');
    const gen = await runCli(['key', 'generate', '--output-key-prefix', key], { env });
    expect(gen.code, gen.stderr).toBe(0);
    const sign = await runCli(['sign', '--key', `${key}.key`, '--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], { env });
    expect(sign.code, sign.stderr).toBe(0);
    writeFileSync(path.join(dir, 'predicate.json'), '{"builder":{"id":"doctor-test"}}');
    const attest = await runCli(['attest', '--key', `${key}.key`, '--ca-file', ca.certFile, '--format', 'bundle', '--type', 'slsaprovenance1', '--predicate', path.join(dir, 'predicate.json'), `${healthy.host}/acme/app:v1`], { env });
    expect(attest.code, attest.stderr).toBe(0);
  });
  afterAll(async () => {
    await Promise.all([healthy?.stop(), expired?.stop(), misnamed?.stop(), proxy?.stop()]);
    await Promise.all([backend?.stop(), tlsReg?.stop(), images?.remove()]);
  });

  it('a healthy registry with a signed image: every line ✅, exit 0, the CA file that was used named', async () => {
    const r = await doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], creds(healthy.host));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const all = lines(r);
    expect(all.map((l) => l.title)).toEqual([
      'Proxy', 'DNS', 'TCP', 'TLS chain', 'TLS expiry', 'TLS hostname', 'Registry API', 'Auth challenge', 'Credentials', 'Login', 'Pull scope', 'Push scope', 'Image', 'Signatures', 'Attestations', 'Referrers API',
    ]);
    for (const l of all) expect(l.ok, `${l.title}: ${l.detail}`).toBe(true);
    expect(line(r, 'TLS chain').detail).toContain(`--ca-file ${ca.certFile} (CN=Airlock Doctor CA)`);
    expect(line(r, 'TLS hostname').detail).toContain('127.0.0.1');
    expect(line(r, 'Registry API').detail).toContain('Docker-Distribution-API-Version: registry/2.0');
    expect(line(r, 'Auth challenge').detail).toMatch(/^Basic/);
    expect(line(r, 'Credentials').detail).toContain(`user ${backend.username} from AIRLOCK_REGISTRY_USER/AIRLOCK_REGISTRY_PASSWORD`);
    expect(line(r, 'Pull scope').detail).toContain('repository:acme/app:pull granted');
    expect(line(r, 'Push scope').detail).toContain('repository:acme/app:push granted');
    expect(line(r, 'Image').detail).toContain(signedDigest);
    expect(line(r, 'Image').detail).toContain('linux/amd64, linux/arm64');
    expect(line(r, 'Signatures').detail).toMatch(/^1 signature found/);
    expect(line(r, 'Attestations').detail).toContain('1 Sigstore bundle attestation');
    expect(line(r, 'Attestations').detail).toContain('https://slsa.dev/provenance/v1');
    // docker-registry 2.8 has no referrers API: the bundle sits in the fallback tag.
    expect(line(r, 'Referrers API').detail).toMatch(/not supported .*present, 1 referrer/);
    expect(r.stdout).toMatch(/Result: 0 failed, 0 warnings, 16 passed: all good/);

    // The same CA from a certs.d directory is named by its path there.
    const certsDir = path.join(dir, 'certs.d');
    mkdirSync(path.join(certsDir, healthy.host), { recursive: true });
    copyFileSync(ca.certFile, path.join(certsDir, healthy.host, 'ca.crt'));
    const viaDir = await doctor(['--certs-dir', certsDir, `${healthy.host}/acme/app:v1`], creds(healthy.host));
    expect(viaDir.code, viaDir.stdout).toBe(0);
    expect(line(viaDir, 'TLS chain').detail).toContain(path.join(certsDir, healthy.host, 'ca.crt'));
  });

  it('--json: one entry per line with stable ids, the summary, and the text report on stderr', async () => {
    const r = await doctor(['--json', '--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], creds(healthy.host));
    expect(r.code, r.stderr).toBe(0);
    const rep = json(r);
    expect(rep).toMatchObject({ tool: 'airlock', command: 'doctor', ok: true, target: { registry: healthy.host, host: healthy.host, image: `${healthy.host}/acme/app:v1` } });
    expect(rep.checks.map((c) => c.id)).toEqual([
      'proxy', 'dns', 'tcp', 'tls.chain', 'tls.expiry', 'tls.hostname', 'api', 'auth.challenge', 'auth.credentials', 'auth.login', 'auth.pull', 'auth.push', 'image', 'signatures', 'attestations', 'referrers',
    ]);
    for (const c of rep.checks) {
      expect(c.ok).toBe(true);
      expect(typeof c.title).toBe('string');
      expect(c.detail.length).toBeGreaterThan(0);
      expect(c.fix).toBeUndefined();
    }
    expect(rep.summary).toEqual({ passed: 16, warnings: 0, failed: 0, skipped: 0 });
    expect(r.stderr).toContain('✅ Proxy');

    // A failure: ok false, the fix in the entry, the dependent checks skipped.
    const bad = json(await doctor(['--json', `${healthy.host}/acme/app:v1`], creds(healthy.host)));
    expect(bad.ok).toBe(false);
    expect(check(bad, 'tls.chain')).toMatchObject({ ok: false, fix: expect.stringContaining('--ca-file') });
    expect(check(bad, 'api')).toEqual({ id: 'api', ok: 'skip', title: 'Registry API', detail: 'skipped: TLS chain failed' });
    expect(bad.summary.failed).toBe(1);
  });

  it('never prints a password, token or proxy credential, in text or JSON, whether the login works or not', async () => {
    const proxyUrl = proxy.url.replace('://', '://proxyuser:proxy-secret-42@');
    const runs = await Promise.all([
      doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], creds(healthy.host)),
      doctor(['--json', '--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], creds(healthy.host)),
      doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], creds(healthy.host, 'wrong-password-1234')),
      doctor(['--json', '--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], creds(healthy.host, 'wrong-password-1234')),
      doctor(['--json', '--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], { ...creds(healthy.host), HTTPS_PROXY: proxyUrl }),
    ]);
    const basic = Buffer.from(`${backend.username}:${backend.password}`).toString('base64');
    for (const r of runs) {
      const all = r.stdout + r.stderr;
      expect(all).toContain(backend.username!);
      for (const secret of [backend.password!, basic, 'wrong-password-1234', 'proxy-secret-42']) expect(all).not.toContain(secret);
      expectNoStack(r);
    }
    expect(check(json(runs[4]!), 'proxy').detail).toContain('http://***@127.0.0.1:');
  });

  it('wrong credentials: Login ❌ naming where they came from; pull, push and the image are skipped', async () => {
    const r = await doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], creds(healthy.host, 'not-the-password'));
    expect(r.code).toBe(1);
    expect(line(r, 'Credentials').ok).toBe(true);
    const login = line(r, 'Login');
    expect(login.ok).toBe(false);
    expect(login.detail).toContain(`rejected user ${backend.username}`);
    expect(login.fix).toContain('AIRLOCK_REGISTRY_USER/AIRLOCK_REGISTRY_PASSWORD');
    for (const t of ['Pull scope', 'Push scope', 'Image', 'Signatures']) expect(line(r, t)).toMatchObject({ ok: 'skip', detail: 'skipped: Login failed' });
  });

  it('no credentials for a registry that requires a login: Credentials ❌ with how to provide them', async () => {
    const r = await doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], { AIRLOCK_REGISTRY: 'registry.elsewhere.example' });
    expect(r.code).toBe(1);
    const c = line(r, 'Credentials');
    expect(c.ok).toBe(false);
    expect(c.detail).toContain('requires a login (Basic)');
    expect(c.detail).toContain('AIRLOCK_REGISTRY=registry.elsewhere.example names another registry');
    expect(c.fix).toContain(`AIRLOCK_REGISTRY=${healthy.host}`);
  });

  it('a missing image: Image ❌ listing the tags that exist; signatures skipped', async () => {
    const r = await doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/app:v2`], creds(healthy.host));
    expect(r.code).toBe(1);
    const img = line(r, 'Image');
    expect(img).toMatchObject({ ok: false, detail: `${healthy.host}/acme/app:v2: not found` });
    // The signature and fallback tags (sha256-…) are not offered as images.
    expect(img.fix).toContain('acme/app has tag v1:');
    expect(line(r, 'Signatures')).toMatchObject({ ok: 'skip', detail: 'skipped: Image failed' });
  });

  it('an unsigned image is a warning (exit 0), and a failure with --require-signature (exit 1)', async () => {
    const r = await doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/unsigned:v1`], creds(healthy.host));
    expect(r.code, r.stdout).toBe(0);
    const sig = line(r, 'Signatures');
    expect(sig.ok).toBe('warn');
    expect(sig.detail).toMatch(/^unsigned: no sha256-[a-f0-9]{12}….sig tag and no Sigstore bundle referrer/);
    expect(sig.fix).toContain(`airlock sign --key cosign.key ${healthy.host}/acme/unsigned:v1`);
    expect(r.stdout).toMatch(/Result: 0 failed, 1 warning, 15 passed/);

    const strict = await doctor(['--require-signature', '--ca-file', ca.certFile, `${healthy.host}/acme/unsigned:v1`], creds(healthy.host));
    expect(strict.code).toBe(1);
    expect(line(strict, 'Signatures').ok).toBe(false);
  });

  it('an unknown CA: TLS chain ❌ with the exact certs.d path or --ca-file to use; the wrong CA file is named', async () => {
    const r = await doctor([`${tlsReg.host}/x/y:1`]);
    expect(r.code).toBe(1);
    const chain = line(r, 'TLS chain');
    expect(chain.ok).toBe(false);
    expect(chain.detail).toContain('CN=Airlock Test CA');
    expect(chain.detail).toContain(`/etc/docker/certs.d/${tlsReg.host}`);
    expect(chain.fix).toContain(`as /etc/docker/certs.d/${tlsReg.host}/ca.crt`);
    expect(chain.fix).toContain('--ca-file');
    expect(line(r, 'Registry API')).toMatchObject({ ok: 'skip', detail: 'skipped: TLS chain failed' });
    expectNoStack(r);

    const wrong = await doctor(['--ca-file', otherCa.certFile, `${tlsReg.host}/x/y:1`]);
    expect(wrong.code).toBe(1);
    expect(line(wrong, 'TLS chain').detail).toContain(`tried --ca-file ${otherCa.certFile} (CN=Unrelated CA)`);

    // With --certs-dir, the fix points into that directory.
    const certsDir = path.join(dir, 'empty-certs.d');
    mkdirSync(certsDir, { recursive: true });
    const inDir = await doctor(['--certs-dir', certsDir, tlsReg.host]);
    expect(line(inDir, 'TLS chain').fix).toContain(`as ${path.join(certsDir, tlsReg.host, 'ca.crt')}`);

    // The right CA: trusted. The helper's certificates last 2 days: an expiry warning, not a failure.
    const right = await doctor(['--ca-file', tlsReg.caFile!, tlsReg.host]);
    expect(right.code, right.stdout).toBe(0);
    expect(line(right, 'TLS chain')).toMatchObject({ ok: true });
    expect(line(right, 'TLS expiry')).toMatchObject({ ok: 'warn' });
    expect(line(right, 'TLS expiry').detail).toMatch(/expires on \d{4}-\d\d-\d\d \(in [0-2] days?\)/);

    // --insecure-registry: accepted, but said.
    const insecure = await doctor(['--insecure-registry', tlsReg.host, tlsReg.host]);
    expect(insecure.code, insecure.stdout).toBe(0);
    expect(line(insecure, 'TLS chain').ok).toBe('warn');
    expect(line(insecure, 'TLS chain').detail).toContain(`accepted because of --insecure-registry ${tlsReg.host}`);
  });

  it('an expired certificate: TLS expiry ❌ with the date; the chain itself is trusted', async () => {
    const r = await doctor(['--ca-file', ca.certFile, `${expired.host}/acme/app:v1`], creds(expired.host));
    expect(r.code).toBe(1);
    expect(line(r, 'TLS chain').ok).toBe(true);
    const exp = line(r, 'TLS expiry');
    expect(exp.ok).toBe(false);
    expect(exp.detail).toMatch(/^the registry's certificate expired on \d{4}-\d\d-\d\d \(1 day ago\)/);
    expect(exp.fix).toContain(`renew the registry's certificate (served by ${expired.host})`);
    expect(line(r, 'Registry API')).toMatchObject({ ok: 'skip', detail: 'skipped: TLS expiry failed' });
  });

  it('a certificate for another name: TLS hostname ❌ saying which names it has', async () => {
    const r = await doctor(['--ca-file', ca.certFile, misnamed.host], creds(misnamed.host));
    expect(r.code).toBe(1);
    expect(line(r, 'TLS chain').ok).toBe(true);
    const hn = line(r, 'TLS hostname');
    expect(hn.ok).toBe(false);
    expect(hn.detail).toBe('the certificate does not name 127.0.0.1: it is for DNS:registry.other.example');
    expect(hn.fix).toContain('subjectAltName IP:127.0.0.1');
  });

  it('a TLS proxy in front of the registry without X-Forwarded-Proto: push is granted but uploads would go to http://', async () => {
    const good = await makeServerCert(dir, ca, 'noproto', { san: 'IP:127.0.0.1', days: 90 });
    const front = await startTlsFront(backend.host, good, { forwardedProto: false });
    try {
      const r = await doctor(['--ca-file', ca.certFile, `${front.host}/acme/app:v1`], creds(front.host));
      expect(r.code, r.stdout).toBe(0);
      const push = line(r, 'Push scope');
      expect(push.ok).toBe('warn');
      expect(push.detail).toContain(`upload URLs on http:// (http://${front.host}/v2/acme/app/blobs/uploads/`);
      expect(push.fix).toContain('X-Forwarded-Proto: https');
      const strict = await doctor(['--require-push', '--ca-file', ca.certFile, `${front.host}/acme/app:v1`], creds(front.host));
      expect(strict.code).toBe(1);
      expect(line(strict, 'Push scope').ok).toBe(false);
    } finally {
      await front.stop();
    }
  });

  it('through an HTTPS_PROXY: TCP and TLS go through its CONNECT tunnel; a loopback registry behind it is a warning', async () => {
    const before = proxy.seen.length;
    const r = await doctor(['--ca-file', ca.certFile, `${healthy.host}/acme/app:v1`], { ...creds(healthy.host), HTTPS_PROXY: proxy.url });
    expect(r.code, r.stdout).toBe(0);
    expect(line(r, 'Proxy')).toMatchObject({ ok: 'warn', fix: expect.stringContaining('NO_PROXY=localhost,127.0.0.1') });
    expect(line(r, 'TCP').detail).toContain('through the proxy (HTTPS_PROXY, CONNECT tunnel)');
    expect(proxy.seen.slice(before)).toContain(healthy.host);

    const bypass = await doctor(['--ca-file', ca.certFile, healthy.host], { ...creds(healthy.host), HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' });
    expect(bypass.code).toBe(0);
    expect(line(bypass, 'Proxy')).toMatchObject({ ok: true, detail: expect.stringContaining('bypasses it (NO_PROXY entry "127.0.0.1")') });
    expect(line(bypass, 'TCP').detail).toBe(`${healthy.host} accepts connections`);
  });

  it('a Bearer token registry: the token service named, anonymous refused scope by scope, credentials accepted or rejected', async () => {
    const token = await startRegistry({ auth: 'token' });
    try {
      const ref = `${token.host}/acme/app:v1`;
      const anon = await doctor([ref]);
      expect(line(anon, 'Auth challenge').ok).toBe(true);
      expect(line(anon, 'Auth challenge').detail).toMatch(new RegExp(`^Bearer: token service http://127\\.0\\.0\\.1:\\d+/\\S* \\(service "airlock-test-registry"\\)`));
      expect(line(anon, 'Credentials')).toMatchObject({ ok: true, detail: expect.stringContaining('anonymous') });
      expect(line(anon, 'Pull scope')).toMatchObject({ ok: false, detail: expect.stringContaining('repository:acme/app:pull refused for anonymous'), fix: expect.stringContaining(`AIRLOCK_REGISTRY=${token.host}`) });
      expect(anon.code).toBe(1);

      const env = { AIRLOCK_REGISTRY: token.host, AIRLOCK_REGISTRY_USER: token.username!, AIRLOCK_REGISTRY_PASSWORD: token.password! };
      const ok = await doctor(['--require-push', ref], env);
      expect(line(ok, 'Login')).toMatchObject({ ok: true, detail: expect.stringMatching(new RegExp(`^user ${token.username} accepted \\(a token from 127\\.0\\.0\\.1:\\d+\\)$`)) });
      expect(line(ok, 'Pull scope').ok).toBe(true);
      expect(line(ok, 'Push scope').ok).toBe(true);
      expect(line(ok, 'Image').ok).toBe(false);
      expect(ok.stdout + ok.stderr).not.toContain(token.password!);

      const wrong = await doctor([ref], { ...env, AIRLOCK_REGISTRY_PASSWORD: 'nope-nope' });
      expect(line(wrong, 'Login')).toMatchObject({ ok: false, detail: expect.stringContaining(`rejected user ${token.username}`) });
      expect(wrong.code).toBe(1);
    } finally {
      await token.stop();
    }
  });

  it('DNS and TCP failures stop the checks there', async () => {
    const dns = await doctor(['registry.doctor-test.invalid']);
    expect(dns.code).toBe(1);
    expect(line(dns, 'DNS')).toMatchObject({ ok: false, fix: expect.stringContaining('getent hosts registry.doctor-test.invalid') });
    expect(line(dns, 'TCP').ok).toBe('skip');

    const tcp = await doctor(['127.0.0.1:1']);
    expect(tcp.code).toBe(1);
    expect(line(tcp, 'TCP')).toMatchObject({ ok: false, detail: '127.0.0.1:1: connection refused (nothing listens there)' });
    expect(line(tcp, 'TLS').ok).toBe('skip');
  });

  it('bad input is exit 2 with one line, no stack', async () => {
    for (const args of [['registry.example.com/Bad/Name:1'], ['registry.example.com/app@sha256:nothex'], ['oci:/tmp/layout:tag'], []]) {
      const r = await doctor(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.stdout).toBe('');
      expectNoStack(r);
    }
    expect((await doctor(['--frobnicate', 'x.example'])).code).toBe(2);
    // Without an argument, $AIRLOCK_REGISTRY is the registry to check.
    const fromEnv = await doctor(['--json', '--ca-file', ca.certFile], creds(healthy.host));
    expect(json(fromEnv).target).toMatchObject({ input: healthy.host, registry: healthy.host });
    expect(fromEnv.code).toBe(0);
  });

  it('dist/doctor.cjs runs the same command standalone', async () => {
    const r = await runCli(['--ca-file', ca.certFile, healthy.host], { bundle: 'doctor.cjs', env: creds(healthy.host) });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(line(r, 'Login').detail).toContain(`user ${backend.username} accepted`);
    expect((await runCli(['--help'], { bundle: 'doctor.cjs' })).stdout).toMatch(/Usage: doctor /);
  });
});

const address = nonLoopbackIPv4();

describe.skipIf(!address)(`airlock doctor: a plain-HTTP registry on ${address ?? '(no non-loopback address)'}, where HTTPS is expected`, () => {
  let remote: TestRegistry;
  beforeAll(async () => {
    remote = await startRegistry({ bindAddress: address! });
  });
  afterAll(async () => {
    await remote?.stop();
  });

  it('TLS ❌ saying it speaks plain HTTP, with the --insecure-registry fix; allowed (⚠️) with the flag', async () => {
    const r = await runCli(['doctor', remote.host]);
    expect(r.code).toBe(1);
    const tls = lines(r).find((l) => l.title === 'TLS')!;
    expect(tls.ok).toBe(false);
    expect(tls.detail).toContain('plain HTTP');
    expect(tls.fix).toContain(`--insecure-registry ${remote.host}`);

    const allowed = await runCli(['doctor', '--insecure-registry', remote.host, `${remote.host}/none/here:1`]);
    const all = lines(allowed);
    expect(all.find((l) => l.title === 'TLS')).toMatchObject({ ok: 'warn', detail: expect.stringContaining('unencrypted') });
    expect(all.find((l) => l.title === 'Registry API')).toMatchObject({ ok: true, detail: expect.stringContaining(`http://${remote.host}/v2/ answered HTTP 200`) });
    expect(all.find((l) => l.title === 'Image')).toMatchObject({ ok: false });
    expect(allowed.code).toBe(1);
  });
});
