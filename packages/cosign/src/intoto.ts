/**
 * in-toto Statements and cosign's predicate types.
 */
import { z } from 'zod';
import { AirlockCosignError } from './errors.js';
import { parseJsonDocument } from './json.js';

export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
/** What cosign v2 `attest` writes (in-toto-golang's StatementInTotoV01). */
export const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1';

export const PREDICATE_CUSTOM = 'https://cosign.sigstore.dev/attestation/v1';
export const PREDICATE_VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';
export const PREDICATE_SLSA_V02 = 'https://slsa.dev/provenance/v0.2';
export const PREDICATE_SLSA_V1 = 'https://slsa.dev/provenance/v1';
export const PREDICATE_SPDX = 'https://spdx.dev/Document';
export const PREDICATE_CYCLONEDX = 'https://cyclonedx.org/bom';
export const PREDICATE_LINK = 'https://in-toto.io/Link/v1';
export const PREDICATE_OPENVEX = 'https://openvex.dev/ns';

/** cosign's `--type` aliases (cmd/cosign/cli/options/predicate.go PredicateTypeMap). */
export const PREDICATE_TYPE_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  custom: PREDICATE_CUSTOM,
  slsaprovenance: PREDICATE_SLSA_V02,
  slsaprovenance02: PREDICATE_SLSA_V02,
  slsaprovenance1: PREDICATE_SLSA_V1,
  spdx: PREDICATE_SPDX,
  spdxjson: PREDICATE_SPDX,
  cyclonedx: PREDICATE_CYCLONEDX,
  link: PREDICATE_LINK,
  vuln: PREDICATE_VULN,
  openvex: PREDICATE_OPENVEX,
});

/**
 * An alias -> its URI; anything else must parse as a request URI (Go url.ParseRequestURI: an
 * absolute URI, or an absolute path).
 */
export function resolvePredicateType(type: string): string {
  const alias = PREDICATE_TYPE_ALIASES[type];
  if (alias) return alias;
  const valid = (() => {
    if (type.startsWith('/')) return !/\s/.test(type);
    try {
      const u = new URL(type);
      return !!u.protocol && !/\s/.test(type);
    } catch {
      return false;
    }
  })();
  if (!valid) {
    throw new AirlockCosignError('INVALID_PREDICATE_TYPE', `invalid predicate type: ${type}`, `use one of ${Object.keys(PREDICATE_TYPE_ALIASES).join('|')} or a URI`);
  }
  return type;
}

export const SubjectSchema = z.object({
  name: z.string().optional(),
  digest: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.unknown()).optional(),
});
export type Subject = z.infer<typeof SubjectSchema>;

export const StatementSchema = z.looseObject({
  _type: z.enum([STATEMENT_TYPE_V1, STATEMENT_TYPE_V01]),
  subject: z.array(SubjectSchema).min(1),
  predicateType: z.string().min(1),
  predicate: z.unknown().optional(),
});
export type Statement = z.infer<typeof StatementSchema>;

export interface StatementInput {
  subjects: Subject[];
  predicateType: string;
  predicate?: unknown;
  /** Default v1. `v0.1` reproduces what cosign v2 `attest` writes. */
  statementVersion?: 'v1' | 'v0.1';
}

export function buildStatement(input: StatementInput): Statement {
  if (input.subjects.length === 0) {
    throw new AirlockCosignError('INVALID_INPUT', 'an in-toto statement needs at least one subject', 'pass the image digest as the subject');
  }
  return {
    _type: input.statementVersion === 'v0.1' ? STATEMENT_TYPE_V01 : STATEMENT_TYPE_V1,
    subject: input.subjects,
    predicateType: resolvePredicateType(input.predicateType),
    predicate: input.predicate ?? {},
  };
}

/** Statement JSON bytes: `_type`, `subject`, `predicateType`, `predicate`, no whitespace. */
export function serializeStatement(s: Statement): Buffer {
  return Buffer.from(JSON.stringify({ _type: s._type, subject: s.subject, predicateType: s.predicateType, predicate: s.predicate ?? {} }), 'utf8');
}

export function parseStatement(bytes: Uint8Array): Statement {
  return parseJsonDocument(bytes, StatementSchema, {
    code: 'MALFORMED_STATEMENT',
    notJson: 'the DSSE payload is not JSON',
    invalid: 'the DSSE payload is not an in-toto statement',
    hint: 'the attestation is not an in-toto statement',
  });
}

/** True if some subject carries `algorithm:hex` (e.g. the image manifest digest). */
export function statementHasSubjectDigest(s: Statement, digest: string): boolean {
  const i = digest.indexOf(':');
  const alg = digest.slice(0, i);
  const hex = digest.slice(i + 1).toLowerCase();
  return s.subject.some((sub) => sub.digest[alg]?.toLowerCase() === hex);
}

export interface CosignPredicateInput {
  /** cosign `--type`: an alias or a URI. */
  type: string;
  /** The `--predicate` file's bytes. */
  predicate: Uint8Array;
  /** Time for the `custom` predicate's Timestamp. Default now. */
  now?: Date;
}

/**
 * The predicate cosign `attest` builds from a predicate file (pkg/cosign/attestation
 * GenerateStatement): `custom` wraps the raw text as {Data, Timestamp}, `spdx` embeds the raw
 * text as a string, every other type embeds the parsed JSON.
 */
export function cosignPredicate(input: CosignPredicateInput): { predicateType: string; predicate: unknown } {
  const predicateType = resolvePredicateType(input.type);
  const text = Buffer.from(input.predicate).toString('utf8');
  if (predicateType === PREDICATE_CUSTOM) {
    const ts = (input.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { predicateType, predicate: { Data: text, Timestamp: ts } };
  }
  if (input.type === 'spdx') return { predicateType, predicate: text };
  try {
    return { predicateType, predicate: JSON.parse(text) };
  } catch (e) {
    throw new AirlockCosignError('INVALID_INPUT', `the predicate for type ${input.type} is not valid JSON`, 'pass a JSON predicate file, or use --type custom for arbitrary text', { cause: e });
  }
}

/**
 * The in-toto statement cosign v3 signs for an image: subject = the manifest digest (named by its
 * repository when given), predicate type https://sigstore.dev/cosign/sign/v1 unless attesting.
 */
export function imageStatement(input: { manifestDigest: string; name?: string; predicateType: string; predicate?: unknown }): Statement {
  const m = /^(sha256|sha384|sha512):([a-f0-9]+)$/.exec(input.manifestDigest);
  if (!m) throw new AirlockCosignError('INVALID_INPUT', `invalid manifest digest "${input.manifestDigest}"`, 'pass the manifest digest as sha256:<64 lowercase hex>');
  return buildStatement({
    subjects: [{ ...(input.name ? { name: input.name } : {}), digest: { [m[1] as string]: m[2] as string } }],
    predicateType: input.predicateType,
    predicate: input.predicate ?? {},
  });
}
