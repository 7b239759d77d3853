import { AirlockError } from '../errors.js';
import { parseReference, repositoryName } from './reference.js';
import { quote } from '../util/quote.js';

/**
 * Name mapping for the private registry: where an image goes under `--to PREFIX` or
 * `--rewrite OLD=NEW`. Mirror, verify (identity rewrite), bundle load, sync and deploy-image all map
 * names through here.
 */

export interface Rewrite {
  from: string;
  to: string;
}

export function parseRewrite(s: string): Rewrite {
  const i = s.indexOf('=');
  if (i <= 0 || i === s.length - 1) throw new AirlockError('USAGE', `invalid --rewrite ${quote(s)}: expected OLD=NEW`, { hint: 'write OLD=NEW, e.g. gcr.io/acme=registry.local/acme' });
  return { from: s.slice(0, i).replace(/\/+$/, ''), to: s.slice(i + 1).replace(/\/+$/, '') };
}

/**
 * Work out a destination for a source name:
 * - `--rewrite OLD=NEW`: replace a leading OLD (at a path boundary) of the normalised name (the
 *   first rewrite that matches wins);
 * - `--to PREFIX`: otherwise — for names no rewrite matches — drop the source registry host and
 *   put the repository under PREFIX.
 * Rewrites come first, --to is the fallback. The tag (or digest) of the source is kept.
 */
export function destinationFor(source: string, opts: { to?: string; rewrites: Rewrite[] }, where: string): string {
  const ref = parseReference(source);
  const name = repositoryName(ref);
  const suffix = ref.tag ? `:${ref.tag}` : '';
  const digestSuffix = ref.digest && !ref.tag ? `@${ref.digest}` : '';
  for (const rw of opts.rewrites) {
    const from = normaliseName(rw.from);
    if (name === from || name.startsWith(`${from}/`)) return `${rw.to}${name.slice(from.length)}${suffix}${digestSuffix}`;
  }
  if (opts.to) return `${opts.to.replace(/\/+$/, '')}/${ref.repository}${suffix}${digestSuffix}`;
  throw new AirlockError('USAGE', `${where}: no destination for ${quote(source)}`, {
    hint: 'give a DESTINATION on the line, or --to PREFIX, or a --rewrite that matches it',
  });
}

/**
 * Normalise the OLD side of a rewrite: a prefix with a host is used as written (index.docker.io →
 * docker.io); one without a host is on Docker Hub (bitnami → docker.io/bitnami).
 */
export function normaliseName(prefix: string): string {
  const slash = prefix.indexOf('/');
  const first = slash < 0 ? prefix : prefix.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost';
  if (!hasHost) return `docker.io/${prefix}`;
  return prefix.replace(/^(index\.docker\.io|registry-1\.docker\.io)(?=\/|$)/, 'docker.io');
}

