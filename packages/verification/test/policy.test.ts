import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicGoodTrustedRoot, publicKeyToPem } from '@airlock/cosign';
import { evaluate } from '../src/engine.js';
import type { Seen } from '../src/model.js';
import {
  buildPolicy,
  deepEqual,
  fieldMismatches,
  globMatches,
  globToRegExp,
  loadPolicy,
  matchEntry,
  normaliseFieldPath,
  parseIdentityRewrite,
  parsePolicy,
  valueAt,
  type Rule,
} from '../src/policy.js';
import type { Signer } from '../src/trust.js';

const FULL = `
version: 1
trustedRoot: roots/trusted_root.json
policies:
  - name: acme
    match: [registry.local/acme/*, registry.local/acme-team/**]
    signatures:
      allOf:
        - key: keys/release.pub
      anyOf:
        - identity: https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main
          issuer: https://token.actions.githubusercontent.com
        - identityRegexp: ^.*@acme\\.example$
          issuerRegexp: ^https://accounts\\.google\\.com$
          name: acme people
    identity:
      rewrite: [upstream.example/acme=registry.local/acme]
    attestations:
      - type: slsaprovenance
        signers: [{ key: keys/builder.pub }]
        fields:
          predicate.buildType: https://example.com/build/v1
          builder.id: https://ci.example
  - match: "**"
    signatures: { anyOf: [{ key: keys/release.pub }] }
`;

describe('policy parsing (zod-validated)', () => {
  it('reads the documented format', () => {
    const p = parsePolicy(FULL, 'p.yaml');
    expect(p.policies).toHaveLength(2);
    expect(p.policies[0]!.signatures?.anyOf?.[1]).toEqual({ identityRegexp: '^.*@acme\\.example$', issuerRegexp: '^https://accounts\\.google\\.com$', name: 'acme people' });
    expect(p.policies[0]!.attestations?.[0]!.fields).toEqual({ 'predicate.buildType': 'https://example.com/build/v1', 'builder.id': 'https://ci.example' });
    expect(p.policies[1]!.match).toBe('**');
  });

  it.each([
    ['policies: [\n', /p\.yaml: not valid YAML/],
    ['{}', /invalid policy at policies: /],
    ['policies: []', /invalid policy at policies: /],
    ['version: 2\npolicies: [{ match: "**", signatures: { anyOf: [{ key: k.pub }] } }]', /invalid policy at version/],
    ['policies: [{ match: "**", signatures: { anyOf: [{ key: k.pub, identity: x }] } }]', /at policies\.0\.signatures\.anyOf\.0: a signer is either a key or a keyless identity, not both/],
    ['policies: [{ match: "**", signatures: { anyOf: [{ identity: x }] } }]', /at policies\.0\.signatures\.anyOf\.0: a keyless signer needs "issuer" or "issuerRegexp"/],
    ['policies: [{ match: "**", signatures: { anyOf: [{ issuer: x }] } }]', /a keyless signer needs "identity" or "identityRegexp"/],
    ['policies: [{ match: "**", signatures: { anyOf: [{ identity: x, identityRegexp: y, issuer: z }] } }]', /give "identity" or "identityRegexp", not both/],
    ['policies: [{ match: "**", signatures: { anyOf: [{ name: x }] } }]', /a signer needs "key", or "identity"/],
    ['policies: [{ match: "**", signatures: { anyOf: [{ key: k.pub, trustedRoot: r.json }] } }]', /"trustedRoot" belongs to keyless signers/],
    ['policies: [{ match: "**", signatures: {} }]', /at policies\.0\.signatures: list the signers under allOf and\/or anyOf/],
    ['policies: [{ match: "**" }]', /at policies\.0: an entry must require signatures and\/or attestations/],
    ['policies: [{ match: "**", attestations: [{ type: slsaprovenance }] }]', /at policies\.0\.attestations\.0\.signers: name the signers/],
    ['policies: [{ match: "**", attestations: [{ type: "not a uri", signers: [{ key: k.pub }] }] }]', /at policies\.0\.attestations\.0\.type: invalid predicate type: not a uri/],
    ['policies: [{ match: "**", signatures: { anyOf: [{ key: k.pub }] }, bogus: 1 }]', /at policies\.0: .*bogus/i],
    ['policies: [{ match: [], signatures: { anyOf: [{ key: k.pub }] } }]', /at policies\.0\.match/],
  ])('rejects %j', (text, msg) => {
    expect(() => parsePolicy(text, 'p.yaml')).toThrowError(msg);
    try {
      parsePolicy(text, 'p.yaml');
    } catch (e) {
      expect((e as { code: string }).code).toBe('BAD_INPUT');
    }
  });
});

