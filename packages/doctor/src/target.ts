import { AirlockError, apiHost, formatReference, type ImageReference, parseReference } from '@airlock/oci';

/** What `airlock doctor` looks at: a registry host, and an image in it when one was named. */
export interface Target {
  /** As typed (or taken from the environment). */
  input: string;
  /** Registry as credentials and references name it (docker.io for Docker Hub). */
  registry: string;
  /** Host[:port] actually spoken to (registry-1.docker.io for Docker Hub). */
  host: string;
  /** Host name or IP without port or brackets, for DNS and certificate checks. */
  hostname: string;
  port: number;
  image?: ImageReference;
}

const USAGE_HINT = 'name a registry or an image: airlock doctor registry.local:5000 or airlock doctor registry.local:5000/team/app:1.4';

function hostParts(host: string): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  const hostname = (m?.[1] ?? host).replace(/^\[|\]$/g, '');
  return { hostname, port: m?.[2] ? Number(m[2]) : 443 };
}

/** A first component that names a registry rather than a Docker Hub repository (docker's rule). */
const looksLikeHost = (s: string): boolean => s.includes('.') || s.includes(':') || s === 'localhost' || s.startsWith('[');

/**
 * `HOST[:PORT]`, or an image `HOST[:PORT]/REPO[:TAG][@DIGEST]` (docker:// and https:// prefixes
 * accepted). Without input: $AIRLOCK_REGISTRY, else $CI_REGISTRY. Bad input is a usage error (exit 2).
 */
export function parseTarget(raw: string | undefined, env: NodeJS.ProcessEnv = process.env): Target {
  const input = (raw ?? env.AIRLOCK_REGISTRY ?? env.CI_REGISTRY ?? '').trim();
  if (!input) throw new AirlockError('USAGE', 'nothing to check', { hint: USAGE_HINT });
  if (/^oci:/.test(input)) {
    throw new AirlockError('BAD_INPUT', `"${input}" is an OCI layout: doctor checks registries`, { hint: USAGE_HINT });
  }
  const s = input.replace(/^(docker|https?):\/\//, '').replace(/\/+$/, '').replace(/\/v2$/, '');
  const slash = s.indexOf('/');
  if (slash < 0 && looksLikeHost(s)) {
    // Validated as the registry part of a reference, so hosts are judged by one rule.
    const { registry } = parseReference(`${s}/doctor`);
    return { input, registry, host: apiHost(registry), ...hostParts(apiHost(registry)) };
  }
  const image = parseReference(s);
  return { input, registry: image.registry, host: apiHost(image.registry), ...hostParts(apiHost(image.registry)), image };
}

export function imageName(t: Target): string {
  return t.image ? formatReference(t.image) : t.registry;
}
