/**
 * The policy file format (YAML), validated with zod: per registry/repository glob, who must have
 * signed and which attestations must exist. See packages/verify/README.md.
 */
import { z } from 'zod';

export const signerSchema = z
  .object({
    /** Label used in messages (default: the key path or the identity). */
    name: z.string().min(1).optional(),
    /** Public key file (PEM), relative to the policy file. */
    key: z.string().min(1).optional(),
    identity: z.string().min(1).optional(),
    identityRegexp: z.string().min(1).optional(),
    issuer: z.string().min(1).optional(),
    issuerRegexp: z.string().min(1).optional(),
    /** trusted_root.json for this keyless signer (default: the policy's trustedRoot). */
    trustedRoot: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const keyless = [s.identity, s.identityRegexp, s.issuer, s.issuerRegexp].some((v) => v !== undefined);
    if (s.key !== undefined && keyless) ctx.addIssue({ code: 'custom', message: 'a signer is either a key or a keyless identity, not both' });
    if (s.key === undefined && !keyless) ctx.addIssue({ code: 'custom', message: 'a signer needs "key", or "identity"/"identityRegexp" with "issuer"/"issuerRegexp"' });
    if (s.key === undefined && keyless) {
      if (s.identity === undefined && s.identityRegexp === undefined) ctx.addIssue({ code: 'custom', message: 'a keyless signer needs "identity" or "identityRegexp"' });
      if (s.issuer === undefined && s.issuerRegexp === undefined) ctx.addIssue({ code: 'custom', message: 'a keyless signer needs "issuer" or "issuerRegexp"' });
    }
    if (s.identity !== undefined && s.identityRegexp !== undefined) ctx.addIssue({ code: 'custom', message: 'give "identity" or "identityRegexp", not both' });
    if (s.issuer !== undefined && s.issuerRegexp !== undefined) ctx.addIssue({ code: 'custom', message: 'give "issuer" or "issuerRegexp", not both' });
    if (s.key !== undefined && s.trustedRoot !== undefined) ctx.addIssue({ code: 'custom', message: '"trustedRoot" belongs to keyless signers' });
  });
export type SignerSpec = z.infer<typeof signerSchema>;

const globsSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const attestationRequirementSchema = z
  .object({
    /** cosign --type alias (slsaprovenance, spdxjson, ...) or predicate type URI. */
    type: z.string().min(1),
    /** Who may have signed it (any of them); default: the entry's signature signers. */
    signers: z.array(signerSchema).min(1).optional(),
    /** Dotted paths into the in-toto statement (e.g. predicate.buildType) and the values they must equal. */
    fields: z.record(z.string().min(1), z.unknown()).optional(),
  })
  .strict();

export const policyEntrySchema = z
  .object({
    name: z.string().min(1).optional(),
    /** Globs on REGISTRY/REPOSITORY: `*` one path component, `**` anything, `?` one character. */
    match: globsSchema,
    signatures: z
      .object({
        allOf: z.array(signerSchema).optional(),
        anyOf: z.array(signerSchema).optional(),
      })
      .strict()
      .refine((s) => (s.allOf?.length ?? 0) + (s.anyOf?.length ?? 0) > 0, { message: 'list the signers under allOf and/or anyOf' })
      .optional(),
    identity: z
      .object({
        /** The repository legacy signatures must name (default: the image's own repository). */
        reference: z.string().min(1).optional(),
        /** OLD=NEW prefix rewrites of the signed docker-reference. */
        rewrite: z.array(z.string().min(1)).optional(),
        /** Do not check the signed docker-reference. */
        ignore: z.boolean().optional(),
      })
      .strict()
      .optional(),
    attestations: z.array(attestationRequirementSchema).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (!e.signatures && !e.attestations?.length) ctx.addIssue({ code: 'custom', message: 'an entry must require signatures and/or attestations' });
    const sigSigners = (e.signatures?.allOf?.length ?? 0) + (e.signatures?.anyOf?.length ?? 0);
    e.attestations?.forEach((a, i) => {
      if (!a.signers && sigSigners === 0) ctx.addIssue({ code: 'custom', path: ['attestations', i, 'signers'], message: 'name the signers (the entry has no signature signers to default to)' });
    });
  });
export type PolicyEntrySpec = z.infer<typeof policyEntrySchema>;

export const policySchema = z
  .object({
    version: z.literal(1).optional(),
    /** Default trusted_root.json for keyless signers (default: the public-good root built in). */
    trustedRoot: z.string().min(1).optional(),
    policies: z.array(policyEntrySchema).min(1),
  })
  .strict();
export type PolicySpec = z.infer<typeof policySchema>;
