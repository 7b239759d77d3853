/**
 * Sigstore trusted roots (trusted_root.json): parse and validate one, and the public-good root
 * shipped inside @sigstore/tuf's seeds (offline: no TUF refresh, so it may lag the live root).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { z } from 'zod';
import seeds from '@sigstore/tuf/seeds.json' with { type: 'json' };
import { AirlockCosignError, messageOf } from './errors.js';
import { describeIssues } from './json.js';

const TimeRange = z.object({ start: z.string().nullish(), end: z.string().nullish() });
const PublicKeySchema = z.object({ rawBytes: z.string().nullish(), keyDetails: z.string().nullish(), validFor: TimeRange.nullish() });
const TlogSchema = z.object({ baseUrl: z.string().nullish(), publicKey: PublicKeySchema, logId: z.object({ keyId: z.string() }) });
const CaSchema = z.object({ certChain: z.object({ certificates: z.array(z.object({ rawBytes: z.string() })) }).nullish(), validFor: TimeRange.nullish() });

export const TrustedRootJsonSchema = z.looseObject({
  mediaType: z.string(),
  tlogs: z.array(TlogSchema).optional(),
  ctlogs: z.array(TlogSchema).optional(),
  certificateAuthorities: z.array(CaSchema).optional(),
  timestampAuthorities: z.array(CaSchema).optional(),
});
export type TrustedRootJson = z.infer<typeof TrustedRootJsonSchema>;

const invalid = (why: string): AirlockCosignError =>
  new AirlockCosignError('INVALID_TRUSTED_ROOT', `the trusted root is invalid: ${why}`, 'use an unmodified trusted_root.json from your Sigstore instance (e.g. `cosign trusted-root create` or the TUF target)');

/**
 * Validate trusted_root.json and return its JSON form. A time range must have a start
 * (TimeRange.start is required by the spec): a missing start is refused, not read as "forever".
 */
export function parseTrustedRootJson(input: unknown): TrustedRootJson {
  let json = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      json = JSON.parse(input.toString());
    } catch (e) {
      throw invalid(`not JSON (${messageOf(e)})`);
    }
  }
  const parsed = TrustedRootJsonSchema.safeParse(json);
  if (!parsed.success) throw invalid(describeIssues(parsed.error));
  const root = parsed.data;
  if (!root.mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')) throw invalid(`unexpected mediaType ${root.mediaType}`);
  const checkRange = (where: string, r: { start?: string | null | undefined; end?: string | null | undefined } | null | undefined, required: boolean): void => {
    if (!r) {
      if (required) throw invalid(`${where} has no validFor`);
      return;
    }
    if (!r.start) throw invalid(`${where}.validFor has no start`);
    if (Number.isNaN(Date.parse(r.start)) || (r.end != null && Number.isNaN(Date.parse(r.end)))) throw invalid(`${where}.validFor is not a valid time range`);
  };
  root.tlogs?.forEach((t, i) => checkRange(`tlogs[${i}].publicKey`, t.publicKey.validFor, false));
  root.ctlogs?.forEach((t, i) => checkRange(`ctlogs[${i}].publicKey`, t.publicKey.validFor, false));
  root.certificateAuthorities?.forEach((c, i) => checkRange(`certificateAuthorities[${i}]`, c.validFor, true));
  root.timestampAuthorities?.forEach((c, i) => checkRange(`timestampAuthorities[${i}]`, c.validFor, true));
  return root;
}

/** The protobuf TrustedRoot @sigstore/verify consumes. */
export function toProtoTrustedRoot(root: TrustedRootJson): TrustedRoot {
  try {
    return TrustedRoot.fromJSON(root);
  } catch (e) {
    throw invalid(messageOf(e));
  }
}

const PUBLIC_GOOD_TUF = 'https://tuf-repo-cdn.sigstore.dev';

/**
 * The Sigstore public-good trusted root embedded in @sigstore/tuf's seeds, decoded offline.
 * It is as fresh as the installed @sigstore/tuf; for long-lived air-gapped use, ship a current
 * trusted_root.json instead.
 */
export function publicGoodTrustedRoot(): TrustedRootJson {
  const repo = (seeds as Record<string, { targets?: Record<string, string> }>)[PUBLIC_GOOD_TUF];
  const b64 = repo?.targets?.['trusted_root.json'];
  if (!b64) throw invalid('the @sigstore/tuf seeds carry no public-good trusted_root.json');
  return parseTrustedRootJson(Buffer.from(b64, 'base64').toString('utf8'));
}

/** A transparency log key: the log ID is the hex SHA-256 of its DER SubjectPublicKeyInfo. */
export interface TlogKey {
  logId: string;
  publicKey: KeyObject;
  validFor?: { start?: Date; end?: Date };
}

export function tlogKeyFromPublicKey(publicKey: KeyObject): TlogKey {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { logId: createHash('sha256').update(spki).digest('hex'), publicKey };
}

/** Rekor keys of a trusted root, for checking cosign's legacy `dev.sigstore.cosign/bundle` SETs. */
export function tlogKeysFromTrustedRoot(root: TrustedRootJson): TlogKey[] {
  const out: TlogKey[] = [];
  for (const t of root.tlogs ?? []) {
    if (!t.publicKey.rawBytes) continue;
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: Buffer.from(t.publicKey.rawBytes, 'base64'), format: 'der', type: 'spki' });
    } catch {
      continue;
    }
    const v = t.publicKey.validFor;
    out.push({
      logId: Buffer.from(t.logId.keyId, 'base64').toString('hex'),
      publicKey,
      ...(v ? { validFor: { ...(v.start ? { start: new Date(v.start) } : {}), ...(v.end ? { end: new Date(v.end) } : {}) } } : {}),
    });
  }
  return out;
}