describe('glob matching on REGISTRY/REPOSITORY', () => {
  it('* stays within a path component, ** crosses them, ? is one character', () => {
    expect(globMatches('registry.local/acme/*', 'registry.local/acme/app')).toBe(true);
    expect(globMatches('registry.local/acme/*', 'registry.local/acme/team/app')).toBe(false);
    expect(globMatches('registry.local/acme/**', 'registry.local/acme/team/app')).toBe(true);
    expect(globMatches('registry.local/**/app', 'registry.local/app')).toBe(true);
    expect(globMatches('registry.local/**/app', 'registry.local/a/b/app')).toBe(true);
    expect(globMatches('**', 'docker.io/library/nginx')).toBe(true);
    expect(globMatches('**', 'oci:/tmp/layout')).toBe(true);
    expect(globMatches('registry.local/app?', 'registry.local/app1')).toBe(true);
    expect(globMatches('registry.local/app?', 'registry.local/app/')).toBe(false);
    // dots and ports are literal
    expect(globMatches('registry.local/*', 'registryXlocal/app')).toBe(false);
    expect(globMatches('127.0.0.1:5000/acme/*', '127.0.0.1:5000/acme/app')).toBe(true);
    // Docker Hub names are normalised as image names are
    expect(globMatches('index.docker.io/library/*', 'docker.io/library/nginx')).toBe(true);
    expect(globToRegExp('a/*/b').test('a/x/b')).toBe(true);
    expect(globToRegExp('a/*/b').test('a/x/y/b')).toBe(false);
    expect(globToRegExp('a+(b)').test('a+(b)')).toBe(true);
  });

  it('the first matching entry applies', () => {
    const entries = [{ match: 'reg/acme/*', n: 1 }, { match: ['reg/**'], n: 2 }];
    expect(matchEntry(entries, 'reg/acme/app')?.entry.n).toBe(1);
    expect(matchEntry(entries, 'reg/other/app')?.index).toBe(1);
    expect(matchEntry(entries, 'elsewhere/app')).toBeUndefined();
  });
});

