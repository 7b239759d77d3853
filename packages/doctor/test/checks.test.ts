import { describe, expect, it } from 'vitest';
import { challengeCheck, credentialsCheck, pickChallenge } from '../src/checks/auth.js';
import { credentialEnvNotes } from '../src/checks/credentials.js';
import { noProxyMatch, proxyCheck, proxyRoute, redactUrl } from '../src/checks/proxy.js';
import { type CertInfo, tlsChecks, type TlsContext } from '../src/checks/tls.js';
import { buildReport, redact, renderText } from '../src/report.js';
import { parseTarget } from '../src/target.js';

describe('parseTarget', () => {
  it('tells a registry from an image, as docker splits names', () => {
    expect(parseTarget('registry.local:5000')).toEqual({ input: 'registry.local:5000', registry: 'registry.local:5000', host: 'registry.local:5000', hostname: 'registry.local', port: 5000 });
    expect(parseTarget('https://registry.local/v2/')).toMatchObject({ registry: 'registry.local', port: 443 });
    expect(parseTarget('localhost')).toMatchObject({ registry: 'localhost', port: 443 });
    expect(parseTarget('localhost').image).toBeUndefined();
    expect(parseTarget('[::1]:5000')).toMatchObject({ hostname: '::1', port: 5000 });
    expect(parseTarget('docker://registry.local/acme/app:1.4').image).toEqual({ registry: 'registry.local', repository: 'acme/app', tag: '1.4' });
    // A bare word is a Docker Hub image, spoken to at registry-1.docker.io.
    expect(parseTarget('nginx')).toMatchObject({ registry: 'docker.io', host: 'registry-1.docker.io', image: { repository: 'library/nginx', tag: 'latest' } });
  });

  it('takes $AIRLOCK_REGISTRY, then $CI_REGISTRY, when no argument is given; refuses what is not a registry', () => {
    expect(parseTarget(undefined, { AIRLOCK_REGISTRY: 'a.example', CI_REGISTRY: 'b.example' }).registry).toBe('a.example');
    expect(parseTarget(undefined, { CI_REGISTRY: 'b.example' }).registry).toBe('b.example');
    expect(() => parseTarget(undefined, {})).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => parseTarget('oci:./layout:tag')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => parseTarget('registry.local/Upper/Case')).toThrow(expect.objectContaining({ code: 'BAD_REFERENCE' }));
    expect(() => parseTarget('bad_host!:5000')).toThrow(expect.objectContaining({ code: 'BAD_REFERENCE' }));
  });
});

