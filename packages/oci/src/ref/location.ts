import { AirlockError } from '../errors.js';
import { type ImageReference, parseReference, isValidTag } from './reference.js';
import { quote } from '../util/quote.js';

/** Where images come from or go to: a registry repository or an OCI image layout directory. */
export type Location =
  | { readonly kind: 'registry'; readonly ref: ImageReference; readonly input: string }
  | { readonly kind: 'layout'; readonly dir: string; readonly tag?: string; readonly input: string };

/**
 * Parse `oci:DIR[:TAG]`, `docker://REF` or a plain registry reference. As in skopeo, the layout
 * directory may not contain `:` (the first one separates the tag).
 */
export function parseLocation(input: string, opts: { defaultTag?: string | false } = {}): Location {
  if (input.startsWith('oci:')) {
    const body = input.slice(4);
    const colon = body.indexOf(':');
    const dir = colon >= 0 ? body.slice(0, colon) : body;
    const tag = colon >= 0 ? body.slice(colon + 1) : undefined;
    if (dir === '') {
      throw new AirlockError('BAD_REFERENCE', `invalid OCI layout ${quote(input)}: the directory is missing`, {
        hint: 'write oci:DIR or oci:DIR:TAG',
      });
    }
    if (tag !== undefined && !isValidTag(tag)) {
      throw new AirlockError('BAD_REFERENCE', `invalid OCI layout ${quote(input)}: ${quote(tag)} is not a valid tag`, {
        hint: 'tags are up to 128 characters of letters, digits, _ . -',
      });
    }
    return { kind: 'layout', dir, ...(tag ? { tag } : {}), input };
  }
  if (input.startsWith('oci-archive:') || input.startsWith('docker-archive:') || input.startsWith('dir:')) {
    throw new AirlockError('BAD_REFERENCE', `unsupported transport in ${quote(input)}`, {
      hint: 'use a registry reference or oci:DIR[:TAG]',
    });
  }
  const ref = parseReference(input.startsWith('docker://') ? input.slice('docker://'.length) : input, opts);
  return { kind: 'registry', ref, input };
}
