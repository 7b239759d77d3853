/**
 * Policy entry matching: globs on REGISTRY/REPOSITORY (or oci:DIR), `*` one path component, `**`
 * anything, `?` one character.
 */

/** An entry's `match`, one glob or several, as a list. */
export const globsOf = (m: string | string[]): string[] => (Array.isArray(m) ? m : [m]);

/** `*` matches within one path component, `**` across components (`a/**` and `**\/b` included), `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/** Write a glob's registry the way image names are normalised (index.docker.io → docker.io). */
function normaliseGlob(g: string): string {
  return g.replace(/^(index\.docker\.io|registry-1\.docker\.io)(?=\/|$)/, 'docker.io');
}

export function globMatches(glob: string, name: string): boolean {
  return globToRegExp(normaliseGlob(glob)).test(name);
}

/** The first entry whose globs match `name` (REGISTRY/REPOSITORY, or oci:DIR for layouts). */
export function matchEntry<T extends { match: string | string[] }>(entries: readonly T[], name: string): { entry: T; index: number } | undefined {
  for (const [index, entry] of entries.entries()) {
    if (globsOf(entry.match).some((g) => globMatches(g, name))) return { entry, index };
  }
  return undefined;
}
