import { AirlockError } from '../errors.js';
import { type Digest, isDigest } from '../digest/digest.js';
import { quote, shorten } from '../util/quote.js';

/**
 * A registry reference, normalised the way docker does:
 * `nginx` → `docker.io/library/nginx:latest`, `user/app` → `docker.io/user/app`,
 * `index.docker.io/x` → `docker.io/x`. A first path component is a registry host when it contains
 * `.` or `:`, or is `localhost`.
 */
export interface ImageReference {
  /** Registry host as written by the user (normalised for docker.io), with port if any. */
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export const DOCKER_HUB = 'docker.io';
/** The host actually serving Docker Hub's registry API. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const REPO_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

function bad(input: string, why: string): AirlockError {
  return new AirlockError('BAD_REFERENCE', `invalid image reference ${quote(input)}: ${why}`, {
    hint: 'use HOST[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST], e.g. registry.example.com/team/app:1.2',
  });
}

/**
 * A name without `/` that can only be a registry host: an IP address (with or without a port),
 * `localhost[:PORT]`, `[v6]`, or a dotted name with a port. Docker Hub repository names never
 * contain `:` and official images have no dots, so `host.example` alone is a host as well.
 */
function looksLikeHost(name: string): boolean {
  if (name.startsWith('[')) return true;
  const m = /^([^:]+)(?::(\d+))?$/.exec(name);
  if (!m) return false;
  const host = m[1]!;
  if (host === 'localhost') return true;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(host)) return true;
  // host.example:5000, or host.example (a last label of letters, like a top-level domain)
  return m[2] !== undefined ? host.includes('.') : /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}$/i.test(host);
}

export function parseReference(input: string, opts: { defaultTag?: string | false } = {}): ImageReference {
  const s = input.trim();
  if (s === '') throw bad(input, 'it is empty');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw bad(input, `${quote(d)} is not a sha256/sha512 digest`);
    digest = d;
    rest = rest.slice(0, at);
  }
  // `127.0.0.1:5000` or `registry.local`: docker would read a Docker Hub image named after the
  // host; nobody means that. The repository is missing.
  if (!rest.includes('/') && looksLikeHost(rest)) {
    throw new AirlockError('BAD_REFERENCE', `invalid image reference ${quote(input)}: the repository is missing (${rest === s ? 'that is' : `${quote(rest)} is`} a registry host)`, {
      hint: `name a repository on that host: HOST[:PORT]/REPOSITORY[:TAG], e.g. ${shorten(rest, 100)}/team/app:1.0`,
    });
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(input, `${quote(tag)} is not a valid tag`);
  }
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      if (!HOST_RE.test(first)) throw bad(input, `${quote(first)} is not a valid registry host`);
      registry = first;
      repository = rest.slice(slash + 1);
    } else if (first !== first.toLowerCase()) {
      throw bad(input, 'repository names must be lowercase');
    }
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (repository === '') throw bad(input, 'the repository is missing');
  if (!REPO_RE.test(repository)) {
    throw bad(input, `${quote(repository)} is not a valid repository (lowercase letters, digits, . _ - separated by /)`);
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (repository.length + registry.length + 1 > 255) throw bad(input, 'the name is longer than 255 characters');
  const def = opts.defaultTag === undefined ? 'latest' : opts.defaultTag;
  if (!tag && !digest && def) tag = def;
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The full name `registry/repository` (what cosign puts in `docker-reference`). */
export function repositoryName(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`;
}

export function formatReference(ref: ImageReference): string {
  let s = repositoryName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** The host to talk HTTP to (Docker Hub's API lives on another host). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

export function withTag(ref: ImageReference, tag: string | undefined): ImageReference {
  const { digest: _d, tag: _t, ...base } = ref;
  return tag ? { ...base, tag } : { ...base };
}

export function withDigest(ref: ImageReference, digest: Digest): ImageReference {
  return { registry: ref.registry, repository: ref.repository, digest };
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}