describe('proxy', () => {
  it('matches NO_PROXY as undici does: exact, subdomain, leading dot or *., port-qualified, lower case first', () => {
    const env = { NO_PROXY: 'corp.example, .svc.local,*.mesh,registry:5000' };
    expect(noProxyMatch(env, 'corp.example', 443)).toBe('corp.example');
    expect(noProxyMatch(env, 'registry.corp.example:443', 443)).toBe('corp.example');
    expect(noProxyMatch(env, 'reg.svc.local', 443)).toBe('.svc.local');
    expect(noProxyMatch(env, 'a.mesh', 443)).toBe('*.mesh');
    expect(noProxyMatch(env, 'registry:5000', 5000)).toBe('registry:5000');
    expect(noProxyMatch(env, 'registry:5001', 5001)).toBeUndefined();
    expect(noProxyMatch(env, 'notcorp.example', 443)).toBeUndefined();
    expect(noProxyMatch({ no_proxy: '', NO_PROXY: 'corp.example' }, 'corp.example', 443)).toBeUndefined();
    expect(noProxyMatch({ NO_PROXY: '*' }, 'anything', 443)).toBe('*');
  });

  it('routes https through HTTPS_PROXY, falling back to HTTP_PROXY; lower case wins', () => {
    expect(proxyRoute({}, 'r.example', 443)).toBeUndefined();
    expect(proxyRoute({ HTTP_PROXY: 'http://p:3128' }, 'r.example', 443)?.variable).toBe('HTTP_PROXY');
    expect(proxyRoute({ https_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2' }, 'r.example', 443)).toMatchObject({ variable: 'https_proxy' });
    expect(proxyRoute({ HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'r.example' }, 'r.example', 443)).toBeUndefined();
  });

  it('warns about loopback through a proxy, CIDR NO_PROXY entries and conflicting spellings; fails on a non-URL', () => {
    expect(proxyCheck({}, 'r.example', 443)).toMatchObject({ ok: true });
    expect(proxyCheck({ HTTPS_PROXY: 'http://p:3128' }, '127.0.0.1:5000', 5000)).toMatchObject({ ok: 'warn', fix: expect.stringContaining('NO_PROXY=localhost,127.0.0.1') });
    expect(proxyCheck({ HTTPS_PROXY: 'http://p:3128', NO_PROXY: '10.0.0.0/8' }, '10.1.2.3:5000', 5000)).toMatchObject({ ok: 'warn', detail: expect.stringContaining('CIDR'), fix: 'list the address itself: NO_PROXY=10.0.0.0/8,10.1.2.3' });
    expect(proxyCheck({ https_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2' }, 'r.example', 443)).toMatchObject({ ok: 'warn', detail: expect.stringContaining('https_proxy and HTTPS_PROXY differ') });
    expect(proxyCheck({ HTTPS_PROXY: 'proxy.example' }, 'r.example', 443)).toMatchObject({ ok: false });
  });

  it('never shows proxy credentials', () => {
    expect(redactUrl('http://user:pa%40ss@proxy:3128')).toBe('http://***@proxy:3128/');
    expect(redactUrl('http://proxy:3128')).toBe('http://proxy:3128');
    expect(proxyCheck({ HTTPS_PROXY: 'http://user:s3cret@proxy:3128' }, 'r.example', 443).detail).not.toContain('s3cret');
  });
});

describe('credential environment notes', () => {
  it('names settings meant for this registry that are not used', () => {
    expect(credentialEnvNotes({ AIRLOCK_REGISTRY: 'other.example', AIRLOCK_REGISTRY_USER: 'u', AIRLOCK_REGISTRY_PASSWORD: 'p' }, 'r.example')).toEqual([
      'AIRLOCK_REGISTRY=other.example names another registry: its user and password are not used for r.example',
    ]);
    expect(credentialEnvNotes({ AIRLOCK_REGISTRY: 'https://r.example', AIRLOCK_REGISTRY_USER: 'u' }, 'r.example')).toEqual(['AIRLOCK_REGISTRY names r.example but AIRLOCK_REGISTRY_PASSWORD is empty: ignored']);
    expect(credentialEnvNotes({ AIRLOCK_REGISTRY_USER: 'u', AIRLOCK_REGISTRY_PASSWORD: 'p' }, 'r.example')[0]).toMatch(/AIRLOCK_REGISTRY is not: they are ignored/);
    expect(credentialEnvNotes({ CI_REGISTRY: 'gitlab.example', CI_REGISTRY_USER: 'u', CI_REGISTRY_PASSWORD: 'p' }, 'r.example')).toEqual([]);
  });
});

describe('auth verdicts', () => {
  it('reads the challenge of an anonymous GET /v2/', () => {
    expect(pickChallenge(200, undefined)).toBeUndefined();
    const bearer = pickChallenge(401, 'Basic realm="x", Bearer realm="https://auth.example/token",service="reg"');
    expect(bearer).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg' } });
    expect(challengeCheck(bearer, 'reg.example')).toMatchObject({ ok: true, detail: 'Bearer: token service https://auth.example/token (service "reg")' });
    expect(challengeCheck(pickChallenge(401, 'Bearer realm="http://auth.example/token"'), 'reg.example')).toMatchObject({ ok: 'warn' });
    expect(challengeCheck(pickChallenge(401, 'Negotiate'), 'reg.example')).toMatchObject({ ok: false });
    expect(challengeCheck(pickChallenge(401, 'Bearer service="x"'), 'reg.example')).toMatchObject({ ok: false });
  });

  it('shows the user name and where it came from, never the secret; Basic without credentials fails', () => {
    const env = { AIRLOCK_REGISTRY: 'reg.example', AIRLOCK_REGISTRY_USER: 'ci', AIRLOCK_REGISTRY_PASSWORD: 'hunter22' };
    const found = credentialsCheck({ ok: true, credential: { kind: 'basic', username: 'ci', password: 'hunter22' } }, { scheme: 'basic', params: {} }, 'reg.example', env);
    expect(found).toEqual({ id: 'auth.credentials', ok: true, title: 'Credentials', detail: 'user ci from AIRLOCK_REGISTRY_USER/AIRLOCK_REGISTRY_PASSWORD' });
    expect(credentialsCheck({ ok: true }, { scheme: 'basic', params: {} }, 'reg.example', {})).toMatchObject({ ok: false, fix: expect.stringContaining('AIRLOCK_REGISTRY=reg.example') });
    expect(credentialsCheck({ ok: true }, { scheme: 'bearer', params: {} }, 'reg.example', {})).toMatchObject({ ok: true, detail: expect.stringContaining('anonymous') });
    expect(credentialsCheck({ ok: false, message: 'docker config.json is not valid JSON', hint: 'fix or remove the file' }, undefined, 'reg.example', {})).toMatchObject({ ok: false, fix: 'fix or remove the file' });
  });
});

describe('TLS verdicts', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const cert = (o: Partial<CertInfo> = {}): CertInfo => ({
    subject: 'CN=registry',
    issuer: 'CN=Corp CA',
    subjectAltName: 'DNS:registry.corp',
    validFrom: new Date('2026-01-01T00:00:00Z'),
    validTo: new Date('2026-12-01T00:00:00Z'),
    fingerprint256: 'AA:BB',
    ...o,
  });
  const ctx = (o: Partial<TlsContext> = {}): TlsContext => ({
    host: 'registry.corp:5000',
    hostname: 'registry.corp',
    insecure: false,
    loopback: false,
    material: { sources: [{ label: "Node's bundled root CAs", certs: [] }], searched: ['/etc/docker/certs.d/registry.corp:5000', '/etc/docker/certs.d/registry.corp'], missingCaFiles: [] },
    certsDirs: [],
    now,
    ...o,
  });
  const tls = (o: Partial<Extract<Parameters<typeof tlsChecks>[0], { kind: 'tls' }>> = {}) => ({ kind: 'tls' as const, protocol: 'TLSv1.3', chain: [cert()], ...o });

  it('all good: trusted, not expiring soon, host named', () => {
    const [chain, expiry, host] = tlsChecks(tls({ trustedBy: { label: '--ca-file corp.crt', ca: 'CN=Corp CA' } }), ctx());
    expect(chain).toMatchObject({ ok: true, detail: expect.stringContaining('trusted via --ca-file corp.crt (CN=Corp CA)') });
    expect(expiry).toMatchObject({ ok: true, detail: 'valid until 2026-12-01 (183 days)' });
    expect(host).toMatchObject({ ok: true });
  });

  it('an unknown CA: the fix names the certs.d path (or the first --certs-dir) and what was tried', () => {
    const [chain] = tlsChecks(tls({ authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), ctx({ material: { ...ctx().material, missingCaFiles: ['/nope.crt'] } }));
    expect(chain).toMatchObject({ ok: false });
    expect(chain!.detail).toContain('no CA file for registry.corp:5000 (looked in /etc/docker/certs.d/registry.corp:5000, /etc/docker/certs.d/registry.corp; no --ca-file)');
    expect(chain!.detail).toContain('--ca-file /nope.crt is not a readable file');
    expect(chain!.fix).toContain('(CN=Corp CA) as /etc/docker/certs.d/registry.corp:5000/ca.crt, or pass --ca-file');
    expect(tlsChecks(tls({ authorizationError: 'SELF_SIGNED_CERT_IN_CHAIN' }), ctx({ certsDirs: ['/srv/certs'] }))[0]!.fix).toContain('as /srv/certs/registry.corp:5000/ca.crt');
  });

  it('a CA bundle is summarised by count; NODE_EXTRA_CA_CERTS ignored next to a CA file is said', () => {
    const bundle = { label: '--ca-file /etc/ssl/bundle.pem', certs: new Array(140).fill({ subject: 'CN=x' }) };
    const [chain] = tlsChecks(tls({ authorizationError: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }), ctx({ material: { ...ctx().material, sources: [bundle as never], ignoredExtraCa: '/etc/ssl/certs/ca-certificates.crt' } }));
    expect(chain!.detail).toContain('tried --ca-file /etc/ssl/bundle.pem (140 certificates)');
    expect(chain!.detail).toContain("NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt is not read once a CA file applies (Node's rule)");
  });

  it('expiry: expired fails, not yet valid blames the clock, within 14 days warns; --insecure-registry turns failures into warnings', () => {
    const expired = tlsChecks(tls({ chain: [cert({ validTo: new Date('2026-05-29T12:00:00Z') })], authorizationError: 'CERT_HAS_EXPIRED', trustedBy: { label: 'x', ca: 'CN=Corp CA' } }), ctx());
    expect(expired[0]).toMatchObject({ ok: true });
    expect(expired[1]).toMatchObject({ ok: false, detail: "the registry's certificate expired on 2026-05-29 (2 days ago)" });
    expect(tlsChecks(tls({ chain: [cert({ validFrom: new Date('2026-07-01T00:00:00Z') })] }), ctx())[1]).toMatchObject({ ok: false, fix: expect.stringContaining('clock') });
    expect(tlsChecks(tls({ chain: [cert({ validTo: new Date('2026-06-08T00:00:00Z') })] }), ctx())[1]).toMatchObject({ ok: 'warn', detail: 'certificate expires on 2026-06-08 (in 7 days)' });
    expect(tlsChecks(tls({ chain: [cert({ validTo: new Date('2026-05-01T00:00:00Z') })] }), ctx({ insecure: true }))[1]).toMatchObject({ ok: 'warn', detail: expect.stringContaining('accepted because of --insecure-registry registry.corp:5000') });
  });

  it('plain HTTP: fine for loopback, a warning with --insecure-registry, else a failure naming the flag', () => {
    expect(tlsChecks({ kind: 'plain-http' }, ctx({ loopback: true }))[0]!.ok).toBe(true);
    expect(tlsChecks({ kind: 'plain-http' }, ctx({ insecure: true }))[0]!.ok).toBe('warn');
    expect(tlsChecks({ kind: 'plain-http' }, ctx())[0]).toMatchObject({ ok: false, fix: expect.stringContaining('--insecure-registry registry.corp:5000') });
  });

  it('host name: a mismatch names what the certificate is for', () => {
    const [, , host] = tlsChecks(tls({ authorizationError: 'ERR_TLS_CERT_ALTNAME_INVALID', hostnameError: 'mismatch' }), ctx({ hostname: 'registry.other' }));
    expect(host).toMatchObject({ ok: false, detail: 'the certificate does not name registry.other: it is for DNS:registry.corp', fix: expect.stringContaining('subjectAltName DNS:registry.other') });
  });
});

describe('report', () => {
  const target = parseTarget('registry.local/acme/app:1');
  it('renders each line with its mark and the fix under failures and warnings, and a verdict', () => {
    const text = renderText(
      buildReport(target, [
        { id: 'dns', ok: true, title: 'DNS', detail: 'registry.local → 10.0.0.5' },
        { id: 'tcp', ok: false, title: 'TCP', detail: 'refused', fix: 'start it' },
        { id: 'tls', ok: 'skip', title: 'TLS', detail: 'skipped: TCP failed' },
      ]),
    );
    expect(text).toBe(
      ['airlock doctor: registry.local/acme/app:1', '', '✅ DNS  registry.local → 10.0.0.5', '❌ TCP  refused', '        fix: start it', '➖ TLS  skipped: TCP failed', '', 'Result: 1 failed, 0 warnings, 1 passed, 1 skipped: fix the ❌ lines first, from the top.', ''].join('\n'),
    );
  });

  it('redacts every secret in every string, deeply', () => {
    const r = redact({ a: 'user:hunter22 and aHVudGVyMjI=', b: [{ c: 'hunter22' }], n: 3 }, ['hunter22', 'aHVudGVyMjI=', 'x']);
    expect(r).toEqual({ a: 'user:*** and ***', b: [{ c: '***' }], n: 3 });
  });
});
