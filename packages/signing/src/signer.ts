import type { KeyObject } from 'node:crypto';
import { buildImageBundle, signImageKeyless, type KeylessOptions } from '@airlock/cosign';
import type { Statement } from '@airlock/cosign';

/** How images get signed: with a key, or keyless through Fulcio (and Rekor). */
export type Signer =
  | { kind: 'key'; privateKey: KeyObject }
  | { kind: 'keyless'; options: KeylessOptions };

/** A Sigstore bundle (JSON object) over an in-toto statement about a manifest digest. */
export async function bundleFor(signer: Signer, input: { manifestDigest: string; name: string; predicateType?: string; predicate?: unknown }): Promise<{ bundle: unknown; statement: Statement }> {
  if (signer.kind === 'key') return buildImageBundle({ privateKey: signer.privateKey, ...input });
  return signImageKeyless({ ...signer.options, ...input });
}
