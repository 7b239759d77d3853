/**
 * Image references as cosign names them. cosign writes `critical.identity.docker-reference` as
 * go-containerregistry's Repository.Name(): Docker Hub becomes `index.docker.io`, single-name Hub
 * repositories get `library/`, tags and digests are dropped.
 */
import { AirlockCosignError } from './errors.js';

export interface ParsedReference {
  /** e.g. `index.docker.io`, `ghcr.io`, `localhost:5000` */
  registry: string;
  /** e.g. `library/alpine` */
  repository: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_REGISTRY = 'index.docker.io';
const REPO_RE = /^[a-z0-9_\-./]+$/;

export function parseReference(ref: string): ParsedReference {
  const bad = (why: string): never => {
    throw new AirlockCosignError('INVALID_INPUT', `invalid image reference "${ref}": ${why}`, 'use registry/repository[:tag][@sha256:digest]');
  };
  let rest = ref.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) bad('malformed digest');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) bad('malformed tag');
  }
  let registry = '';
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':')) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === '' || registry === 'docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository || !REPO_RE.test(repository)) bad('repository must be lowercase letters, digits, and _ - . /');
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The `docker-reference` cosign writes for an image: registry/repository, no tag or digest. */
export function cosignDockerReference(ref: string): string {
  const p = parseReference(ref);
  return `${p.registry}/${p.repository}`;
}

/** How a signed `docker-reference` is matched against the reference the user expects. */
export interface IdentityPolicy {
  /**
   * The reference the signature must name. Compared by repository (Docker Hub names normalised);
   * if both sides carry a tag, the tags must be equal too.
   */
  expectedReference?: string;
  /**
   * Prefix rewrites applied to the signed reference before comparing, for images mirrored under
   * another name: `[from, to]` turns `from/...` into `to/...` (e.g. `['index.docker.io/library',
   * 'mirror.internal/library']`). A prefix matches whole path components only.
   */
  rewrite?: ReadonlyArray<readonly [string, string]>;
}

function rewriteOnce(ref: string, from: string, to: string): string | undefined {
  if (ref === from) return to;
  for (const sep of ['/', ':', '@']) {
    if (ref.startsWith(from + sep)) return to + ref.slice(from.length);
  }
  return undefined;
}

function safeParse(ref: string): ParsedReference | undefined {
  try {
    return parseReference(ref);
  } catch {
    return undefined;
  }
}

/** True if the signed docker-reference satisfies the policy. */
export function identityMatches(signedReference: string, policy: IdentityPolicy): boolean {
  if (policy.expectedReference === undefined) return true;
  const expected = safeParse(policy.expectedReference);
  if (!expected) return false;
  const candidates = new Set<string>([signedReference]);
  const normalised = safeParse(signedReference);
  if (normalised) candidates.add(`${normalised.registry}/${normalised.repository}${normalised.tag ? `:${normalised.tag}` : ''}`);
  for (const [from, to] of policy.rewrite ?? []) {
    for (const c of [...candidates]) {
      const r = rewriteOnce(c, from, to);
      if (r !== undefined) candidates.add(r);
    }
  }
  for (const c of candidates) {
    const got = safeParse(c);
    if (!got) continue;
    if (got.registry !== expected.registry || got.repository !== expected.repository) continue;
    if (got.tag !== undefined && expected.tag !== undefined && got.tag !== expected.tag) continue;
    return true;
  }
  return false;
}