describe('statement field checks', () => {
  const st = { _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://slsa.dev/provenance/v0.2', predicate: { buildType: 'x', materials: [{ uri: 'git+https://a' }], n: 3, builder: { id: 'b' } } };
  it('paths are dotted, from the statement (predicate. is implied)', () => {
    expect(normaliseFieldPath('buildType')).toBe('predicate.buildType');
    expect(normaliseFieldPath('predicate.buildType')).toBe('predicate.buildType');
    expect(normaliseFieldPath('predicateType')).toBe('predicateType');
    expect(valueAt(st, 'predicate.materials.0.uri')).toBe('git+https://a');
    expect(valueAt(st, 'predicate.materials.x')).toBeUndefined();
    expect(valueAt(st, 'predicate.nope.deeper')).toBeUndefined();
  });
  it('compares by value and says what differs', () => {
    expect(fieldMismatches(st, { 'predicate.buildType': 'x', 'predicate.n': 3, 'predicate.builder': { id: 'b' } })).toEqual([]);
    expect(fieldMismatches(st, { 'predicate.buildType': 'y', 'predicate.missing': 1 })).toEqual(['predicate.buildType is "x", not "y"', 'predicate.missing is missing, not 1']);
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
  });
});

describe('identity rewrites', () => {
  it('parses OLD=NEW and adds the docker-reference spellings of Docker Hub names', () => {
    expect(parseIdentityRewrite('upstream.example/acme=registry.local/acme/')).toEqual([['upstream.example/acme', 'registry.local/acme']]);
    expect(parseIdentityRewrite('docker.io/acme=reg.local/acme')).toEqual([
      ['docker.io/acme', 'reg.local/acme'],
      ['index.docker.io/acme', 'reg.local/acme'],
    ]);
    expect(parseIdentityRewrite('bitnami=reg.local/bitnami').map((r) => r[0])).toEqual(['bitnami', 'docker.io/bitnami', 'index.docker.io/bitnami']);
    expect(() => parseIdentityRewrite('nothing')).toThrowError(/expected OLD=NEW/);
    expect(() => parseIdentityRewrite('=x')).toThrowError(/expected OLD=NEW/);
  });
});

describe('loading a policy: files relative to it', () => {
  it('reads keys and trusted roots next to the policy; keyless defaults to the built-in root', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'airlock-policy-'));
    mkdirSync(path.join(dir, 'keys'));
    mkdirSync(path.join(dir, 'roots'));
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(path.join(dir, 'keys', 'release.pub'), publicKeyToPem(k.publicKey));
    writeFileSync(path.join(dir, 'keys', 'builder.pub'), publicKeyToPem(k.publicKey));
    writeFileSync(path.join(dir, 'roots', 'trusted_root.json'), JSON.stringify(publicGoodTrustedRoot()));
    writeFileSync(path.join(dir, 'policy.yaml'), FULL);
    const p = await loadPolicy(path.join(dir, 'policy.yaml'));
    const [acme, all] = p.rules;
    expect(acme!.name).toBe('acme');
    expect(all!.name).toBe('policies.1 (**)');
    expect(acme!.signatures!.allOf.map((s) => [s.kind, s.name])).toEqual([['key', 'keys/release.pub']]);
    expect(acme!.signatures!.anyOf.map((s) => s.name)).toEqual([
      'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main (issuer https://token.actions.githubusercontent.com)',
      'acme people',
    ]);
    const keyless = acme!.signatures!.anyOf[1]!;
    expect(keyless.kind === 'keyless' && keyless.root.source).toBe('roots/trusted_root.json');
    expect(keyless.kind === 'keyless' && keyless.identityRegexp?.test('dev@acme.example')).toBe(true);
    expect(acme!.attestations[0]).toMatchObject({ type: 'https://slsa.dev/provenance/v0.2', label: 'slsaprovenance', fields: { 'predicate.buildType': 'https://example.com/build/v1', 'predicate.builder.id': 'https://ci.example' } });
    expect(acme!.identity.rewrites).toEqual([['upstream.example/acme', 'registry.local/acme']]);
    // the same key file is read once
    expect(all!.signatures!.anyOf[0]).toBe(acme!.signatures!.allOf[0]);

    const noRoot = await buildPolicy(parsePolicy('policies: [{ match: "**", signatures: { anyOf: [{ identity: a, issuer: b }] } }]', 'x.yaml'), path.join(dir, 'x.yaml'));
    const s = noRoot.rules[0]!.signatures!.anyOf[0]!;
    expect(s.kind === 'keyless' && s.root.source).toMatch(/public-good/);
  });

  it('missing files and bad regexps are input errors naming the policy file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'airlock-policy-'));
    const f = path.join(dir, 'p.yaml');
    writeFileSync(f, 'policies: [{ match: "**", signatures: { anyOf: [{ key: missing.pub }] } }]');
    await expect(loadPolicy(f)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('cannot read key file missing.pub') });
    writeFileSync(f, 'policies: [{ match: "**", signatures: { anyOf: [{ identityRegexp: "(", issuer: x }] } }]');
    await expect(loadPolicy(f)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/p\.yaml policies\.0\.signatures\.anyOf\.0: invalid regular expression/) });
    writeFileSync(f, 'policies: [{ match: "**", signatures: { anyOf: [{ identity: a, issuer: b, trustedRoot: nope.json }] } }]');
    await expect(loadPolicy(f)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('cannot read trusted root nope.json') });
    await expect(loadPolicy(path.join(dir, 'absent.yaml'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('cannot read the policy file') });
  });
});

