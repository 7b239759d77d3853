import { AirlockError } from '../errors.js';
import { type ImageReference, formatReference, parseReference, isValidTag } from './reference.js';
import { quote } from '../util/quote.js';

/**
 * Where images come from or go to: a registry repository, an OCI image layout directory, or a
 * `docker save` archive. A docker-archive `ref` is a full image name with a tag
 * (`docker.io/library/nginx:1.27`, as in the archive's RepoTags) or, as a source, `@N` (the N-th
 * image, from 0).
 */
export type Location =
  | { readonly kind: 'registry'; readonly ref: ImageReference; readonly input: string }
  | { readonly kind: 'layout'; readonly dir: string; readonly tag?: string; readonly input: string }
  | { readonly kind: 'docker-archive'; readonly file: string; readonly ref?: string; readonly input: string };

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
  if (input.startsWith('docker-archive:')) return parseDockerArchive(input);
  if (input.startsWith('oci-archive:') || input.startsWith('dir:')) {
    throw new AirlockError('BAD_REFERENCE', `unsupported transport in ${quote(input)}`, {
      hint: 'use a registry reference, oci:DIR[:TAG] or docker-archive:FILE[:REF]',
    });
  }
  const ref = parseReference(input.startsWith('docker://') ? input.slice('docker://'.length) : input, opts);
  return { kind: 'registry', ref, input };
}

/**
 * `docker-archive:FILE[:REF]`, as skopeo writes it: the first `:` after the file ends it. REF is an
 * image name (a missing tag is `latest`; no digest, as `docker load` keeps names only) or `@N`.
 */
function parseDockerArchive(input: string): Location {
  const body = input.slice('docker-archive:'.length);
  const colon = body.indexOf(':');
  const file = colon >= 0 ? body.slice(0, colon) : body;
  const raw = colon >= 0 ? body.slice(colon + 1) : undefined;
  if (file === '') {
    throw new AirlockError('BAD_REFERENCE', `invalid docker archive "${input}": the file is missing`, { hint: 'write docker-archive:FILE or docker-archive:FILE:NAME:TAG' });
  }
  if (raw === undefined || raw === '') return { kind: 'docker-archive', file, input };
  if (raw.startsWith('@')) {
    if (!/^@\d{1,6}$/.test(raw)) {
      throw new AirlockError('BAD_REFERENCE', `invalid docker archive "${input}": "${raw}" is not an image index`, { hint: 'write @0 for the first image in the archive, @1 for the second…' });
    }
    return { kind: 'docker-archive', file, ref: raw, input };
  }
  const ref = parseReference(raw);
  if (ref.digest) {
    throw new AirlockError('BAD_REFERENCE', `invalid docker archive "${input}": a docker archive names images by tag, not digest`, { hint: 'write docker-archive:FILE:NAME:TAG' });
  }
  return { kind: 'docker-archive', file, ref: formatReference(ref), input };
}

/** The tag a location names, if any (a docker archive's image name gives its tag). */
export function tagOfLocation(loc: Location): string | undefined {
  switch (loc.kind) {
    case 'layout':
      return loc.tag;
    case 'registry':
      return loc.ref.tag;
    case 'docker-archive':
      return loc.ref && !loc.ref.startsWith('@') ? parseReference(loc.ref).tag : undefined;
  }
}

/** The full image name (`host/repo:tag`) a location names, if it names one: what a docker archive records. */
export function imageNameOfLocation(loc: Location): string | undefined {
  switch (loc.kind) {
    case 'layout':
      return undefined;
    case 'registry':
      return loc.ref.tag ? formatReference({ registry: loc.ref.registry, repository: loc.ref.repository, tag: loc.ref.tag }) : undefined;
    case 'docker-archive':
      return loc.ref && !loc.ref.startsWith('@') ? loc.ref : undefined;
  }
}

/** How a location is shown in messages and reports, with the tag it ends up with. */
export function describeLocation(loc: Location, tag?: string): string {
  switch (loc.kind) {
    case 'layout': {
      const t = tag ?? loc.tag;
      return `oci:${loc.dir}${t ? `:${t}` : ''}`;
    }
    case 'registry':
      return formatReference(tag && !loc.ref.tag ? { ...loc.ref, tag } : loc.ref);
    case 'docker-archive': {
      const r = loc.ref ?? tag;
      return `docker-archive:${loc.file}${r ? `:${r}` : ''}`;
    }
  }
}
