/**
 * Verify one image against a rule: resolve it to its manifest digest, read its signatures and
 * attestations (cosign tags and Sigstore bundle referrers), check each, then the requirements.
 */
import {
  AirlockError,
  cosignTag,
  fallbackTag,
  listReferrers,
  openRepository,
  readBlobBytes,
  readCosignLayers,
  repositoryName,
  toAirlockError,
  type Digest,
  type Location,
  type Registries,
  type Repository,
} from '@airlock/oci';
import { COSIGN_SIGN_PREDICATE_TYPE } from '@airlock/cosign';
import { checkBundle, peekPredicateType } from './check-bundle.js';
import { checkLegacyAttestation, checkLegacySignature, type LegacyLayer } from './check-legacy.js';
import { fieldMismatches } from './fields.js';
import type { ImageResult, Seen } from './model.js';
import { signerLabel, unreadable, type IdentityCheck } from './outcome.js';
import type { AttestationRequirement, Rule } from './policy.js';
import type { Signer } from './trust.js';

/** An image to verify. */
export interface Target {
  /** As the user gave it (argument or list entry). */
  input: string;
  /** What is verified (the destination of a mirror-list line, else the input). */
  reference: string;
  location: Location;
  /** More repositories a legacy signature may name (a mirror list's source). */
  alsoAccept?: string[];
  /** Where it came from, for messages (`list.txt line 3`). */
  where?: string;
}

/** The name policies match: REGISTRY/REPOSITORY, or oci:DIR for a layout. */
export function matchName(loc: Location): string {
  return loc.kind === 'registry' ? repositoryName(loc.ref) : `oci:${loc.dir}`;
}

const BUNDLE_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle';
const PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';

