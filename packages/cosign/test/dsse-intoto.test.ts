import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AirlockCosignError,
  cosignPredicate,
  pae,
  parseEnvelope,
  resolvePredicateType,
  serializeEnvelope,
  signEnvelope,
  signImageAttestation,
  verifyEnvelope,
  verifyImageAttestation,
} from '../src/index.js';

const DIGEST = 'sha256:' + 'c'.repeat(64);

describe('DSSE', () => {
  it('PAE matches the spec example', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    expect(pae('t', Buffer.from('é')).toString()).toBe('DSSEv1 1 t 2 é');
  });

  it('signs and verifies envelopes; rejects tampering and other keys', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const env = signEnvelope(Buffer.from('{"a":1}'), 'application/vnd.in-toto+json', privateKey);
    expect(serializeEnvelope(env).toString()).toMatch(/^\{"payloadType":"application\/vnd.in-toto\+json","payload":"[^"]+","signatures":\[\{"keyid":"","sig":"[^"]+"\}\]\}$/);
    const back = parseEnvelope(serializeEnvelope(env));
    expect(verifyEnvelope(back, publicKey).payload.toString()).toBe('{"a":1}');
    const tampered = { ...back, payloadType: 'text/plain' };
    expect(() => verifyEnvelope(tampered, publicKey)).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
    expect(() => verifyEnvelope(back, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toThrow(AirlockCosignError);
    expect(() => parseEnvelope('{"payload":1}')).toThrow(expect.objectContaining({ code: 'MALFORMED_ENVELOPE' }));
  });
});

describe('predicate types', () => {
  it.each([
    ['slsaprovenance', 'https://slsa.dev/provenance/v0.2'],
    ['slsaprovenance02', 'https://slsa.dev/provenance/v0.2'],
    ['slsaprovenance1', 'https://slsa.dev/provenance/v1'],
    ['spdx', 'https://spdx.dev/Document'],
    ['spdxjson', 'https://spdx.dev/Document'],
    ['cyclonedx', 'https://cyclonedx.org/bom'],
    ['link', 'https://in-toto.io/Link/v1'],
    ['vuln', 'https://cosign.sigstore.dev/attestation/vuln/v1'],
    ['openvex', 'https://openvex.dev/ns'],
    ['custom', 'https://cosign.sigstore.dev/attestation/v1'],
    ['https://example.com/my/v1', 'https://example.com/my/v1'],
  ])('%s -> %s', (alias, uri) => {
    expect(resolvePredicateType(alias)).toBe(uri);
  });

  it('refuses a non-URI type', () => {
    expect(() => resolvePredicateType('notatype')).toThrow(expect.objectContaining({ code: 'INVALID_PREDICATE_TYPE' }));
  });

  it('wraps custom predicates as cosign does', () => {
    const p = cosignPredicate({ type: 'custom', predicate: Buffer.from('hello'), now: new Date('2024-01-02T03:04:05.678Z') });
    expect(p).toEqual({ predicateType: 'https://cosign.sigstore.dev/attestation/v1', predicate: { Data: 'hello', Timestamp: '2024-01-02T03:04:05Z' } });
    expect(cosignPredicate({ type: 'spdx', predicate: Buffer.from('SPDXVersion: 2') }).predicate).toBe('SPDXVersion: 2');
    expect(cosignPredicate({ type: 'slsaprovenance1', predicate: Buffer.from('{"buildDefinition":{}}') }).predicate).toEqual({ buildDefinition: {} });
    expect(() => cosignPredicate({ type: 'cyclonedx', predicate: Buffer.from('<xml/>') })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('legacy image attestations', () => {
  it('sign and verify an attestation layer', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const att = signImageAttestation({ privateKey, manifestDigest: DIGEST, name: 'reg.io/a/b', type: 'slsaprovenance1', predicate: Buffer.from('{"buildDefinition":{"buildType":"x"}}') });
    expect(att.mediaType).toBe('application/vnd.dsse.envelope.v1+json');
    expect(att.annotations.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(att.statement).toMatchObject({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'reg.io/a/b', digest: { sha256: 'c'.repeat(64) } }] });
    const v = verifyImageAttestation({ layer: att.layer, publicKey, manifestDigest: DIGEST, expectedPredicateType: 'slsaprovenance1' });
    expect(v.statement.predicate).toEqual({ buildDefinition: { buildType: 'x' } });
    expect(() => verifyImageAttestation({ layer: att.layer, publicKey, manifestDigest: 'sha256:' + 'd'.repeat(64) })).toThrow(expect.objectContaining({ code: 'SUBJECT_MISMATCH' }));
    expect(() => verifyImageAttestation({ layer: att.layer, publicKey, manifestDigest: DIGEST, expectedPredicateType: 'spdx' })).toThrow(expect.objectContaining({ code: 'PREDICATE_TYPE_MISMATCH' }));
  });

  it('can write the v0.1 statement type cosign v2 uses', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const att = signImageAttestation({ privateKey, manifestDigest: DIGEST, name: 'r/a', type: 'custom', predicate: Buffer.from('x'), statementVersion: 'v0.1' });
    expect(att.statement._type).toBe('https://in-toto.io/Statement/v0.1');
  });
});