describe('evaluating requirements', () => {
  const signer = (name: string): Signer => ({ kind: 'key', name, key: generateKeyPairSync('ed25519').publicKey });
  const a = signer('a.pub');
  const b = signer('b.pub');
  const c = signer('c.pub');
  const seen = (valid: boolean, by: Signer[], extra: Partial<Seen> = {}): Seen => ({
    source: 'sig-tag',
    location: 'x',
    format: 'simple-signing',
    certificate: false,
    valid,
    verifiedBy: by.map((s) => s.name),
    verifiedWith: new Set(by),
    ...(valid ? {} : { reason: 'BAD_SIGNATURE' as const }),
    detail: {},
    ...extra,
  });
  const rule = (r: Partial<Rule>): Rule => ({ name: 't', attestations: [], identity: { ignore: false, rewrites: [] }, ...r });

  it('allOf needs every signer, anyOf at least one', () => {
    const sigs = [seen(true, [a]), seen(false, [])];
    expect(evaluate(rule({ signatures: { allOf: [a], anyOf: [] } }), sigs, [])).toEqual([]);
    expect(evaluate(rule({ signatures: { allOf: [a, b], anyOf: [] } }), sigs, [])).toEqual(['no valid signature by key b.pub (2 seen: 1 BAD_SIGNATURE)']);
    expect(evaluate(rule({ signatures: { allOf: [], anyOf: [b, a] } }), sigs, [])).toEqual([]);
    expect(evaluate(rule({ signatures: { allOf: [], anyOf: [b, c] } }), sigs, [])).toEqual(['no valid signature by any of key b.pub, key c.pub (2 seen: 1 BAD_SIGNATURE)']);
    expect(evaluate(rule({ signatures: { allOf: [a], anyOf: [] } }), [], [])).toEqual(['no valid signature by key a.pub (none found)']);
  });

  it('attestations: type, signer and fields', () => {
    const slsa = 'https://slsa.dev/provenance/v0.2';
    const atts = [
      seen(true, [a], { source: 'att-tag', predicateType: slsa, detail: { statement: { predicateType: slsa, predicate: { buildType: 'x' } } } }),
      seen(true, [b], { source: 'referrer', predicateType: 'https://spdx.dev/Document', detail: { statement: {} } }),
    ];
    const req = (r: Partial<Rule['attestations'][number]>) => rule({ attestations: [{ type: slsa, label: 'slsaprovenance', signers: [a], fields: {}, ...r }] });
    expect(evaluate(req({}), [], atts)).toEqual([]);
    expect(evaluate(req({ signers: [c] }), [], atts)).toEqual(['no valid slsaprovenance attestation by key c.pub (https://slsa.dev/provenance/v0.2) (1 seen)']);
    expect(evaluate(req({ type: 'https://cyclonedx.org/bom', label: 'cyclonedx' }), [], atts)).toEqual([
      'no valid cyclonedx attestation by key a.pub (https://cyclonedx.org/bom) (none of that type found; 2 of other types)',
    ]);
    expect(evaluate(req({ fields: { 'predicate.buildType': 'x' } }), [], atts)).toEqual([]);
    expect(evaluate(req({ fields: { 'predicate.buildType': 'y' } }), [], atts)).toEqual(['no valid slsaprovenance attestation has the required fields: predicate.buildType is "x", not "y"']);
    // no type: any attestation will do
    expect(evaluate(rule({ attestations: [{ label: 'any', signers: [b], fields: {} }] }), [], atts)).toEqual([]);
  });
});