function errorText(e: unknown): { message: string; hint?: string } {
  const err = toAirlockError(e, 'REGISTRY');
  return { message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
}

interface Referrer {
  location: string;
  digest: string;
  bytes?: Buffer;
  predicateType?: string;
  error?: { message: string; hint?: string };
}

/** Sigstore bundles attached as OCI referrers (the referrers API, else the sha256-<hex> fallback tag). */
async function bundleReferrers(repo: Repository, digest: Digest): Promise<{ referrers: Referrer[]; error?: Seen }> {
  let descs;
  try {
    descs = await listReferrers(repo, digest);
  } catch (e) {
    const t = errorText(e);
    return { referrers: [], error: unreadable('referrer', `referrers of ${digest} (or tag ${fallbackTag(digest)})`, `cannot list referrers: ${t.message}`, t.hint) };
  }
  const out: Referrer[] = [];
  for (const d of descs) {
    if (!d.artifactType?.startsWith(BUNDLE_TYPE_PREFIX)) continue;
    const location = `referrer ${d.digest}`;
    try {
      const m = await repo.getManifest(d.digest);
      if (m.kind !== 'image') throw new AirlockError('BAD_INPUT', 'the referrer is an index, not a bundle manifest');
      const layer = m.image.layers.find((l) => l.mediaType.startsWith(BUNDLE_TYPE_PREFIX)) ?? m.image.layers[0];
      if (!layer) throw new AirlockError('BAD_INPUT', 'the referrer manifest has no layers');
      const bytes = await readBlobBytes(repo, layer);
      const predicateType = peekPredicateType(bytes) ?? m.image.annotations?.[PREDICATE_ANNOTATION] ?? d.annotations?.[PREDICATE_ANNOTATION];
      out.push({ location, digest: d.digest, bytes, ...(predicateType ? { predicateType } : {}) });
    } catch (e) {
      out.push({ location, digest: d.digest, error: errorText(e) });
    }
  }
  return { referrers: out };
}

type CosignLayer = Awaited<ReturnType<typeof readCosignLayers>>[number];

async function legacyLayers(repo: Repository, digest: Digest, suffix: 'sig' | 'att'): Promise<{ layers: CosignLayer[]; error?: Seen }> {
  try {
    return { layers: await readCosignLayers(repo, digest, suffix) };
  } catch (e) {
    const t = errorText(e);
    return { layers: [], error: unreadable(suffix === 'sig' ? 'sig-tag' : 'att-tag', cosignTag(digest, suffix), `cannot read ${cosignTag(digest, suffix)}: ${t.message}`, t.hint) };
  }
}

/** The records for one cosign tag: the error reading it (if any), then each layer as `check` judges it. */
function checkLayers(read: { layers: CosignLayer[]; error?: Seen }, tag: string, check: (layer: LegacyLayer, location: string) => Seen): Seen[] {
  return [
    ...(read.error ? [read.error] : []),
    ...read.layers.map((l, i) => check({ bytes: l.bytes, mediaType: l.descriptor.mediaType, annotations: l.descriptor.annotations ?? {}, digest: l.descriptor.digest }, `${tag} layer ${i + 1}`)),
  ];
}

function uniqueSigners(lists: Signer[][]): Signer[] {
  return [...new Set(lists.flat())];
}

/** "3 seen: 2 BAD_SIGNATURE, 1 DIGEST_MISMATCH" */
function rejectionSummary(items: Seen[]): string {
  const counts = new Map<string, number>();
  for (const s of items) if (!s.valid) counts.set(s.reason ?? 'REJECTED', (counts.get(s.reason ?? 'REJECTED') ?? 0) + 1);
  const parts = [...counts].map(([r, n]) => `${n} ${r}`);
  return `${items.length} seen${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

function signerList(signers: Signer[]): string {
  return signers.map(signerLabel).join(', ');
}

export function typeMatches(a: Seen, req: AttestationRequirement): boolean {
  return req.type === undefined || a.predicateType === req.type;
}

/** Requirement failures, one line each. */
export function evaluate(rule: Rule, signatures: Seen[], attestations: Seen[]): string[] {
  const failures: string[] = [];
  if (rule.signatures) {
    const { allOf, anyOf } = rule.signatures;
    const validBy = (s: Signer) => signatures.some((x) => x.valid && x.verifiedWith.has(s));
    const seen = signatures.length ? ` (${rejectionSummary(signatures)})` : ' (none found)';
    for (const s of allOf) if (!validBy(s)) failures.push(`no valid signature by ${signerList([s])}${seen}`);
    if (anyOf.length && !anyOf.some(validBy)) failures.push(`no valid signature by ${anyOf.length > 1 ? 'any of ' : ''}${signerList(anyOf)}${seen}`);
  }
  for (const req of rule.attestations) {
    const ofType = attestations.filter((a) => typeMatches(a, req));
    const label = req.type === undefined ? 'attestation' : `${req.label} attestation`;
    const valid = ofType.filter((a) => a.valid && req.signers.some((s) => a.verifiedWith.has(s)));
    if (!valid.length) {
      const others = attestations.length - ofType.length;
      const detail = ofType.length ? rejectionSummary(ofType) : `none of that type found${others ? `; ${others} of other types` : ''}`;
      failures.push(`no valid ${label} by ${req.signers.length > 1 ? 'any of ' : ''}${signerList(req.signers)}${req.type && req.type !== req.label ? ` (${req.type})` : ''} (${detail})`);
      continue;
    }
    if (Object.keys(req.fields).length) {
      const results = valid.map((a) => fieldMismatches(a.detail.statement, req.fields));
      if (!results.some((r) => r.length === 0)) failures.push(`no valid ${label} has the required fields: ${results[0]?.join('; ')}`);
    }
  }
  return failures;
}

/** Attestations that satisfy some requirement (what verify-attestation --json prints). */
export function satisfying(rule: Rule, attestations: Seen[]): Seen[] {
  return attestations.filter((a) =>
    rule.attestations.some((req) => a.valid && typeMatches(a, req) && req.signers.some((s) => a.verifiedWith.has(s)) && fieldMismatches(a.detail.statement, req.fields).length === 0),
  );
}

export interface VerifyImageOptions {
  registries: Registries;
  /** Command-line identity settings (they override the rule's reference; rewrites add up). */
  identity?: { ignore?: boolean; reference?: string; rewrites?: [string, string][] };
}

export async function verifyImage(target: Target, rule: Rule, opts: VerifyImageOptions): Promise<ImageResult> {
  const started = Date.now();
  const result: ImageResult = {
    input: target.input,
    reference: target.reference,
    ...(target.location.kind === 'registry' ? { repository: repositoryName(target.location.ref) } : {}),
    policy: rule.name,
    ok: false,
    failures: [],
    signatures: [],
    attestations: [],
    notes: [],
    durationMs: 0,
  };
  let repo: Repository;
  let digest: Digest;
  try {
    const opened = await openRepository(target.location, opts.registries);
    repo = opened.repo;
    digest = (await repo.getManifest(opened.reference)).digest;
  } catch (e) {
    const err = toAirlockError(e, 'REGISTRY');
    result.error = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    result.failures.push(`cannot read the image: ${err.message}`);
    result.durationMs = Date.now() - started;
    return result;
  }
  result.digest = digest;

  const ignore = opts.identity?.ignore || rule.identity.ignore;
  const reference = opts.identity?.reference ?? rule.identity.reference;
  const expected = reference ? [reference] : [result.repository, ...(target.alsoAccept ?? [])].filter((x): x is string => !!x);
  const identity: IdentityCheck = { ignore, expected: [...new Set(expected)], rewrites: [...rule.identity.rewrites, ...(opts.identity?.rewrites ?? [])] };
  if (!ignore && !expected.length && rule.signatures) result.notes.push('the signed docker-reference is not checked for an OCI layout (pass --identity REPO to check it)');

  const wantSignatures = !!rule.signatures;
  const wantAttestations = rule.attestations.length > 0;
  const sigSigners = rule.signatures ? uniqueSigners([rule.signatures.allOf, rule.signatures.anyOf]) : [];
  const attSigners = uniqueSigners(rule.attestations.map((a) => a.signers));

  const [sig, att, refs] = await Promise.all([
    wantSignatures ? legacyLayers(repo, digest, 'sig') : Promise.resolve({ layers: [] }),
    wantAttestations ? legacyLayers(repo, digest, 'att') : Promise.resolve({ layers: [] }),
    bundleReferrers(repo, digest),
  ]);

  if (wantSignatures) result.signatures.push(...checkLayers(sig, cosignTag(digest, 'sig'), (l, at) => checkLegacySignature(l, at, digest, sigSigners, identity)));
  if (wantAttestations) result.attestations.push(...checkLayers(att, cosignTag(digest, 'att'), (l, at) => checkLegacyAttestation(l, at, digest, attSigners)));
  if (refs.error) (wantSignatures ? result.signatures : result.attestations).push(refs.error);
  for (const r of refs.referrers) {
    const isSignature = r.predicateType === COSIGN_SIGN_PREDICATE_TYPE || (r.predicateType === undefined && wantSignatures);
    if (isSignature ? !wantSignatures : !wantAttestations) continue;
    const list = isSignature ? result.signatures : result.attestations;
    if (r.error || !r.bytes) {
      list.push(unreadable('referrer', r.location, `cannot read the bundle: ${r.error?.message ?? 'no content'}`, r.error?.hint));
      continue;
    }
    list.push(checkBundle(isSignature ? 'signature' : 'attestation', r.bytes, r.location, r.digest, digest, isSignature ? sigSigners : attSigners, result.repository));
  }

  result.failures.push(...evaluate(rule, result.signatures, result.attestations));
  result.ok = result.failures.length === 0;
  result.durationMs = Date.now() - started;
  return result;
}
